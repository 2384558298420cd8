#!/usr/bin/env bash
# One process over the whole corpus, qrscan beside zxing-cpp: the speed goal of issue 4.
#
#   bash benches/scan_vs_zxing.sh [CORPUS_DIR] [RUNS] [JOBS]   # needs: pip install zxing-cpp pillow
#
# Times `qrscan scan DIR` (release build; --jobs JOBS, default the number of CPUs; JOBS=1 compares
# per core, since the Python side is one thread) and a Python process
# that walks the same files with PIL + zxingcpp.read_barcodes (QR only, package defaults), wall
# clock including process start, RUNS times each, alternating so both see the same machine
# state. Prints every run, the medians and the ratio qrscan / zxing-cpp.
#
# BASELINE=path/to/an/older/qrscan adds that binary to every run, alternating with the others, and
# prints its median and ratio too: "before and after, in the same run".
set -euo pipefail

cd "$(dirname "$0")/.."
corpus=${1:-../shared/corpus/zxing-cpp}
runs=${2:-7}
jobs=${3:-$(nproc)}

cargo build --release --quiet
python3 -c "import zxingcpp, PIL" 2>/dev/null || {
  echo "zxing-cpp or Pillow missing: pip install zxing-cpp pillow" >&2
  exit 1
}

zxing_walk=$(mktemp)
trap 'rm -f "$zxing_walk"' EXIT
cat >"$zxing_walk" <<'EOF'
import os, sys
import zxingcpp
from PIL import Image

EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"}
read = 0
for folder, dirs, files in os.walk(sys.argv[1]):
    dirs.sort()
    for name in sorted(files):
        if os.path.splitext(name)[1].lower() in EXTENSIONS:
            image = Image.open(os.path.join(folder, name))
            read += bool(zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode))
print(f"{read} images with a code", file=sys.stderr)
EOF

# `qrscan scan` exits 1 when some image has no code (the corpus has 57): only the time matters.
seconds() { { /usr/bin/time -f "%e" "$@" 2>&1 >/dev/null || true; } | tail -1; }
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

baseline=${BASELINE:-}
qrscan_times=() zxing_times=() baseline_times=()
for run in $(seq "$runs"); do
  q=$(seconds target/release/qrscan scan --jobs "$jobs" "$corpus")
  z=$(seconds python3 "$zxing_walk" "$corpus")
  if [ -n "$baseline" ]; then
    b=$(seconds "$baseline" scan --jobs "$jobs" "$corpus")
    echo "run $run: qrscan ${q} s, zxing-cpp ${z} s, baseline ${b} s"
    baseline_times+=("$b")
  else
    echo "run $run: qrscan ${q} s, zxing-cpp ${z} s"
  fi
  qrscan_times+=("$q") zxing_times+=("$z")
done
q=$(printf '%s\n' "${qrscan_times[@]}" | median)
z=$(printf '%s\n' "${zxing_times[@]}" | median)
echo "median over $runs runs (qrscan --jobs $jobs): qrscan ${q} s, zxing-cpp ${z} s, ratio $(awk "BEGIN {printf \"%.2f\", $q / $z}")"
if [ -n "$baseline" ]; then
  b=$(printf '%s\n' "${baseline_times[@]}" | median)
  echo "baseline $baseline: ${b} s, ratio $(awk "BEGIN {printf \"%.2f\", $b / $z}") (qrscan / baseline $(awk "BEGIN {printf \"%.3f\", $q / $b}"))"
fi
