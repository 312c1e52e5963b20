#!/usr/bin/env python3
"""Counts TAP test cases in meson's testlog.json and prints the closing line
'N passed, N failed, N skipped'. A test program that failed without a
'not ok' line (crash, timeout) counts as one failure. gst-check programs
are counted from their 'Checks: C, Failures: F, Errors: E' lines."""
import json
import re
import sys

passed = failed = skipped = 0
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        t = json.loads(line)
        out = t.get("stdout") or ""
        ok = len(re.findall(r"^ok \d+(?! .*# [Ss][Kk][Ii][Pp])", out, re.M))
        sk = len(re.findall(r"^ok \d+.*# [Ss][Kk][Ii][Pp]", out, re.M))
        bad = len(re.findall(r"^not ok \d+", out, re.M))
        result = t.get("result")
        if ok + bad + sk == 0:
            # gst-check programs (exit-code protocol) print
            # "N%: Checks: C, Failures: F, Errors: E" per suite.
            for c, f_, e in re.findall(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)", out):
                ok += int(c) - int(f_) - int(e)
                bad += int(f_) + int(e)
        if result == "SKIP" and ok + bad + sk == 0:
            sk = 1
        if result not in ("OK", "SKIP", "EXPECTEDFAIL") and bad == 0:
            bad = 1
        passed += ok
        failed += bad
        skipped += sk
print(f"{passed} passed, {failed} failed, {skipped} skipped")
