#!/usr/bin/env python3
"""Synthetic stress classes for the decoder, scored for qrscan and zxing-cpp side by side.

    pip install segno pillow numpy zxing-cpp
    cargo build --release
    python3 benches/synthetic.py [OUT_DIR] [PER_CLASS]      (default /tmp/qrscan-synthetic, 20)

The zxing-cpp corpus is real photos; this covers the degradations one at a time, so a class of
failure shows up as a class: any rotation, shear and perspective, blur, Gaussian and salt-and-
pepper noise, JPEG at quality 8-15, low contrast, lighting gradients and glare, colour, inversion,
mirroring, one and two pixels per module, a small code in a 12 MP photo, missing quiet zones,
occlusion, a cylinder warp, print halftone, and combinations. Each image is `CLASS/NNN.png` beside
`NNN.txt`, its text. The seed is fixed: the same set comes out every time.

Prints per class: images, read correctly by `qrscan scan` (target/release/qrscan, or $QRSCAN),
read correctly by zxing-cpp (`read_barcodes`, defaults, QR only), and read by zxing-cpp only.
"""

import io
import json
import os
import random
import subprocess
import sys
import time
from collections import defaultdict

import numpy as np
import segno
import zxingcpp
from PIL import Image, ImageDraw, ImageFilter, ImageOps


def payload(i):
    return random.choice([
        f"https://qr.alipay.com/fkx{random.randint(10**8, 10**9)}",
        f"wxp://f2f0{random.randint(10**12, 10**13)}",
        "https://mp.weixin.qq.com/s/" + "".join(random.choice("abcdefghijkLMNOP0123") for _ in range(22)),
        f"https://u.jd.com/{random.randint(10**5, 10**6)}",
        "https://cli.im/" + "x" * random.randint(5, 120),
        f"Hello, world {i}",
    ])


def code(text, scale, border=4, ec="m"):
    buf = io.BytesIO()
    segno.make_qr(text, error=ec).save(buf, kind="png", scale=scale, border=border)
    buf.seek(0)
    return Image.open(buf).convert("L")


def on_canvas(img, width, height, background=255):
    canvas = Image.new("L", (width, height), background)
    x = random.randint(0, max(0, width - img.width))
    y = random.randint(0, max(0, height - img.height))
    canvas.paste(img, (x, y))
    return canvas


def perspective(img, amount):
    w, h = img.size
    jitter = lambda: random.uniform(-amount, amount) * w
    src = [(jitter(), jitter()), (w + jitter(), jitter()), (w + jitter(), h + jitter()), (jitter(), h + jitter())]
    rows, rhs = [], []
    for (x, y), (u, v) in zip([(0, 0), (w, 0), (w, h), (0, h)], src):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    coefficients = np.linalg.solve(np.array(rows, float), np.array(rhs, float))
    return img.transform((w, h), Image.PERSPECTIVE, tuple(coefficients), Image.BICUBIC, fillcolor=255)


def as_array(img):
    return np.asarray(img, dtype=np.float32)


def from_array(a):
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def jpeg(img, quality):
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("L")


def noise(img, sigma):
    return from_array(as_array(img) + np.random.normal(0, sigma, (img.height, img.width)))


def contrast(img, low, high):
    return from_array(low + as_array(img) / 255.0 * (high - low))


def gradient(img):
    w, h = img.size
    light = np.linspace(0.35, 1.0, w)[None, :] * np.linspace(1.0, 0.6, h)[:, None]
    return from_array(as_array(img) * light)


def glare(img):
    a = as_array(img)
    h, w = a.shape
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = random.uniform(0.3, 0.7) * w, random.uniform(0.3, 0.7) * h
    return from_array(a + 170 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (0.18 * w) ** 2)))


def salt_and_pepper(img, fraction):
    a = np.asarray(img).copy()
    draw = np.random.random(a.shape)
    a[draw < fraction / 2] = 0
    a[draw > 1 - fraction / 2] = 255
    return Image.fromarray(a)


