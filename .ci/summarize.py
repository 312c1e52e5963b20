#!/usr/bin/env python3
"""Counts TAP test cases in meson's testlog.json files and prints the closing
line 'N passed, N failed, N skipped', summed over every file given (the plain
and the sanitizer build). With more than one file, a line per file comes
first ('  FILE: passed N, failed N, skipped N', worded differently so the
last line is the only one in the closing format). A test program that failed
without a 'not ok' line (crash, timeout) counts as one failure. gst-check
programs are counted from their 'Checks: C, Failures: F, Errors: E' lines."""
import json
import re
import sys


def count(path):
    passed = failed = skipped = 0
    with open(path, encoding="utf-8") as f:
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
    return passed, failed, skipped


totals = [0, 0, 0]
for path in sys.argv[1:]:
    try:
        p, f, s = count(path)
    except OSError as e:
        # a build that never got to run its tests is one failure
        print(f"  {path}: not readable ({e.strerror}), counted as 1 failure")
        p, f, s = 0, 1, 0
    else:
        if len(sys.argv) > 2:
            print(f"  {path}: passed {p}, failed {f}, skipped {s}")
    totals = [a + b for a, b in zip(totals, (p, f, s))]
print(f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
