#!/usr/bin/env python3
"""The time to load a 12 MP photo in each image format qrscan reads (loading only: bytes to the grey
image the search starts from), from one corpus photo scaled to 4000x3000 and written by Pillow.

    python3 benches/formats_load.py [PHOTO]     # needs: pip install pillow (pillow-jxl-plugin for JPEG XL, pillow-heif for HEIC)

The PDF row is the photo as one page (Pillow, 300 dpi: 13.3 x 10 inches) drawn at qrscan's 8 pixels
a millimetre (2709x2032, 5.5 MP): a page's cost (in this process, without the child `serve` and
`scan` draw it in).

Runs `cargo run --release -p qrscan-decode --example load_time` on the files (median of 7 each).
"""
import os, subprocess, sys, tempfile

from PIL import Image
try:
    import pillow_jxl  # noqa: F401  (registers JPEG XL with Pillow)
except ImportError:
    pillow_jxl = None
try:
    import pillow_heif
    pillow_heif.register_heif_opener()
except ImportError:
    pillow_heif = None

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
photo = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    root, "..", "shared", "corpus", "boofcv", "nominal", "image001.jpg")
image = Image.open(photo).convert("RGB").resize((4000, 3000), Image.LANCZOS)
out = tempfile.mkdtemp(prefix="formats-load-")
files = []
for name, kwargs in [
    ("photo.png", {}),
    ("photo-q90.jpg", {"quality": 90}),
    ("photo-progressive.jpg", {"quality": 90, "progressive": True}),
    ("photo-q90.webp", {"quality": 90}),
    ("photo-lossless.webp", {"lossless": True}),
    ("photo.bmp", {}),
    ("photo.gif", {}),
    ("photo-lzw.tif", {"compression": "tiff_lzw"}),
    ("photo-deflate.tif", {"compression": "tiff_deflate"}),
    ("photo-q90.avif", {"quality": 90}),
    ("photo-300dpi.pdf", {"resolution": 300}),
] + ([("photo-q90.jxl", {"quality": 90})] if pillow_jxl else []) + (
    [("photo-q90.heic", {"quality": 90})] if pillow_heif else []):
    path = os.path.join(out, name)
    (image.convert("P") if name.endswith(".gif") else image).save(path, **kwargs)
    files.append(path)
subprocess.run(["cargo", "run", "--release", "--quiet", "-p", "qrscan-decode", "--example",
                "load_time", "--", *files], cwd=root, check=True)
