#!/usr/bin/env python3
"""Wall time and peak memory of `qrscan scan` on degenerate and adversarial images (issues 14, 24).

A few-kilobyte PNG can declare millions of pixels in one row or column; every decode step must
cost a constant times the pixel count whatever the shape, so each of these returns within the
budget plus a small margin. The family: 1 x N, N x 1, 2 x N, N x 2 and 40 x N (the smallest side
the local-average binarizer takes on) up to the default --max-pixels of 40 MP, and the largest
shapes at and just past the 100:1 aspect ratio `decode::load` accepts (632 x 63,200 and its
mirror, 40 MP: a real decode), in plain white (the issue's file) and in bars of 1:1:3:1:1 runs
(what the finder-pattern scan looks for, so the detectors have candidates to follow). Shapes
under 7 pixels on a side answer 1008 and those past 100:1 answer 1006 from the header; a square
6324 x 6324 (40 MP) shows what any image at the pixel limit costs, whatever its shape.

The adversarial family (issue 24) is made of what the detectors look for, as squares of 1, 4,
16 and 40 MP: fields of finder-pattern-like targets (7 modules, at 1 to 3 pixels a module, a
target every 9 to 27 pixels: 12,000 a megapixel), of alignment-like targets, timing-like stripes,
checkerboards, and rows of random 1:1:3:1:1 runs. Each must also return within its budget plus
100 ms, and within the README's memory formula.

    python3 benches/degenerate.py            # builds release first; both families, 200 ms
    python3 benches/degenerate.py --no-build --budget 200ms,2s --family adversarial

Prints one row per image and budget: its shape, file size, the slowest of the runs, the API code
of the last run (1008 no code, 1009 unreadable, 1006 refused; `kill` when it was killed), its peak
RSS (GNU time's), the formula's figure, and whether it returned within the budget plus 100 ms and
the formula. Exits 1 if any did not. Images are written to a temporary folder and removed
afterwards.
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
# The README's memory formula for one decode of a grey PNG, nothing else buffered: the process
# (`qrscan scan`: 10 MiB), 1.5 bytes a pixel of the image (the table rounds the 1.43-1.47 measured
# at 40 MP to 1.4), and up to 12 bytes a pixel of its
# working view (the image shrunk by a whole factor to at most 1600 pixels on its long side: its
# copies, binarizations and crops).
BASE_MIB = 10
BYTES_PER_PIXEL = 1.5
VIEW_BYTES_PER_PIXEL = 12
WORKING_SIDE = 1600


def formula_mib(width, height):
    factor = -(-max(width, height) // WORKING_SIDE)
    view = -(-width // factor) * -(-height // factor)
    return BASE_MIB + (BYTES_PER_PIXEL * width * height + VIEW_BYTES_PER_PIXEL * view) / 2**20


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


def shape_images():
    """(name, a function making the PNG) for each thin or elongated shape: made when run, so
    the images are not all held at once."""
    def column_bars(width, height):
        # Bars down each column: every row is one level of the pattern.
        return png(width, height, b"".join(b"\0" + bytes([v]) * width for v in bars(height)))

    for width, height in shapes():
        yield (f"{width}x{height} white",
               lambda w=width, h=height: png(w, h, (b"\0" + b"\xff" * w) * h))
        if width >= height:
            # Bars along each row, the same in every row.
            yield (f"{width}x{height} bars",
                   lambda w=width, h=height: png(w, h, (b"\0" + bars(w)) * h))
        else:
            yield f"{width}x{height} bars", lambda w=width, h=height: column_bars(w, h)


def tiled(width, height, tile):
    """An image of `tile` (rows of equal-length bytes) repeated across and down, cut to size."""
    rows = []
    for line in tile:
        repeated = (line * (width // len(line) + 1))[:width]
        rows.append(b"\0" + repeated)
    return b"".join(rows[y % len(rows)] for y in range(height))


def square_pattern(rings, module, gap, dark=0, light=255, background=160):
    """A tile of one concentric target: `rings` alternating from dark outward-in (a finder
    pattern is 7 modules: dark 1, light 1, dark 3), `module` pixels a module, `gap` pixels of
    `background` after it across and down."""
    side = len(rings) * 2 - 1
    # The colour of module (i, j): which ring it is in, counting from the outside.
    def level(i, j):
        ring = min(i, j, side - 1 - i, side - 1 - j)
        return dark if rings[min(ring, len(rings) - 1)] else light
    tile = []
    for j in range(side):
        line = b"".join(bytes([level(i, j)]) * module for i in range(side)) + bytes([background]) * gap
        tile += [line] * module
    tile += [bytes([background]) * (side * module + gap)] * gap
    return tile


FINDER_RINGS = [1, 0, 1, 1]      # dark, light, dark, dark (centre 3x3): 7 modules
ALIGNMENT_RINGS = [1, 0, 1]      # dark, light, dark centre: 5 modules


def random_runs(width, height, seed):
    """Rows of random 1:1:3:1:1 runs at random scales and offsets: 64 different rows, each row
    of the image one of them at random, so every strategy's scan finds candidates everywhere."""
    import random
    rng = random.Random(seed)
    lines = []
    for _ in range(64):
        line = bytearray()
        while len(line) < width:
            unit = rng.choice([1, 1, 2, 3])
            for value, run in [(0, 1), (255, 1), (0, 3), (255, 1), (0, 1), (255, rng.randint(1, 3))]:
                line += bytes([value]) * (run * unit)
        lines.append(b"\0" + bytes(line[:width]))
    return b"".join(lines[rng.randrange(64)] for _ in range(height))


