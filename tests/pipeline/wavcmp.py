#!/usr/bin/env python3
"""Small WAV helper for the pipeline tests (float32 or 16-bit PCM RIFF files,
read with the standard library only).

  wavcmp.py same A.wav B.wav            exit 0 if the sample data are identical
  wavcmp.py close A.wav B.wav TOL       exit 0 if max|a - b| <= TOL * (1 + max|a|)
  wavcmp.py info A.wav                  prints "rate channels bits samples"
  wavcmp.py zeros A.wav START N         exit 0 if samples [START, START+N) are all 0
  wavcmp.py parts OUT.wav A.wav zeros:N B.wav ...
                                        exit 0 if OUT's samples are exactly the
                                        concatenation of the parts
"""
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        sys.exit(f"{path}: not a RIFF/WAVE file")
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag, ch, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            fmt = (tag, ch, rate, bits)
        elif cid == b"data":
            payload = body
        pos += 8 + size + (size & 1)
    if fmt is None or payload is None:
        sys.exit(f"{path}: no fmt or data chunk")
    tag, ch, rate, bits = fmt
    if tag in (3, 0xFFFE) and bits == 32:
        n = len(payload) // 4
        samples = struct.unpack(f"<{n}f", payload[:4 * n])
    elif tag == 1 and bits == 16:
        n = len(payload) // 2
        samples = [s / 32768.0 for s in struct.unpack(f"<{n}h", payload[:2 * n])]
    else:
        sys.exit(f"{path}: unsupported format tag {tag}, {bits} bits")
    return rate, ch, bits, samples


def main():
    cmd = sys.argv[1]
    if cmd == "same":
        a, b = read(sys.argv[2]), read(sys.argv[3])
        if a[:3] != b[:3]:
            sys.exit(f"formats differ: {a[:3]} vs {b[:3]}")
        if len(a[3]) != len(b[3]):
            sys.exit(f"lengths differ: {len(a[3])} vs {len(b[3])} samples")
        diff = [i for i, (x, y) in enumerate(zip(a[3], b[3])) if x != y]
        if diff:
            i = diff[0]
            sys.exit(f"{len(diff)} samples differ, first at {i}: {a[3][i]!r} vs {b[3][i]!r}")
        print(f"identical: {len(a[3])} samples")
    elif cmd == "close":
        # close A B TOL: same format and length, max|a - b| <= TOL * (1 + max|a|)
        a, b, tol = read(sys.argv[2]), read(sys.argv[3]), float(sys.argv[4])
        if a[:3] != b[:3] or len(a[3]) != len(b[3]):
            sys.exit(f"formats or lengths differ: {a[:3]} {len(a[3])} vs {b[:3]} {len(b[3])}")
        if not a[3]:
            sys.exit("no samples")
        diff = max(abs(x - y) for x, y in zip(a[3], b[3]))
        bound = tol * (1 + max(abs(x) for x in a[3]))
        if not diff <= bound:
            sys.exit(f"max difference {diff:.3g} above {bound:.3g}")
        print(f"close: max difference {diff:.3g} (bound {bound:.3g}), {len(a[3])} samples")
    elif cmd == "info":
        rate, ch, bits, s = read(sys.argv[2])
        print(rate, ch, bits, len(s))
    elif cmd == "zeros":
        _, _, _, s = read(sys.argv[2])
        start, n = int(sys.argv[3]), int(sys.argv[4])
        seg = s[start:start + n]
        if len(seg) != n or any(x != 0.0 for x in seg):
            sys.exit(f"samples {start}..{start + n} are not all zero")
        print(f"{n} zero samples at {start}")
    elif cmd == "parts":
        out = read(sys.argv[2])[3]
        want = []
        for part in sys.argv[3:]:
            if part.startswith("zeros:"):
                want.extend([0.0] * int(part[6:]))
            else:
                want.extend(read(part)[3])
        if len(out) != len(want):
            sys.exit(f"length {len(out)} samples, parts give {len(want)}")
        diff = [i for i, (x, y) in enumerate(zip(out, want)) if x != y]
        if diff:
            sys.exit(f"{len(diff)} samples differ, first at {diff[0]}")
        print(f"identical to the parts: {len(out)} samples")
    else:
        sys.exit(f"unknown command {cmd}")


main()
