#!/usr/bin/env bash
# Schemathesis against the document qrscan serves at /openapi.json, in both --http-status modes:
# every generated request must be answered as the document says (status, headers, body schema),
# never with a 5xx. Fails on any check failure.
#
# Schemathesis comes from PyPI, pinned, into a venv under the target dir; that is the only
# download. The run itself is offline: the script re-executes itself in a network namespace
# holding only loopback (`unshare -n`, as root), and qrscan gets `--allow-host qrscan.invalid`,
# a name that cannot exist, so every URL schemathesis invents is refused before any lookup.
#
# QRSCAN_BIN: the binary to test (default: the debug build `cargo test` leaves).
# SCHEMATHESIS_MAX_EXAMPLES (30) and SCHEMATHESIS_SEED (fixed, for a reproducible CI run).
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
# Absolute: schemathesis runs from inside the target dir, where its `.schemathesis/` cache belongs.
target="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
venv="$target/schemathesis-$version"
bin="$(realpath -m "${QRSCAN_BIN:-$target/debug/qrscan}")"
port=18080
key=schemathesis-key

if [ "${1:-}" != --offline ]; then
  if [ ! -x "$bin" ]; then
    echo "schemathesis.sh: no qrscan binary at $bin (run cargo build, or set QRSCAN_BIN)" >&2
    exit 1
  fi
  if [ ! -x "$venv/bin/schemathesis" ]; then
    if ! python3 -m venv "$venv"; then
      # Debian's python3 leaves venv (ensurepip) to the python3-venv package.
      rm -rf "$venv"
      apt-get update
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
      python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
  fi
  if unshare -n true 2>/dev/null; then
    exec unshare -n bash "$0" --offline
  fi
  # Without a namespace (not root) --allow-host alone keeps qrscan from fetching anything.
  echo "schemathesis.sh: unshare -n unavailable; relying on --allow-host alone" >&2
  exec bash "$0" --offline
fi

python="$venv/bin/python"
# A new network namespace has its loopback down; `ip` is not on every machine, so an ioctl
# (SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP) brings it up.
"$python" - <<'EOF'
import fcntl, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
if not flags & 1:
    fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))
EOF

server=
stop() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=
  fi
}
trap stop EXIT

# Checks that contradict the contract, not the document:
# - positive_data_acceptance wants a schema-valid request answered 2xx/401/403/404/409/429/5xx.
#   A schema can say a request is well formed, not that its URL is fetchable (`ftp:` is 1001,
#   400 in rest) or its bytes an image (1007, 415); in rest mode those are 4xx by API.md section 4.
# - negative_data_rejection (compat only) wants a malformed request answered 4xx; compat mode
#   answers 200 with code 400 for it, as cli.im's clients expect.
# run MODE [qrscan flags...] -- [schemathesis flags...]
run() {
  local mode=$1
  shift
  local exclude=positive_data_acceptance${EXCLUDE_MORE:-}
  if [ "$mode" = compat ]; then exclude+=,negative_data_rejection; fi
  local serve=()
  while [ "$1" != -- ]; do serve+=("$1"); shift; done
  shift
  local log="$target/schemathesis-$mode.log"
  "$bin" serve --listen "127.0.0.1:$port" --http-status "$mode" \
    --allow-host qrscan.invalid "${serve[@]}" >"$log" 2>&1 &
  server=$!
  "$python" - "$port" <<'EOF'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=1)
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("qrscan did not start")
EOF
  echo "--- schemathesis $version, --http-status $mode ${serve[*]}"
  local start=$SECONDS
  if ! (cd "$target" && "$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
    --checks all \
    --exclude-checks "$exclude" \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
    --seed "${SCHEMATHESIS_SEED:-14}" \
    --no-color \
    --generation-database none \
    "$@"); then
    echo "schemathesis.sh: FAILED in --http-status $mode; qrscan's log: $log" >&2
    exit 1
  fi
  echo "--- --http-status $mode passed in $((SECONDS - start)) s"
  stop
}

# - the legacy decoder (tag deqr) answers every request HTTP 200, a malformed one too (API.md
#   section 9): negative_data_rejection is left out for it alone, in a run of its own.
run rest --api-keys "$key" -- --header "Authorization: Bearer $key" --exclude-tag deqr
EXCLUDE_MORE=,negative_data_rejection run rest --api-keys "$key" -- \
  --header "Authorization: Bearer $key" --include-tag deqr
run compat --
