# Shared by the studio tests: starts `vibevoice studio` on 127.0.0.1 (a free
# port), waits for the URL it prints, and stops it. Environment from meson:
# VV_TOOL, VV_TINY_MODEL, VV_EXAMPLES_DIR, GST_PLUGIN_PATH.
import json
import os
import re
import select
import signal
import subprocess
import time
import urllib.error
import urllib.request


class Server:
    def __init__(self, *args, voices=None):
        self.tool = os.environ["VV_TOOL"]
        cmd = [self.tool, "studio", "--port", "0",
               "--model", os.environ["VV_TINY_MODEL"],
               "--voices", voices or os.environ["VV_EXAMPLES_DIR"], *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.log = []
        deadline = time.monotonic() + 60
        self.url = None
        buf = b""
        while self.url is None:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise RuntimeError("the server did not print its URL: %s"
                                   % (b"".join(self.log) + buf).decode(errors="replace"))
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                buf += chunk
                m = re.search(rb"(http://127\.0\.0\.1:\d+/)", buf)
                if m:
                    self.url = m.group(1).decode()
        self.log.append(buf)
        self.port = int(self.url.rsplit(":", 1)[1].strip("/"))

    def stop(self):
        """SIGTERM, as a user's Ctrl-C; returns the exit status and the log."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rest = self.proc.stdout.read()
        self.log.append(rest)
        return self.proc.returncode, b"".join(self.log).decode(errors="replace")

    def request(self, method, path, body=None, headers=None, timeout=60):
        """(status, parsed JSON or raw bytes, headers)"""
        data = body
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url.rstrip("/") + path, data=data, method=method,
                                     headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw, h = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, raw, h = e.code, e.read(), e.headers
        if h.get("Content-Type", "").startswith("application/json"):
            return status, json.loads(raw), h
        return status, raw, h


class Tap:
    """TAP output, one line per check."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, *diag):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, name), flush=True)
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, name), flush=True)
            for d in diag:
                for line in str(d).splitlines():
                    print("# " + line)
        return cond

    def skip(self, name, why):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, why), flush=True)

    def done(self):
        print("1..%d" % self.n, flush=True)
        return 1 if self.failed else 0
