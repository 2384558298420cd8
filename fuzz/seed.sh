#!/usr/bin/env bash
# Writes the seed corpora under fuzz/corpus/<target>/ (not committed: generated here, or copied
# from fixtures/ and, when it is beside the repository, ../shared/corpus). libFuzzer adds what it
# finds to the same folders; running this again only adds seeds.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/decode_pdf corpus/decode_heic corpus/decode_avif corpus/decode_jxl corpus/decode_svg corpus/decode_tiff corpus/decode_image corpus/decode_segments corpus/image_url corpus/classify corpus/decode_structure corpus/payload

# Images: the fixtures, small corpus images of every format (under 4 KB, so mutations stay
# fast), and the degenerate shapes of issue 14, made small enough for the fuzz limits.
cp ../fixtures/*.png ../fixtures/*.tif corpus/decode_image/
# decode_tiff puts the signature back itself (its first byte picks the byte order): the fixtures
# without theirs, behind 0 for little-endian ("II").
cp ../fixtures/*.svg corpus/decode_svg/
# decode_jxl puts the codestream signature back itself: the fixture without its first two bytes.
tail -c +3 ../fixtures/qr-q90.jxl > corpus/decode_jxl/qr-q90
# decode_heic and decode_avif put the signature and brand back themselves: each fixture without its
# first twelve bytes, behind its ftyp box's size (its fourth byte; `head | tail`, not `tail | head`,
# whose early exit can SIGPIPE the writer and, under pipefail, fail the script).
for f in ../fixtures/*.heic ../fixtures/*.avif; do
  { head -c 4 "$f" | tail -c 1; tail -c +13 "$f"; } > "corpus/decode_${f##*.}/$(basename "$f")"
done
# decode_pdf puts the header back itself: each PDF fixture without its first five bytes.
for f in ../fixtures/*.pdf; do
  tail -c +6 "$f" > "corpus/decode_pdf/$(basename "$f")"
done
# An SVG that uses, rotates and clips its own shapes: paths usvg takes that a generator's do not.
cat > corpus/decode_svg/features.svg <<'SVG'
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 40 40"><defs><clipPath id="c"><circle cx="20" cy="20" r="18"/></clipPath><rect id="m" width="2" height="2"/></defs><g clip-path="url(#c)" transform="rotate(10 20 20)"><use xlink:href="#m" x="4" y="4"/><use href="#m" x="8" y="4"/><path d="M4 10h20v2H4z" fill="#000" stroke="none"/></g></svg>
SVG
for f in ../fixtures/*.tif; do
  { printf '\0'; tail -c +5 "$f"; } > "corpus/decode_tiff/$(basename "$f")"
done
# (`sed -n`, not `head`: head exits at its last line, and under pipefail the SIGPIPE that gives
# `sort` would fail the script.)
if [ -d ../../shared/corpus/zxing-cpp ]; then
  find ../../shared/corpus/zxing-cpp -type f \( -name '*.png' -o -name '*.jpg' -o -name '*.gif' \
    -o -name '*.webp' -o -name '*.bmp' \) -size -4k | sort | sed -n '1,40p' |
    while read -r f; do cp "$f" "corpus/decode_image/$(echo "$f" | md5sum | cut -c1-12).${f##*.}"; done
fi
python3 - <<'PY'
import struct, zlib

def png(width, height, raw, depth=8):
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")

for w, h in [(5000, 1), (1, 5000), (2, 3000), (3000, 2), (40, 2000)]:
    open(f"corpus/decode_image/thin-{w}x{h}.png", "wb").write(png(w, h, (b"\0" + b"\xff" * w) * h))
# A 1-bit grey PNG: the packed loader's path.
open("corpus/decode_image/packed-1bit.png", "wb").write(png(16, 16, (b"\0" + b"\xaa\x55") * 16, depth=1))

# Segments: version byte, then data codewords. Byte mode "hello", numeric, alphanumeric, kanji,
# ECI 26 (UTF-8) + byte, structured append, FNC1 (GS1), and an empty stream.
seeds = {
    "byte": bytes([1, 0x40, 0x56, 0x86, 0x56, 0xC6, 0xC6, 0xF0, 0xEC, 0x11]),
    "numeric": bytes([1, 0x10, 0x20, 0x0C, 0x56, 0x61, 0x80, 0xEC, 0x11]),
    "alnum": bytes([1, 0x20, 0x5B, 0x0B, 0x78, 0xD1, 0x72, 0xDC, 0x4D, 0x43, 0x40, 0xEC]),
    "kanji": bytes([1, 0x80, 0x26, 0xCF, 0xEA, 0xA8, 0x00, 0xEC]),
    "eci-utf8": bytes([1, 0x71, 0xA4, 0x02, 0xC3, 0xA9, 0x00, 0xEC, 0x11]),
    "append": bytes([1, 0x30, 0x1A, 0x54, 0x01, 0x60, 0x00, 0xEC]),
    "gs1": bytes([1, 0x51, 0x00, 0x80, 0xEC]),
    "v40-empty": bytes([40, 0x00]),
}
for name, data in seeds.items():
    open(f"corpus/decode_segments/{name}", "wb").write(data)

urls = [
    "https://example.com/a.png", "http://[::ffff:0:7f00:1]:1/", "http://127.0.0.1/x",
    "data:image/png;base64,iVBORw0KGgo=", "file:///etc/passwd", "http://xn--nxasmq6b.com/",
    "HTTPS://EXAMPLE.COM:443/%2e%2e/", "http://0x7f.1/", "gopher://x/", "http://user:pw@host/",
]
for i, u in enumerate(urls):
    open(f"corpus/image_url/seed-{i}", "w").write(u)

texts = [
    "https://u.wechat.com/abc", "https://qr.alipay.com/x", "HTTPS://WWW.DOUYIN.COM/",
    "weixin://dl/business", "alipays://platformapi/startapp", "http://[::1]/", "just text",
    '[[rule]]\nprovider = "wechat"\nhost = "*.qq.com"\n',
]
for i, t in enumerate(texts):
    open(f"corpus/classify/seed-{i}", "w").write(t)

# Described images (decode_structure's `Described`, as `arbitrary` reads it: u16 width and
# height, each 7 + value % 6318 pixels; tile width and height - 1; 16 tile rows of u16 bits; scale
# - 1; dark; light; noise; u32 seed). Fields of finder-like targets (issue 24's finding), of
# alignment-like targets, a checkerboard and stripes, from 1 MP to 40 MP.
def described(side, tile, scale=1, noise=0):
    rows = [sum(1 << x for x, c in enumerate(row) if c == "#") for row in tile]
    rows += [0] * (16 - len(rows))
    value = (side - 7) % 6318
    return struct.pack("<HHBB16HBBBBI", value, value, len(tile[0]) - 1, len(tile) - 1, *rows,
                       scale - 1, 0, 255, noise, 1)

finder = ["#######..", "#.....#..", "#.###.#..", "#.###.#..", "#.###.#..", "#.....#..",
          "#######..", ".........", "........."]
alignment = ["#####..", "#...#..", "#.#.#..", "#...#..", "#####..", ".......", "......."]
seeds = {
    "finders-1mp": described(1000, finder),
    "finders-40mp": described(6324, finder),
    "finders-4mp-m2": described(2000, finder, scale=2),
    "finders-noisy": described(2000, finder, noise=8),
    "alignment-16mp": described(4000, alignment),
    "checker-40mp": described(6324, ["#.", ".#"]),
    "stripes-4mp": described(2000, ["#.#.#.#.", "#.#.#.#.", "########"]),
}
for name, data in seeds.items():
    open(f"corpus/decode_structure/{name}", "wb").write(data)

# Payloads: one of each structure payload::parse reads, and near misses.
payloads = [
    "WIFI:T:WPA;S:my\\;net;P:pa\\:ss;H:true;;", "MECARD:N:Doe,John;TEL:+15550100;EMAIL:a@b.c;;",
    "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=BC=A0;;;\r\n"
    "TEL;CELL:138\r\nNOTE:a\r\n  folded\r\nEND:VCARD\r\n",
    "mailto:a@b.c,d%40e.f?subject=x&body=y", "MATMSG:TO:a@b.c;SUB:s;BODY:b;;", "SMSTO:10086:hi",
    "sms:+1555?body=x%20y", "tel:+86-10", "geo:39.9,116.4,10;u=5?q=a+b",
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN"
    "5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***"
    "0708A60086670902ME91320016A0112233449988770708123456786304A13A",
]
for i, t in enumerate(payloads):
    open(f"corpus/payload/seed-{i}", "w").write(t)
PY
cp ../src/rules.toml corpus/classify/rules.toml
echo "seeded: $(for d in corpus/*; do printf '%s %s  ' "${d#corpus/}" "$(ls "$d" | wc -l)"; done)"
