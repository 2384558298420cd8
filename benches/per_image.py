#!/usr/bin/env python3
"""Per-image time on a corpus, qrscan beside zxing-cpp in the same run: median, p90, p99 and max,
and the slowest images of each (issue 28's tail).

    python3 benches/per_image.py [CORPUS] [--qrscan BIN] [--baseline BIN] [--runs N] [--save F]
    # needs: pip install zxing-cpp pillow

qrscan: one process per image, `qrscan scan --jobs 1 --format text IMAGE`, wall clock including the
process start (about 2 ms here), as a caller running the CLI on one file sees it. zxing-cpp: in one
Python process, PIL's decode and grey conversion plus `zxingcpp.read_barcodes` (package defaults,
QR codes only), which leaves out the interpreter's start, so the comparison favours zxing-cpp a
little. The readers alternate image by image, so all see the same machine state; `--baseline BIN`
adds a second qrscan build (the one before a change) to the same run. `--runs N` times each image N
times per reader and keeps the median (a single run's max is one scheduler hiccup away from the
next image's). `--save F` writes every image's time per reader to F as JSON, to compare two
builds image by image. CORPUS defaults to ../shared/corpus/boofcv; every .jpg/.png/.webp under it is timed.
"""
import json
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
baseline = None
if "--baseline" in args:
    at = args.index("--baseline")
    baseline = args[at + 1]
    del args[at:at + 2]
save = None
if "--save" in args:
    at = args.index("--save")
    save = args[at + 1]
    del args[at:at + 2]
runs = 1
if "--runs" in args:
    at = args.index("--runs")
    runs = int(args[at + 1])
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


def scan_ms(bin_, path):
    started = time.perf_counter()
    subprocess.run([bin_, "scan", "--jobs", "1", "--format", "text", path],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - started) * 1000


def zxing_ms(path):
    started = time.perf_counter()
    grey = Image.open(path).convert("L")
    zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormat.QRCode)
    return (time.perf_counter() - started) * 1000


readers = [("qrscan", lambda path: scan_ms(binary, path))]
if baseline:
    readers.append(("baseline", lambda path: scan_ms(baseline, path)))
readers.append(("zxing-cpp", zxing_ms))
times = {name: {} for name, _ in readers}
for path in images:
    samples = {name: [] for name, _ in readers}
    for _ in range(runs):
        for name, timed in readers:
            samples[name].append(timed(path))
    for name, values in samples.items():
        times[name][path] = sorted(values)[len(values) // 2]


def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


print(f"{len(images)} images of {corpus}; ms per image (median of {runs} run(s))")
print(f"{'reader':<10} {'median':>8} {'p90':>8} {'p99':>8} {'max':>8}")
for name, per_image in times.items():
    values = list(per_image.values())
    print(f"{name:<10} {quantile(values, 0.5):8.1f} {quantile(values, 0.9):8.1f} "
          f"{quantile(values, 0.99):8.1f} {max(values):8.1f}")
for name, per_image in times.items():
    slowest = sorted(per_image, key=per_image.get, reverse=True)[:5]
    print(f"slowest {name}: " + ", ".join(
        f"{os.path.relpath(p, corpus)} {per_image[p]:.0f}" for p in slowest))
if save:
    with open(save, "w") as out:
        json.dump({name: {os.path.relpath(p, corpus): ms for p, ms in per_image.items()}
                   for name, per_image in times.items()}, out, indent=1)
