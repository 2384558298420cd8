#!/usr/bin/env bash
# Load test of `scan_url` on this machine, loopback only, bounded in time.
#
# Builds release, serves corpus images with nginx on 127.0.0.1, starts `qrscan serve` on
# 127.0.0.1, and drives scan_url with wrk at concurrency 1, 16 and 64 over a rotating set of
# images, with the result cache off and then on, then on one small image at 64 connections, then
# 10 MiB uploads at 64 connections. Prints req/s, p50/p99 latency, envelope codes, and the
# server's peak RSS (VmHWM). Needs: wrk, nginx (apt-get install wrk nginx-light).
#
#   benches/load.sh [SECONDS_PER_RUN]        (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
corpus="$(cd ../shared/corpus/zxing-cpp && pwd)"
work="$(mktemp -d)"
chmod 755 "$work" # nginx workers run unprivileged and must read the padded images here
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

cargo build --release --bin qrscan >/dev/null 2>&1
qrscan="${CARGO_TARGET_DIR:-target}/release/qrscan"
image_port=18091
api_port=18090

cat > "$work/nginx.conf" <<CONF
daemon off;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$image_port;
    root $corpus;
    # A slow upstream: 20 KiB at 2 KiB/s trickles for about 10 s (the default fetch timeout).
    location /slow/ { alias $work/slow/; limit_rate 2k; }
  }
}
CONF
# Padded PNGs: a valid corpus image plus an ancillary chunk the decoder skips, to a given size.
pad_png() { python3 - "$1" "$2" "$3" <<'PY'
import struct, sys, zlib
src, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(src, "rb").read()
body, iend = data[:-12], data[-12:]
pad = b"\0" * max(0, size - len(data) - 12)
chunk = struct.pack(">I", len(pad)) + b"zzZz" + pad + struct.pack(">I", zlib.crc32(b"zzZz" + pad))
open(out, "wb").write(body + chunk + iend)
PY
}
mkdir -p "$work/slow"
pad_png "$corpus/qrcode-6/1.png" 20480 "$work/slow/slow.png"
pad_png "$corpus/qrcode-6/1.png" $((10 * 1024 * 1024 - 4096)) "$work/upload-10mib.png"
nginx -p "$work" -c "$work/nginx.conf" &

