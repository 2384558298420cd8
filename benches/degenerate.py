#!/usr/bin/env python3
"""Wall time of `qrscan scan --decode-budget 200ms` on degenerate image shapes (issue 14).

A few-kilobyte PNG can declare millions of pixels in one row or column; every decode step must
cost a constant times the pixel count whatever the shape, so each of these returns within the
budget plus a small margin. The family: 1 x N, N x 1, 2 x N, N x 2 and 40 x N (the smallest side
the local-average binarizer takes on) up to the default --max-pixels of 40 MP, and the largest
shapes at and just past the 100:1 aspect ratio `decode::load` accepts (632 x 63,200 and its
mirror, 40 MP: a real decode), in plain white (the issue's file) and in bars of 1:1:3:1:1 runs
(what the finder-pattern scan looks for, so the detectors have candidates to follow). Shapes
under 7 pixels on a side answer 1008 and those past 100:1 answer 1006 from the header; a square
6324 x 6324 (40 MP) shows what any image at the pixel limit costs, whatever its shape.

    python3 benches/degenerate.py            # builds release first
    python3 benches/degenerate.py --no-build --budget 200ms --runs 3

Prints one row per image: its shape, file size, the slowest of the runs, the API code of the last
run (1008 no code, 1006 refused; `kill` when it was killed), and whether it returned within the
budget plus 100 ms. Exits 1 if any did not. Images are written to
a temporary folder and removed afterwards.
"""

import argparse
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_PIXELS = 40_000_000


def png(width, height, raw):
    """An 8-bit grey PNG of `raw`: `height` rows, each a filter byte and `width` pixels."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def bars(length):
    """Dark-light runs of 1:1:3:1:1 (a finder pattern's cross-section) and a light gap, the
    run unit chosen so the pattern survives the working view's shrinking to 1600 pixels."""
    unit = max(1, length // 1600)
    pattern = bytes(v for value, run in [(0, 1), (255, 1), (0, 3), (255, 1), (0, 1), (255, 4)]
                    for v in [value] * (run * unit))
    return (pattern * (length // len(pattern) + 1))[:length]


def shapes():
    sizes = [1_000, 100_000, 1_000_000, 4_000_000, 8_000_000, 20_000_000, 40_000_000]
    for n in sizes:
        yield n, 1
        yield 1, n
    for n in sizes:
        if 2 * n <= MAX_PIXELS:
            yield n, 2
            yield 2, n
    for n in [100_000, 1_000_000]:
        yield n, 40
        yield 40, n
    for long in [63_200, 63_201]:
        yield long, 632
        yield 632, long
    yield 6324, 6324


def images():
    for width, height in shapes():
        yield f"{width}x{height} white", png(width, height, (b"\0" + b"\xff" * width) * height)
        if width >= height:
            # Bars along each row, the same in every row.
            yield f"{width}x{height} bars", png(width, height, (b"\0" + bars(width)) * height)
        else:
            # Bars down each column: every row is one level of the pattern.
            raw = b"".join(b"\0" + bytes([v]) * width for v in bars(height))
            yield f"{width}x{height} bars", png(width, height, raw)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="use the existing release binary")
    parser.add_argument("--budget", default="200ms")
    parser.add_argument("--runs", type=int, default=1, help="runs per image; the slowest is shown")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a run is killed")
    parser.add_argument("--binary", help="time this qrscan (implies --no-build)")
    args = parser.parse_args()
    if args.budget.endswith("ms"):
        budget_ms = float(args.budget[:-2])
    else:
        budget_ms = float(args.budget.removesuffix("s")) * 1000
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = args.binary or os.path.join(target, "release", "qrscan")
    if not (args.no_build or args.binary):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    limit_ms = budget_ms + 100
    print(f"qrscan scan --decode-budget {args.budget} FILE; limit {limit_ms:.0f} ms; slowest of {args.runs}")
    print(f"{'image':<24} {'bytes':>9} {'ms':>9} {'code':>6}  within")
    failed = 0
    with tempfile.TemporaryDirectory() as folder:
        for name, data in images():
            path = os.path.join(folder, name.replace(" ", "-") + ".png")
            with open(path, "wb") as f:
                f.write(data)
            slowest, status = 0.0, None
            for _ in range(args.runs):
                started = time.monotonic()
                try:
                    done = subprocess.run([binary, "scan", "--decode-budget", args.budget, path],
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                          timeout=args.timeout)
                    found = re.search(rb'"code":\s*(\d+)', done.stdout)
                    status = found.group(1).decode() if found else f"exit {done.returncode}"
                except subprocess.TimeoutExpired:
                    status = "kill"
                slowest = max(slowest, (time.monotonic() - started) * 1000)
            ok = slowest <= limit_ms and status != "kill"
            failed += not ok
            print(f"{name:<24} {len(data):>9} {slowest:>9.0f} {status!s:>6}  {'yes' if ok else 'NO'}",
                  flush=True)
            os.remove(path)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
