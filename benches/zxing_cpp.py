#!/usr/bin/env python3
"""Times zxing-cpp's Python package over the same corpus and rotations as examples/corpus.rs,
so qrscan can be shown beside the decoder it measures itself against.

    pip install zxing-cpp pillow
    python3 benches/zxing_cpp.py [/work/shared/corpus/zxing-cpp]

Scoring and timing follow examples/corpus.rs: an image is correct when the expected bytes are
among the codes read (compared as UTF-8 text, or raw bytes for binary payloads); time per
image is loading (PIL decode + grey conversion; `load` is its median) plus zxingcpp.read_barcodes with the package
defaults (try harder, try rotate, try invert, try downscale), QR codes only. The in-memory
rotation is not timed.
"""

import io
import os
import statistics
import sys
import time

import zxingcpp
from PIL import Image

ROTATIONS = [0, 90, 180, 270]
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"}
TRANSPOSE = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}


def scored_folders(root):
    folders = []
    for name in sorted(os.listdir(root)):
        negative = name.startswith("falsepositives")
        positive = name.startswith("qrcode") and name != "qrcode-7"
        if not (negative or positive):
            continue
        images = []
        for file in sorted(os.listdir(os.path.join(root, name))):
            stem, ext = os.path.splitext(file)
            if ext.lower() not in IMAGE_EXTENSIONS:
                continue
            path = os.path.join(root, name, file)
            expected = None
            if positive:
                for suffix in (".txt", ".bin"):
                    candidate = os.path.join(root, name, stem + suffix)
                    if os.path.exists(candidate):
                        with open(candidate, "rb") as f:
                            expected = f.read()
                        break
                if expected is None:
                    continue
            images.append((path, expected))
        folders.append((name, images))
    return folders


def code_bytes(result):
    if result.content_type == zxingcpp.ContentType.Binary:
        return bytes(result.bytes)
    return result.text.encode("utf-8")


def run_one(path, rotation):
    with open(path, "rb") as f:
        data = f.read()
    started = time.perf_counter()
    image = Image.open(io.BytesIO(data))
    image.load()
    grey = image.convert("L")
    loading = time.perf_counter() - started
    if rotation:
        grey = grey.transpose(TRANSPOSE[rotation])
    decoding = time.perf_counter()
    results = zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormat.QRCode)
    return results, loading + time.perf_counter() - decoding, loading


def percentile(times, q):
    times = sorted(times)
    return times[round((len(times) - 1) * q)] if times else 0.0


def print_row(name, rotation, score):
    print(
        f"{name:<18} {rotation:>4} {score['images']:>6} {score['correct']:>7} {score['misread']:>7}"
        f" {score['missed']:>6} {score['fp']:>4} {statistics.median(score['times']) * 1e3:>6.1f} ms"
        f" {percentile(score['times'], 0.95) * 1e3:>6.1f} ms"
        f" {statistics.median(score['loading']) * 1e3:>6.1f} ms"
    )


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "..", "shared", "corpus", "zxing-cpp"
    )
    folders = scored_folders(root)
    print(f"zxing-cpp {getattr(zxingcpp, '__version__', '?')}")
    print(f"{'folder':<18} {'rot':>4} {'images':>6} {'correct':>7} {'misread':>7} {'missed':>6} {'fp':>4} {'median':>9} {'p95':>9} {'load':>9}")
    grand_total = grand_loading = 0.0
    for rotation in ROTATIONS:
        total = {"images": 0, "correct": 0, "misread": 0, "missed": 0, "fp": 0, "times": [], "loading": []}
        for name, images in folders:
            score = {"images": 0, "correct": 0, "misread": 0, "missed": 0, "fp": 0, "times": [], "loading": []}
            for path, expected in images:
                results, elapsed, loading = run_one(path, rotation)
                score["images"] += 1
                score["times"].append(elapsed)
                score["loading"].append(loading)
                if expected is None:
                    score["fp"] += bool(results)
                elif not results:
                    score["missed"] += 1
                elif any(code_bytes(r) == expected for r in results):
                    score["correct"] += 1
                else:
                    score["misread"] += 1
                    if "-v" in sys.argv:
                        print(f"  MISREAD {path}: {[r.text[:40] for r in results]}")
            print_row(name, rotation, score)
            for key in ("images", "correct", "misread", "missed", "fp"):
                total[key] += score[key]
            total["times"] += score["times"]
            total["loading"] += score["loading"]
        print_row("total", rotation, total)
        grand_total += sum(total["times"])
        grand_loading += sum(total["loading"])
        print()
    print(
        f"time over all images and rotations: {grand_total:.2f} s"
        f" (loading {grand_loading:.2f} s, decoding {grand_total - grand_loading:.2f} s)"
    )


if __name__ == "__main__":
    main()
