#!/usr/bin/env python3
"""Per-image time on a corpus, qrscan beside zxing-cpp in the same run: median, p90, p99 and max,
and the slowest images of each (issue 28's tail).

    python3 benches/per_image.py [CORPUS] [--qrscan BIN]   # needs: pip install zxing-cpp pillow

qrscan: one process per image, `qrscan scan --jobs 1 --format text IMAGE`, wall clock including the
process start (about 2 ms here), as a caller running the CLI on one file sees it. zxing-cpp: in one
Python process, PIL's decode and grey conversion plus `zxingcpp.read_barcodes` (package defaults,
QR codes only), which leaves out the interpreter's start, so the comparison favours zxing-cpp a
little. The two alternate image by image, so both see the same machine state. CORPUS defaults to
../shared/corpus/boofcv; every .jpg/.png/.webp under it is timed.
"""
import os
import subprocess
import sys
import time

import zxingcpp
from PIL import Image

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
args = sys.argv[1:]
binary = os.path.join(root, "target", "release", "qrscan")
if "--qrscan" in args:
    at = args.index("--qrscan")
    binary = args[at + 1]
    del args[at:at + 2]
corpus = args[0] if args else os.path.join(root, "..", "shared", "corpus", "boofcv")
if binary == os.path.join(root, "target", "release", "qrscan"):
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=root, check=True)

images = sorted(
    os.path.join(folder, name)
    for folder, _, names in os.walk(corpus)
    for name in names
    if os.path.splitext(name)[1].lower() in {".jpg", ".jpeg", ".png", ".webp"}
)
qrscan_ms, zxing_ms = {}, {}
for path in images:
    started = time.perf_counter()
    subprocess.run([binary, "scan", "--jobs", "1", "--format", "text", path],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    qrscan_ms[path] = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    grey = Image.open(path).convert("L")
    zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormat.QRCode)
    zxing_ms[path] = (time.perf_counter() - started) * 1000


def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


print(f"{len(images)} images of {corpus}; ms per image")
print(f"{'reader':<10} {'median':>8} {'p90':>8} {'p99':>8} {'max':>8}")
for name, times in (("qrscan", qrscan_ms), ("zxing-cpp", zxing_ms)):
    values = list(times.values())
    print(f"{name:<10} {quantile(values, 0.5):8.1f} {quantile(values, 0.9):8.1f} "
          f"{quantile(values, 0.99):8.1f} {max(values):8.1f}")
for name, times in (("qrscan", qrscan_ms), ("zxing-cpp", zxing_ms)):
    slowest = sorted(times, key=times.get, reverse=True)[:5]
    print(f"slowest {name}: " + ", ".join(
        f"{os.path.relpath(p, corpus)} {times[p]:.0f}" for p in slowest))
