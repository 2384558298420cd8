#!/usr/bin/env bash
# qrscan behind a real gateway (issue 24): nginx from Debian's packages in front of the real
# binary, configured by deploy/nginx/qrscan.conf as shipped (only the listen port, the upstream
# address and the certificate paths are rewritten), TLS with a certificate made here. Clients
# connect from their own loopback addresses (127.0.0.2, .3, ...), so the address qrscan logs and
# limits can be told from nginx's (127.0.0.1). Checks:
#   - a scan through the gateway reads its code, and qrscan logs the client's address;
#   - --rate-limit counts each client, and a client rotating a spoofed X-Forwarded-For or
#     Forwarded header (or sending bytes that are not text in it) is still limited as itself;
#   - a body just over --max-image-bytes is qrscan's 1005; one over client_max_body_size is
#     nginx's 413, and qrscan never sees it;
#   - /metrics is refused to public clients at the gateway.
# Everything stays on 127.0.0.0/8. Needs QRSCAN_BIN (default target/debug/qrscan).
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${QRSCAN_BIN:-target/debug/qrscan}"
if ! command -v nginx >/dev/null; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light openssl
fi

work="$(mktemp -d)"
qrscan_pid='' nginx_pid=''
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  [ -n "$qrscan_pid" ] && kill "$qrscan_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
say() { echo "gateway: $*" >&2; }
fail() {
  say "FAILED: $*"
  say "qrscan's log:"; tail -n 20 "$work/qrscan.log" >&2 || true
  say "nginx's log:"; tail -n 20 "$work/error.log" >&2 || true
  exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

qport=$(free_port) nport=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
sed -e "s|listen 443 ssl|listen 127.0.0.1:$nport ssl|" \
    -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$qport;|" \
    -e "s|/etc/nginx/tls/qrscan.crt|$work/tls.crt|" \
    -e "s|/etc/nginx/tls/qrscan.key|$work/tls.key|" \
    deploy/nginx/qrscan.conf >"$work/qrscan.conf"
grep -q "listen 127.0.0.1:$nport ssl" "$work/qrscan.conf" && grep -q "server 127.0.0.1:$qport;" "$work/qrscan.conf" \
  || fail "deploy/nginx/qrscan.conf no longer has the lines this script rewrites"
cat >"$work/nginx.conf" <<CONF
user root root;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log info;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $work/body;
    proxy_temp_path $work/proxy;
    include $work/qrscan.conf;
}
CONF
nginx -t -c "$work/nginx.conf" -e "$work/error.log" 2>/dev/null || { nginx -t -c "$work/nginx.conf"; fail "nginx -t"; }

# A limit low enough to cross in three requests: two at once, then one every 100 s.
"$bin" serve --listen "127.0.0.1:$qport" --trusted-proxies 127.0.0.1/32 \
  --rate-limit 0.01 --rate-burst 2 --log-format json >"$work/qrscan.log" 2>&1 &
qrscan_pid=$!
nginx -c "$work/nginx.conf" -e "$work/error.log" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 100); do
  curl -sk -o /dev/null "https://127.0.0.1:$nport/healthz" && break
  sleep 0.1
done

url="https://127.0.0.1:$nport"
# `request FROM ARGS...`: curl from source address FROM through the gateway; prints
# "STATUS BODY".
request() {
  local from=$1
  shift
  curl -sk --interface "$from" -o "$work/response" -w '%{http_code}' "$@" | tr -d '\n'
  printf ' '
  cat "$work/response"
  echo
}
field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1].split(" ",1)[1]); print(eval("d"+sys.argv[2]))' "$1" "$2"; }

say "a scan through the gateway reads its code"
out=$(request 127.0.0.2 -F file=@fixtures/rmqr-r13x43.png "$url/api/v1/qrcode/scan")
[ "${out%% *}" = 200 ] || fail "upload: $out"
[ "$(field "$out" '["code"]')" = 0 ] || fail "upload: $out"
[ "$(field "$out" '["data"]["content"]')" = "$(cat fixtures/rmqr-r13x43.txt)" ] || fail "content: $out"

# `logged_client ADDRESS`: the last scan qrscan logged was from ADDRESS.
logged_client() {
  python3 - "$work/qrscan.log" "$1" <<'PY' || fail "the last scan was not logged as from $1"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
scans = [l for l in lines if l.get("route") == "/api/v1/qrcode/scan"]
assert scans, "no request line for the scan"
client = scans[-1]["client"]
assert client == sys.argv[2], f"logged client {client!r}, expected {sys.argv[2]}"
PY
}

say "qrscan logs the client's address, not the gateway's"
logged_client 127.0.0.2

say "a client rotating spoofed X-Forwarded-For and Forwarded headers is limited as itself"
for i in 1 2 3; do
  out=$(request 127.0.0.3 -H "X-Forwarded-For: 203.0.113.$i" -H "Forwarded: for=198.51.100.$i" \
    -F file=@fixtures/rmqr-r13x43.png "$url/api/v1/qrcode/scan")
  status=${out%% *}
  if [ "$i" -lt 3 ]; then [ "$status" = 200 ] || fail "request $i: $out"; fi
done
[ "$status" = 429 ] || fail "third spoofed request: $out"
logged_client 127.0.0.3

say "bytes that are not text in X-Forwarded-For do not hide the address nginx appended"
for i in 1 2 3; do
  out=$(request 127.0.0.4 -H $'X-Forwarded-For: 203.0.113.9\xff\xfe, \xc3(' \
    -F file=@fixtures/rmqr-r13x43.png "$url/api/v1/qrcode/scan")
  status=${out%% *}
done
[ "$status" = 429 ] || fail "third request with obs-text: $out"
logged_client 127.0.0.4

say "another client is not limited by them"
out=$(request 127.0.0.5 -F file=@fixtures/rmqr-r13x43.png "$url/api/v1/qrcode/scan")
[ "${out%% *}" = 200 ] && [ "$(field "$out" '["code"]')" = 0 ] || fail "fresh client: $out"

say "a body just over --max-image-bytes is qrscan's 1005"
head -c $((10 * 1024 * 1024 + 1)) /dev/zero >"$work/over"
out=$(request 127.0.0.6 -H 'Content-Type: application/octet-stream' --data-binary @"$work/over" \
  "$url/api/v1/qrcode/scan")
[ "${out%% *}" = 200 ] && [ "$(field "$out" '["code"]')" = 1005 ] || fail "10 MiB + 1: $out"

say "a body over client_max_body_size is nginx's 413, before qrscan"
head -c $((12 * 1024 * 1024)) /dev/zero >"$work/huge"
before=$(grep -c '"route":"/api/v1/qrcode/scan"' "$work/qrscan.log" || true)
out=$(request 127.0.0.7 -H 'Content-Type: application/octet-stream' --data-binary @"$work/huge" \
  "$url/api/v1/qrcode/scan")
[ "${out%% *}" = 413 ] || fail "12 MiB: $out"
after=$(grep -c '"route":"/api/v1/qrcode/scan"' "$work/qrscan.log" || true)
[ "$before" = "$after" ] || fail "qrscan saw the 12 MiB request"

say "/metrics is refused to public clients at the gateway"
out=$(request 127.0.0.2 "$url/metrics")
[ "${out%% *}" = 403 ] || fail "/metrics: $out"

say "all checks passed"
