#!/usr/bin/env bash
# BoofCV's QR detection benchmark half (issue 12): what qrscan and zxing-cpp read, per category,
# then how fast each is per core.
#
#   bash benches/boofcv.sh [RUNS]      # needs: pip install shapely pillow zxing-cpp
#
# 1. `../shared/corpus/boofcv/score.py` with both decoders: codes read per category (corners
#    matched to the labels), the mean of the category rates, and the pooled count.
# 2. `benches/scan_vs_zxing.sh` on the same photos with `qrscan scan --jobs 1`, RUNS times (default
#    5), alternating with zxing-cpp's one Python thread: the medians and their ratio, per core.
set -euo pipefail

cd "$(dirname "$0")/.."
data=../shared/corpus/boofcv
runs=${1:-5}
[ -d "$data" ] || { echo "$data is not checked out" >&2; exit 1; }

cargo build --release --quiet
python3 "$data/score.py" --data "$data" --decoders qrscan,zxingcpp --qrscan target/release/qrscan
bash benches/scan_vs_zxing.sh "$data" "$runs" 1
