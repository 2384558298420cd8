#!/usr/bin/env python3
"""The zxing-cpp corpus (`qrcode-*`, every image with one expected text) converted to each newer
format qrscan reads, then read back: the same codes as from the originals, within what the format's
own compression loses.

    python3 benches/formats_roundtrip.py [CORPUS]   # needs: pip install pillow pillow-jxl-plugin pillow-heif

Writes TIFF (LZW, lossless), JPEG XL (q90, lossy; and lossless), HEIC (q90, libheif/x265), AVIF (q90,
Pillow's libavif) and PDF (each image a one-page PDF by Pillow, at 72 dpi) with Pillow, scans each
folder with the release binary (`qrscan scan --format json`, `--pdf-pages 1`), and prints the codes
read per format. SVG is a vector format, so a photo has no SVG form: it is tested with generators'
SVGs instead.
"""
import json, os, subprocess, sys, tempfile

from PIL import Image
import pillow_jxl  # noqa: F401  (registers JPEG XL with Pillow)
import pillow_heif

pillow_heif.register_heif_opener()

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "corpus", "zxing-cpp")
images = []
for folder in sorted(os.listdir(corpus)):
    if not folder.startswith("qrcode-") or folder == "qrcode-7":
        continue
    for name in sorted(os.listdir(os.path.join(corpus, folder))):
        stem, ext = os.path.splitext(name)
        expected = os.path.join(corpus, folder, stem + ".txt")
        if ext.lower() in {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"} and os.path.exists(expected):
            images.append((os.path.join(corpus, folder, name), f"{folder}-{stem}", expected))

formats = {
    "original": None,
    "tiff-lzw": (".tif", {"compression": "tiff_lzw"}),
    "jxl-lossless": (".jxl", {"lossless": True}),
    "jxl-q90": (".jxl", {"quality": 90}),
    "heic-q90": (".heic", {"quality": 90}),
    "avif-q90": (".avif", {"quality": 90}),
    "pdf": (".pdf", {"resolution": 72}),
}
work = tempfile.mkdtemp(prefix="formats-roundtrip-")
subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=root, check=True)
binary = os.path.join(root, "target", "release", "qrscan")
print(f"{len(images)} images of {corpus}")
for label, conversion in formats.items():
    folder = os.path.join(work, label)
    os.makedirs(folder)
    expected_by_input = {}
    for path, stem, expected in images:
        if conversion is None:
            target = os.path.join(folder, stem + os.path.splitext(path)[1])
            os.symlink(path, target)
        else:
            ext, kwargs = conversion
            target = os.path.join(folder, stem + ext)
            image = Image.open(path)
            keep_alpha = "A" in image.getbands() and ext != ".pdf"
            image = image.convert("RGBA" if keep_alpha else "RGB")
            image.save(target, **kwargs)
        expected_by_input[target] = open(expected, "rb").read()
    out = subprocess.run([binary, "scan", "--jobs", "2", "--pdf-pages", "1", "--format", "json", folder],
                         capture_output=True, text=True).stdout
    read = 0
    for line in out.splitlines():
        answer = json.loads(line)
        want = expected_by_input.get(answer["input"])
        codes = (answer.get("data") or {}).get("codes") or []
        if want is not None and any(c["content"].encode() == want for c in codes):
            read += 1
    print(f"{label:<14} {read} of {len(images)}")