def adversarial(sides):
    """The adversarial-structure family (issue 24): images made of what the detectors look for,
    at each square side in `sides`."""
    for side in sides:
        mp = f"{side * side / 1e6:.0f}MP"
        for module, gap in [(1, 2), (1, 4), (2, 4), (3, 6)]:
            yield (f"{mp} finders m{module}+{gap}",
                   lambda s=side, m=module, g=gap: png(s, s, tiled(s, s, square_pattern(FINDER_RINGS, m, g))))
        for module, gap in [(1, 2), (2, 3)]:
            yield (f"{mp} alignment m{module}+{gap}",
                   lambda s=side, m=module, g=gap: png(s, s, tiled(s, s, square_pattern(ALIGNMENT_RINGS, m, g))))
        # Timing-like: rows of alternating modules, every seventh row dark (a grid of timing
        # patterns, as between the finder patterns of a symbol).
        for module in [1, 2]:
            line = (bytes([0]) * module + bytes([255]) * module)
            tile = [line] * (6 * module) + [bytes([0]) * (2 * module)] * module
            yield (f"{mp} timing m{module}",
                   lambda s=side, t=tile: png(s, s, tiled(s, s, t)))
        for module in [1, 2, 4]:
            dark, light = bytes([0]) * module, bytes([255]) * module
            tile = [dark + light] * module + [light + dark] * module
            yield (f"{mp} checker m{module}",
                   lambda s=side, t=tile: png(s, s, tiled(s, s, t)))
        yield (f"{mp} random runs", lambda s=side: png(s, s, random_runs(s, s, seed=s)))


def timed_run(command, timeout):
    """Runs `command` under GNU time: (its stdout, or None when it was killed at `timeout`
    seconds; its peak RSS in MiB; its wall time in ms). Not `wait4`'s own figure: Linux carries
    the parent's high-water mark into a child across fork and exec, so this script's would
    show in every row."""
    with tempfile.NamedTemporaryFile("r") as report:
        started = time.monotonic()
        process = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", report.name] + command,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        try:
            out, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.communicate()
            out = None
        wall = (time.monotonic() - started) * 1000
        kib = report.read().strip().splitlines()
        rss = int(kib[-1]) / 1024 if kib and kib[-1].isdigit() else float("nan")
    return out, rss, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="use the existing release binary")
    parser.add_argument("--budget", default="200ms",
                        help="comma-separated budgets, each image is run under each (200ms,2s)")
    parser.add_argument("--runs", type=int, default=1, help="runs per image; the slowest is shown")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a run is killed")
    parser.add_argument("--binary", help="time this qrscan (implies --no-build)")
    parser.add_argument("--family", choices=["shapes", "adversarial", "all"], default="all",
                        help="thin and elongated shapes, or images made of finder-like structure")
    parser.add_argument("--sides", default="1000,2000,4000,6324",
                        help="square sides of the adversarial family (6324: 40 MP)")
    parser.add_argument("--only", help="run only the images whose name contains this")
    args = parser.parse_args()
    budgets = args.budget.split(",")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = args.binary or os.path.join(target, "release", "qrscan")
    if not (args.no_build or args.binary):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    family = []
    if args.family in ("shapes", "all"):
        family += list(shape_images())
    if args.family in ("adversarial", "all"):
        family += list(adversarial([int(s) for s in args.sides.split(",")]))
    if args.only:
        family = [(name, make) for name, make in family if args.only in name]
    print(f"qrscan scan --jobs 1 --decode-budget B FILE; within: at most B + 100 ms; slowest of {args.runs}")
    print(f"peak RSS against the README's formula for a grey PNG: {BASE_MIB} MiB + {BYTES_PER_PIXEL} bytes a "
          f"pixel + {VIEW_BYTES_PER_PIXEL} a pixel of the working view")
    print(f"{'image':<26} {'bytes':>9} {'budget':>7} {'ms':>8} {'code':>6} {'MiB':>6} {'formula':>7}  within")
    failed = 0
    with tempfile.TemporaryDirectory() as folder:
        for name, make in family:
            data = make()
            width, height = struct.unpack(">II", data[16:24])
            allowed = formula_mib(width, height)
            path = os.path.join(folder, name.replace(" ", "-") + ".png")
            with open(path, "wb") as f:
                f.write(data)
            for budget in budgets:
                budget_ms = float(budget[:-2]) if budget.endswith("ms") else float(budget.removesuffix("s")) * 1000
                slowest, status, peak = 0.0, None, 0.0
                for _ in range(args.runs):
                    out, rss, wall = timed_run(
                        [binary, "scan", "--jobs", "1", "--decode-budget", budget, path], args.timeout)
                    if out is None:
                        status = "kill"
                    else:
                        found = re.search(rb'"code":\s*(\d+)', out)
                        status = found.group(1).decode() if found else "none"
                    slowest, peak = max(slowest, wall), max(peak, rss)
                ok = slowest <= budget_ms + 100 and status != "kill" and peak <= allowed
                failed += not ok
                print(f"{name:<26} {len(data):>9} {budget:>7} {slowest:>8.0f} {status!s:>6} {peak:>6.0f} "
                      f"{allowed:>7.0f}  {'yes' if ok else 'NO'}", flush=True)
            os.remove(path)
    print(f"{failed} over the limits" if failed else "all within the limits")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
