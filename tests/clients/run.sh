#!/usr/bin/env bash
# Real clients against the real binary: cli.im's callers as they are written, each asserting the
# field it reads (data.content, data.RawData, codes[0].content), so a change that breaks one fails
# CI. The debug binary serves 127.0.0.1 with keys on, beside a local image server on 127.0.0.1
# (--allow-loopback); nothing leaves the machine.
#
#   scan_url.py  Python requests, as cli.im's documentation: json= body, Authorization: Bearer
#   deqr.php     PHP curl posting "data=" . base64 unescaped, as payment-channel scripts do
#   curl.sh      a browser-style form POST and a query-string POST to deqr, DeepScan's calls
#
# Installs what it needs: php-cli, php-curl (Debian), and requests and segno (PyPI, pinned)
# into a venv under the target dir. QRSCAN_BIN: the binary (default: target/debug/qrscan).
set -euo pipefail
cd "$(dirname "$0")/../.."

target="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
bin="$(realpath -m "${QRSCAN_BIN:-$target/debug/qrscan}")"
venv="$target/clients-venv"
key=client-key
if [ ! -x "$bin" ]; then
  echo "clients: no qrscan binary at $bin (run cargo build, or set QRSCAN_BIN)" >&2
  exit 1
fi

missing=()
command -v php >/dev/null || missing+=(php-cli)
{ command -v php >/dev/null && php -m | grep -qx curl; } || missing+=(php-curl)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import requests, segno' 2>/dev/null; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv"; then
    rm -rf "$venv"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "requests==2.32.3" "segno==1.6.6"
fi
python="$venv/bin/python"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The images, generated from their text. The first one's base64 must hold a '+', the character
# an unescaped form body turns into a space: the module size is raised until it does.
expected='HTTPS://QR.ALIPAY.COM/FKX07101FL'
second='https://cli.im/clients'
"$python" - "$work" "$expected" "$second" <<'PY'
import base64, io, sys
import segno
folder, first, second = sys.argv[1:4]
for scale in range(4, 40):
    out = io.BytesIO()
    segno.make(first, error="m").save(out, kind="png", scale=scale)
    if b"+" in base64.b64encode(out.getvalue()):
        break
else:
    sys.exit("no scale gives a '+' in the base64")
open(f"{folder}/alipay.png", "wb").write(out.getvalue())
segno.make(second, error="m").save(f"{folder}/second.png", scale=6)
PY

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # URL
  for _ in $(seq 100); do
    if curl -sf -o /dev/null "$1"; then return 0; fi
    sleep 0.1
  done
  echo "clients: nothing answered at $1" >&2
  exit 1
}

images_port=$(free_port)
"$python" -m http.server "$images_port" --bind 127.0.0.1 --directory "$work" >"$work/images.log" 2>&1 &
pids+=($!)
port=$(free_port)
"$bin" serve --listen "127.0.0.1:$port" --allow-loopback --api-keys "$key" >"$work/qrscan.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$port"
images="http://127.0.0.1:$images_port"
wait_for "$images/alipay.png"
wait_for "$base/healthz"

passed=0 failed=0
check() { # NAME COMMAND...
  local name=$1
  shift
  echo "--- $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "clients: $name FAILED; qrscan's log:" >&2
    tail -n 20 "$work/qrscan.log" >&2
  fi
}
check "python requests scan_url" "$python" tests/clients/scan_url.py "$base" "$key" "$images/alipay.png" "$expected"
check "php curl deqr" php tests/clients/deqr.php "$base" "$key" "$work/alipay.png" "$expected"
check "curl: deqr form and query POSTs, DeepScan calls" env PYTHON="$python" bash tests/clients/curl.sh \
  "$base" "$key" "$images/alipay.png" "$work/alipay.png" "$expected" "$images/second.png" "$second"
echo "clients: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
