#!/usr/bin/env python3
"""Peak RSS of `qrscan scan --jobs 1` on every kind of PNG at the pixel limit, and on PNGs whose
metadata inflates to a gibibyte (issue 24).

Two tables. The first is the README's memory table for PNG: one 6324 x 6324 image (40 MP, the
default --max-pixels) of each kind, plain and Adam7-interlaced: grey at 1, 8 and 16 bits, grey
with alpha at 8 and 16, RGB at 8 and 16, RGBA at 8 and 16, and an 8-bit palette. Each is mostly
flat, as the README's measurements have always been: a light background (240, or 1 at one bit)
with one black square (1000 pixels a side), opaque. The second is the metadata family on a
1000 x 1000 grey PNG: an iCCP profile, a zTXt and a compressed iTXt text, each a zlib stream of
1 GiB of zeros (about 1 MB), and 8 MiB of eXIf, of tEXt and of an unknown ancillary chunk, each
read at the default --max-decode-memory and at 64 MiB.

    python3 benches/png_memory.py                 # builds release first
    python3 benches/png_memory.py --no-build      # or --binary PATH to measure another build

Peak RSS is `/usr/bin/time -f %M` (the kernel's high-water mark); the base is the same on a
64 x 64 PNG, and each row shows its peak over that base, in MiB and per pixel, and the API code
`qrscan scan` answered. Only the Python standard library is needed: the PNGs are written here
with zlib, interlacing included. Images go to a temporary folder and are removed afterwards.
"""

import argparse
import os
import re
import struct
import subprocess
import tempfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1 << 20
SIDE = 6324
SQUARE = (1000, 2000)  # the black square's first and past-last pixel, both ways

# (name, colour type, bit depth)
KINDS = [
    ("grey 1-bit", 0, 1),
    ("grey 8-bit", 0, 8),
    ("grey 16-bit", 0, 16),
    ("grey+alpha 8-bit", 4, 8),
    ("grey+alpha 16-bit", 4, 16),
    ("RGB 8-bit", 2, 8),
    ("RGB 16-bit", 2, 16),
    ("RGBA 8-bit", 6, 8),
    ("RGBA 16-bit", 6, 16),
    ("palette 8-bit", 3, 8),
]

# Adam7: first column, column step, first row, row step of each pass.
ADAM7 = [(0, 8, 0, 8), (4, 8, 0, 8), (0, 4, 4, 8), (2, 4, 0, 4), (0, 2, 2, 4), (1, 2, 0, 2), (0, 1, 1, 2)]
PLAIN = [(0, 1, 0, 1)]


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pixel(colour_type, depth, light):
    """One pixel's samples, as a list of levels at `depth`."""
    level = (240 if depth == 8 else 240 * 257 if depth == 16 else 1) if light else 0
    if colour_type == 3:
        return [0 if light else 1]  # palette index: entry 0 is the light grey, 1 black
    opaque = (1 << depth) - 1
    return {0: [level], 4: [level, opaque], 2: [level] * 3, 6: [level] * 3 + [opaque]}[colour_type]


def pack(samples, depth):
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    if depth == 8:
        return bytes(samples)
    bits = "".join(format(s, f"0{depth}b") for s in samples)
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