# A rotating set: the clean screenshots and photos of qrcode-1..3 (small, typical images).
mapfile -t images < <(cd "$corpus" && ls qrcode-1/*.webp qrcode-3/*.* qrcode-5/*.* 2>/dev/null | grep -v '\.txt$' | head -24)
{
  echo "local urls = {"
  for f in "${images[@]}"; do echo "  'http://127.0.0.1:$image_port/$f',"; done
  echo "}"
  cat <<'LUA'
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i % #urls + 1
  return wrk.format(nil, "/api/v1/qrcode/scan_url", nil, '{"url":"' .. urls[i] .. '"}')
end
local codes = {}
response = function(status, headers, body)
  local code = string.match(body, '"code":(%d+)') or ("http" .. status)
  codes[code] = (codes[code] or 0) + 1
end
done = function(summary, latency, requests)
  io.write(string.format("  req/s %.0f  p50 %.1f ms  p99 %.1f ms  errors(socket) %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
} > "$work/scan.lua"
# The same reporting for the upload and single-URL runs.
report_lua="$(sed -n '/^local codes = {}/,$p' "$work/scan.lua")"
{
  echo "local f = io.open('$work/upload-10mib.png', 'rb'); local image = f:read('*a'); f:close()"
  echo "wrk.method = 'POST'; wrk.path = '/api/v1/qrcode/scan'; wrk.body = image"
  echo "wrk.headers['Content-Type'] = 'image/png'"
  echo "$report_lua"
} > "$work/upload.lua"
single_lua() {
  echo "wrk.method = 'POST'; wrk.headers['Content-Type'] = 'application/json'"
  echo "wrk.path = '/api/v1/qrcode/scan_url'; wrk.body = '{\"url\":\"$1\"}'"
  echo "$report_lua"
}
single_lua "http://127.0.0.1:$image_port/slow/slow.png" > "$work/slow.lua"
single_lua "http://127.0.0.1:$image_port/${images[0]}" > "$work/fast.lua"
# A typical small image: a clean 429x429 PNG of a URL, as a screenshot would give.
small_image="qrcode-2/14.png"
single_lua "http://127.0.0.1:$image_port/$small_image" > "$work/small.lua"

for cache in 0 1024; do
  "$qrscan" serve --listen "127.0.0.1:$api_port" --allow-loopback \
    --cache-entries "$cache" >/dev/null 2>&1 &
  pid=$!
  sleep 1
  for connections in 1 16 64; do
    echo "scan_url, cache-entries $cache, $connections connections, ${duration}s:"
    wrk -t "$(( connections < 2 ? 1 : 2 ))" -c "$connections" -d "${duration}s" -s "$work/scan.lua" "http://127.0.0.1:$api_port" | grep -E "req/s"
    curl -s "http://127.0.0.1:$api_port/metrics" | grep -E '^qrscan_requests_total' | sed 's/^/  /'
  done
  echo "  peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

echo "one small image ($small_image), cache-entries 0, 64 connections, ${duration}s:"
"$qrscan" serve --listen "127.0.0.1:$api_port" --allow-loopback --cache-entries 0 >/dev/null 2>&1 &
pid=$!
sleep 1
wrk -t 2 -c 64 -d "${duration}s" -s "$work/small.lua" "http://127.0.0.1:$api_port" | grep -E "req/s"
curl -s "http://127.0.0.1:$api_port/metrics" | grep -E '^qrscan_requests_total' | sed 's/^/  /'
echo "  peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
kill "$pid"; wait "$pid" 2>/dev/null || true

# Past --max-buffered-bytes (128 MiB by default) an upload is refused with 503 as soon as a chunk
# does not fit; wrk counts the connections the server closes after such a 503 as socket errors.
echo "upload: 64 connections each sending a 10 MiB image, cache off, ${duration}s:"
"$qrscan" serve --listen "127.0.0.1:$api_port" --cache-entries 0 >/dev/null 2>&1 &
pid=$!
sleep 1
wrk -t 2 -c 64 -d "${duration}s" --timeout 30s -s "$work/upload.lua" "http://127.0.0.1:$api_port" | grep -E "req/s"
curl -s "http://127.0.0.1:$api_port/metrics" | grep -E '^qrscan_requests_total' | sed 's/^/  /'
echo "  peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
kill "$pid"; wait "$pid" 2>/dev/null || true

echo "slow upstreams: 32 connections on an image that trickles for ~10 s, 32 on a fast one, 15s:"
"$qrscan" serve --listen "127.0.0.1:$api_port" --allow-loopback --cache-entries 0 >/dev/null 2>&1 &
pid=$!
sleep 1
echo " fast alone (32 connections):"
wrk -t 1 -c 32 -d 15s -s "$work/fast.lua" "http://127.0.0.1:$api_port" | grep -E "req/s"
wrk -t 1 -c 32 -d 15s --timeout 30s -s "$work/slow.lua" "http://127.0.0.1:$api_port" > "$work/slow.out" &
slow=$!
sleep 1
echo " fast beside the slow ones:"
wrk -t 1 -c 32 -d 14s -s "$work/fast.lua" "http://127.0.0.1:$api_port" | grep -E "req/s"
wait "$slow" || true
echo " the slow ones:"; grep -E "req/s" "$work/slow.out"
curl -s "http://127.0.0.1:$api_port/metrics" | grep -E '^qrscan_requests_total' | sed 's/^/  /'
kill "$pid"; wait "$pid" 2>/dev/null || true

# The ceiling: the same images decoded by the CLI with every core, no HTTP. Each run is a fresh
# process (its result cache would otherwise answer the repeats); 20 runs over the set.
echo "decode-only ceiling: qrscan scan --jobs $(nproc), ${#images[@]} images, 20 runs:"
paths=()
for f in "${images[@]}"; do paths+=("$corpus/$f"); done
start=$(date +%s.%N)
for _ in $(seq 20); do
  "$qrscan" scan --jobs "$(nproc)" "${paths[@]}" >/dev/null 2>&1 || true
done
end=$(date +%s.%N)
echo "  images/s: $(echo "20 * ${#images[@]} / ($end - $start)" | bc -l | cut -c1-7)"