def occlude(img, fraction):
    img = img.copy()
    w, h = img.size
    side, x, y = int(w * fraction), random.randint(w // 4, w // 2), random.randint(h // 4, h // 2)
    ImageDraw.Draw(img).rectangle([x, y, x + side, y + side], fill=random.choice([0, 255]))
    return img


def cylinder(img, bend):
    a = as_array(img)
    h, w = a.shape
    cx = w / 2
    u = (np.arange(w) - cx) / cx
    source_x = np.clip((cx + cx * np.sin(u * bend) / np.sin(bend)).astype(int), 0, w - 1)
    squeeze = 1 - 0.08 * (1 - np.cos(u * bend))
    out = np.full_like(a, 255)
    for y in range(h):
        source_y = (h / 2 + (y - h / 2) * squeeze).astype(int)
        inside = (source_y >= 0) & (source_y < h)
        out[y, inside] = a[source_y[inside], source_x[inside]]
    return from_array(out)


def halftone(img):
    a = np.asarray(img.resize((img.width * 3, img.height * 3), Image.NEAREST)).copy()
    a[1::3, :] = np.maximum(a[1::3, :], 200)
    a[:, 1::3] = np.maximum(a[:, 1::3], 200)
    return Image.fromarray(a)


def at_edge(img, width, height):
    """`img` on a light page, flush against one of its edges: a photo cut through the quiet zone."""
    canvas = Image.new("L", (width, height), random.randint(200, 240))
    side = random.choice(["left", "top", "right", "bottom"])
    x = {"left": 0, "right": width - img.width}.get(side, random.randint(0, width - img.width))
    y = {"top": 0, "bottom": height - img.height}.get(side, random.randint(0, height - img.height))
    canvas.paste(img, (x, y))
    return canvas


def colored(text):
    a = np.asarray(code(text, 5))
    ink = np.array([random.randint(0, 90), random.randint(0, 60), random.randint(60, 140)])
    paper = np.array([random.randint(200, 255), random.randint(200, 255), random.randint(150, 220)])
    return Image.fromarray(np.where(a[..., None] < 128, ink, paper).astype(np.uint8), "RGB")


def scaled(text):
    img = code(text, 1)
    side = int(img.width * random.uniform(2.3, 4.7))
    return img.resize((side, side), Image.BILINEAR)


CLASSES = {
    "rotate_any": lambda t: on_canvas(code(t, 5), 500, 500).rotate(random.uniform(0, 360), Image.BICUBIC, expand=True, fillcolor=255),
    "rotate_45": lambda t: code(t, 5).rotate(45 + random.uniform(-3, 3), Image.BICUBIC, expand=True, fillcolor=255),
    "rotate_small_2px": lambda t: on_canvas(code(t, 2), 300, 300).rotate(random.uniform(10, 80), Image.BILINEAR, expand=True, fillcolor=255),
    "perspective": lambda t: perspective(on_canvas(code(t, 6), 600, 600), 0.12),
    "perspective_hard": lambda t: perspective(on_canvas(code(t, 5), 600, 600), 0.2),
    "cylinder": lambda t: cylinder(on_canvas(code(t, 5), 500, 500), 1.2),
    "blur_2": lambda t: code(t, 6).filter(ImageFilter.GaussianBlur(2.0)),
    "blur_3": lambda t: code(t, 8).filter(ImageFilter.GaussianBlur(3.0)),
    "blur_4": lambda t: code(t, 8).filter(ImageFilter.GaussianBlur(4.0)),
    "noise_40": lambda t: noise(code(t, 6), 40),
    "noise_40_small": lambda t: noise(code(t, 4), 40),
    "noise_60": lambda t: noise(code(t, 6), 60),
    "salt_and_pepper": lambda t: salt_and_pepper(code(t, 5), 0.15),
    "jpeg_15": lambda t: jpeg(code(t, 3), 15),
    "jpeg_8": lambda t: jpeg(code(t, 3), 8),
    "low_contrast": lambda t: contrast(code(t, 5), 90, 140),
    "low_contrast_noisy": lambda t: noise(contrast(code(t, 5), 110, 140), 6),
    "gradient": lambda t: gradient(on_canvas(code(t, 6), 700, 700)),
    "glare": lambda t: glare(code(t, 6)),
    "colored": colored,
    "inverted": lambda t: ImageOps.invert(code(t, 5)),
    "mirrored": lambda t: ImageOps.mirror(code(t, 5)),
    "tiny_1px": lambda t: code(t, 1),
    "tiny_2px": lambda t: code(t, 2),
    "scaled_non_integer": scaled,
    "huge_modules": lambda t: code(t, 40, border=2),
    "small_in_large": lambda t: on_canvas(code(t, 4), 4000, 3000, background=random.randint(180, 255)),
    "no_quiet_zone": lambda t: code(t, 6, border=0),
    "touching_edge": lambda t: noise(at_edge(code(t, 5, border=0), 800, 600), 8),
    "tight_crop_photo": lambda t: noise(perspective(code(t, 6, border=0), 0.04), 10),
    "thin_quiet_zone": lambda t: code(t, 6, border=1),
    "occluded": lambda t: occlude(code(t, 5, ec="h"), 0.15),
    "halftone": lambda t: halftone(code(t, 3)),
    "photo": lambda t: jpeg(noise(gradient(perspective(on_canvas(code(t, 5).filter(ImageFilter.GaussianBlur(1.2)), 900, 700), 0.08)), 12), 40),
    "photo_hard": lambda t: jpeg(noise(glare(perspective(on_canvas(code(t, 4).filter(ImageFilter.GaussianBlur(1.5)), 1200, 900), 0.12)), 20), 30),
}


def generate(out, per_class):
    random.seed(7)
    np.random.seed(7)
    for name, make in CLASSES.items():
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        for i in range(per_class):
            text = payload(i)
            make(text).save(os.path.join(folder, f"{i:03}.png"))
            with open(os.path.join(folder, f"{i:03}.txt"), "w") as f:
                f.write(text)


def score(out, qrscan):
    files = sorted(os.path.join(d, f) for d, _, names in os.walk(out) for f in names if f.endswith(".png"))
    started = time.time()
    lines = subprocess.run([qrscan, "scan", *files], capture_output=True, text=True).stdout.splitlines()
    qrscan_seconds = time.time() - started
    ours = {}
    for line in lines:
        envelope = json.loads(line)
        ours[envelope["input"]] = [c.get("content") for c in (envelope.get("data") or {}).get("codes") or []]
    rows = defaultdict(lambda: [0, 0, 0, 0])  # images, qrscan, zxing-cpp, zxing-cpp only
    started = time.time()
    for path in files:
        want = open(path[:-4] + ".txt").read()
        theirs = zxingcpp.read_barcodes(Image.open(path), formats=zxingcpp.BarcodeFormat.QRCode)
        read_by_us = want in ours.get(path, [])
        read_by_them = any(r.text == want for r in theirs)
        row = rows[os.path.basename(os.path.dirname(path))]
        row[0] += 1
        row[1] += read_by_us
        row[2] += read_by_them
        row[3] += read_by_them and not read_by_us
    zxing_seconds = time.time() - started
    print(f"{'class':20} {'images':>6} {'qrscan':>6} {'zxing-cpp':>9} {'zxing-cpp only':>14}")
    total = [0, 0, 0, 0]
    for name in CLASSES:
        row = rows[name]
        total = [a + b for a, b in zip(total, row)]
        print(f"{name:20} {row[0]:6} {row[1]:6} {row[2]:9} {row[3]:14}")
    print(f"{'total':20} {total[0]:6} {total[1]:6} {total[2]:9} {total[3]:14}")
    print(f"time: qrscan scan {qrscan_seconds:.1f} s (one process, default jobs), "
          f"zxing-cpp {zxing_seconds:.1f} s (one thread, PIL loading included)")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/qrscan-synthetic"
    per_class = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "..", "target"))
    qrscan = os.environ.get("QRSCAN", os.path.join(target, "release", "qrscan"))
    generate(out, per_class)
    score(out, qrscan)


if __name__ == "__main__":
    main()