def scanline(colour_type, depth, x0, dx, dark_row):
    """One scanline of a pass whose samples start at column x0, dx apart, filter byte first."""
    n = (SIDE - x0 + dx - 1) // dx
    dark = range(0)
    if dark_row:
        first = max(0, (SQUARE[0] - x0 + dx - 1) // dx)
        last = max(0, (SQUARE[1] - x0 + dx - 1) // dx)
        dark = range(first, min(last, n))
    light, black = pixel(colour_type, depth, True), pixel(colour_type, depth, False)
    if depth >= 8:
        lb = pack(light, depth)
        bb = pack(black, depth)
        if not dark:
            return b"\0" + lb * n
        return b"\0" + lb * dark.start + bb * len(dark) + lb * (n - dark.stop)
    samples = []
    for i in range(n):
        samples += black if i in dark else light
    return b"\0" + pack(samples, depth)


def kind_png(colour_type, depth, interlaced):
    header = struct.pack(">IIBBBBB", SIDE, SIDE, depth, colour_type, 0, 0, int(interlaced))
    out = [b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", header)]
    if colour_type == 3:
        out.append(chunk(b"PLTE", bytes([240, 240, 240, 0, 0, 0])))
    deflate = zlib.compressobj(6)
    idat = []
    for x0, dx, y0, dy in ADAM7 if interlaced else PLAIN:
        if x0 >= SIDE or y0 >= SIDE:
            continue
        rows = {d: scanline(colour_type, depth, x0, dx, d) for d in (False, True)}
        for y in range(y0, SIDE, dy):
            idat.append(deflate.compress(rows[SQUARE[0] <= y < SQUARE[1]]))
    idat.append(deflate.flush())
    out.append(chunk(b"IDAT", b"".join(idat)))
    out.append(chunk(b"IEND", b""))
    return b"".join(out)


def zeros_deflated(size):
    """A zlib stream of `size` zero bytes (a multiple of a MiB), built in a moment: after a full
    flush the compressor starts afresh, so every further MiB compresses to the same bytes."""
    block = bytes(MIB)
    deflate = zlib.compressobj(9)
    head = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    piece = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    assert piece == deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    tail = deflate.flush(zlib.Z_FINISH)[:-4]  # the final empty block; our own checksum follows
    # Adler-32 of zeros: the sum stays 1, so the second sum is the length.
    adler = ((size % 65521) << 16) | 1
    stream = head + piece * (size // MIB - 1) + tail + struct.pack(">I", adler)
    small = head + piece + tail + struct.pack(">I", ((2 * MIB % 65521) << 16) | 1)
    assert zlib.decompress(small) == bytes(2 * MIB)
    return stream


def small_png(extra):
    """A 1000 x 1000 8-bit grey PNG, mostly flat, with the chunk `extra` after its header."""
    side = 1000
    raw = b"".join(b"\0" + (b"\0" * 100 + b"\xf0" * 900 if 100 <= y < 200 else b"\xf0" * side)
                   for y in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def tiny_png():
    """A 64 x 64 grey PNG: what the process needs with next to no image."""
    raw = b"".join(b"\0" + b"\xf0" * 64 for _ in range(64))
    header = struct.pack(">IIBBBBB", 64, 64, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def bombs():
    gib = zeros_deflated(1 << 30)
    raw = bytes(8 * MIB)
    yield "iCCP, 1 GiB inflated", small_png(chunk(b"iCCP", b"icc\0\0" + gib))
    yield "zTXt, 1 GiB inflated", small_png(chunk(b"zTXt", b"Comment\0\0" + gib))
    yield "iTXt, 1 GiB inflated", small_png(chunk(b"iTXt", b"Comment\0\x01\0\0\0" + gib))
    yield "eXIf, 8 MiB", small_png(chunk(b"eXIf", b"MM\0\x2a" + raw))
    yield "tEXt, 8 MiB", small_png(chunk(b"tEXt", b"Comment\0" + raw))
    yield "unknown chunk, 8 MiB", small_png(chunk(b"quRK", raw))


def peak_kib(binary, path, extra_args=()):
    done = subprocess.run(["/usr/bin/time", "-f", "%M", binary, "scan", "--jobs", "1", *extra_args, path],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    found = re.search(rb'"code":\s*(\d+)', done.stdout)
    code = found.group(1).decode() if found else f"exit {done.returncode}"
    return int(done.stderr.strip().splitlines()[-1]), code


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="use the existing release binary")
    parser.add_argument("--binary", help="measure this qrscan (implies --no-build)")
    parser.add_argument("--only", choices=["kinds", "bombs"], help="one of the two tables")
    args = parser.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = args.binary or os.path.join(target, "release", "qrscan")
    if not (args.no_build or args.binary):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "image.png")

        def measure(data, extra_args=()):
            with open(path, "wb") as f:
                f.write(data)
            return peak_kib(binary, path, extra_args)

        base, _ = measure(tiny_png())
        print(f"base (64 x 64 PNG): {base / 1024:.1f} MiB peak RSS")
        if args.only != "bombs":
            print(f"\n{SIDE} x {SIDE}, peak RSS over the base")
            print(f"{'PNG':<20} {'interlaced':>10} {'file KB':>8} {'MiB':>7} {'B/pixel':>8} {'code':>5}")
            for name, colour_type, depth in KINDS:
                for interlaced in (False, True):
                    data = kind_png(colour_type, depth, interlaced)
                    kib, code = measure(data)
                    over = (kib - base) / 1024
                    print(f"{name:<20} {'yes' if interlaced else 'no':>10} {len(data) // 1000:>8} "
                          f"{over:>7.0f} {over * MIB / SIDE ** 2:>8.2f} {code:>5}", flush=True)
        if args.only != "kinds":
            print("\n1000 x 1000 grey with one metadata chunk, peak RSS over the base")
            print(f"{'chunk':<24} {'file KB':>8} {'default cap':>12} {'code':>5} {'64 MiB cap':>11} {'code':>5}")
            for name, data in bombs():
                default, code = measure(data)
                capped, capped_code = measure(data, ["--max-decode-memory", "64MiB"])
                print(f"{name:<24} {len(data) // 1000:>8} {(default - base) / 1024:>8.0f} MiB {code:>5} "
                      f"{(capped - base) / 1024:>7.0f} MiB {capped_code:>5}", flush=True)


if __name__ == "__main__":
    main()
