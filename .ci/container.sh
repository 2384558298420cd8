#!/usr/bin/env bash
# The Dockerfile's image, built and run with rootful podman from Debian's packages (issue 15).
# No registry is reachable from CI, so the base images are made here: Debian bookworm from the
# mirror apt already uses (debootstrap), imported as localhost/debian:bookworm-slim-ci<pid>, and for a
# full build a Rust image with Debian's rustc-web. Then the container is run as Kubernetes would
# run it (read-only root, no capabilities, no new privileges) and checked: /healthz, /readyz, uid 10001,
# the image's HEALTHCHECK, a real scan_url against an image server on 127.0.0.1, /metrics, and a
# clean exit on SIGTERM. Images and containers are removed at the end.
#
# QRSCAN_CI_IMAGE_BUILD=copy (default): the runtime stage of the Dockerfile with the binary
#   `cargo test` already built ($QRSCAN_BIN, else target/debug/qrscan, stripped) copied in.
#   Measured on a loaded 2-core VM: 2 min 40 s cold (debootstrap 111-193 s of it), 26-30 s with
#   the debootstrap tarball cached. The whole .ci/run stays well under 30 minutes cold.
# QRSCAN_CI_IMAGE_BUILD=full: the whole Dockerfile, cargo inside the build: about 8 minutes on
#   an idle 2-core machine, 37 under other builds; run it when the Dockerfile, Cargo.toml or the
#   toolchain changes.
# QRSCAN_CI_CACHE (default ~/.cache/qrscan-ci) keeps the debootstrap tarball for a week.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${QRSCAN_CI_IMAGE_BUILD:-copy}"
case "$mode" in copy | full) ;; *) echo "QRSCAN_CI_IMAGE_BUILD: copy or full, not $mode" >&2; exit 2 ;; esac
cache="${QRSCAN_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qrscan-ci}"
host_ca="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
# Tags of this run only: engineers share the machine's podman storage, and a second run must not
# remove the images a first one is still building on.
base="localhost/debian:bookworm-slim-ci$$"
rust="localhost/qrscan-rust:bookworm-ci$$"
image="localhost/qrscan:ci$$"
container="qrscan-ci-$$"
work="$(mktemp -d)"
mkdir -p "$cache"

say() { echo "container: $*" >&2; }
# `timed NAME CMD...` runs CMD and reports its wall time; the totals go in the last line.
timings=()
# Never call it in a condition (`timed ... || ...`): that would switch off set -e inside CMD.
timed() {
  local name=$1 start=$EPOCHREALTIME
  shift
  "$@"
  local took
  took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  timings+=("$name ${took}s")
  say "$name: ${took} s"
}

server_pid=
cleanup() {
  set +e
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  podman rm -f -t 0 "$container" >/dev/null 2>&1
  for name in "$image" "$image-runtime-base" "$rust" "$base"; do
    podman image exists "$name" && podman rmi -f "$name" >/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

# --- podman ------------------------------------------------------------------------------
install_podman() {
  if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends podman runc debootstrap
  fi
}
timed install install_podman
# crun fails on these machines' cgroups; the default ulimits must not pass the hard limits or
# setrlimit is refused; no systemd here, so cgroupfs and a file for events.
at_most() { if [ "$1" = unlimited ] || [ "$1" -gt "$2" ]; then echo "$2"; else echo "$1"; fi; }
nofile=$(at_most "$(ulimit -Hn)" 1048576)
nproc=$(at_most "$(ulimit -Hu)" 32768)
cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF="$work/containers.conf"
# docker format keeps HEALTHCHECK. No layer cache: every image is removed at the end anyway, and a
# full build's cached stage layers would leave about 2 GB of untagged images behind.
build=(podman build --pull=never --network host --format docker --layers=false)

# --- localhost/debian:bookworm-slim --------------------------------------------------------
# The deb822 file apt uses for bookworm names the mirror; the image gets the same file, so it
# reaches no other host and has bookworm-updates and bookworm-security too.
sources="$(grep -lE '^Suites:.*\bbookworm\b' /etc/apt/sources.list.d/*.sources | sed -n 1p)"
mirror="$(awk '/^URIs:/ { print $2; exit }' "$sources")"
rootfs_tar="$cache/debian-bookworm-minbase.tar"
make_rootfs() {
  local rootfs="$work/rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" \
    || { tail -20 "$work/debootstrap.log" >&2; return 1; }
  rm -f "$rootfs/etc/apt/sources.list"
  cp "$sources" "$rootfs/etc/apt/sources.list.d/debian.sources"
  # Slim as the official image is (debuerreotype's settings): apt keeps no caches or .debs,
  # dpkg installs no documentation, manuals or translations. Without this the runtime image
  # carries 80 MB of apt cache from its one `apt-get install`.
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
CONF
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CONF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda}/* \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -cf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$rootfs"
}
if [ -z "$(find "$rootfs_tar" -mtime -7 2>/dev/null)" ]; then
  say "debootstrap bookworm from $mirror"
  timed debootstrap make_rootfs
fi
timed import podman import --quiet "$rootfs_tar" "$base" >/dev/null

# --- the image -----------------------------------------------------------------------------
build_full() {
  mkdir -p "$work/rust"
  cat >"$work/rust/Containerfile" <<EOF
FROM $base
# rustc-web is the newer toolchain bookworm-security carries for browsers; plain rustc is 1.63.
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      rustc-web cargo-web gcc libc6-dev ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
EOF
  timed rust-image "${build[@]}" -q -t "$rust" "$work/rust" >/dev/null
  timed image build_full_image
}
build_full_image() {
  # Behind a TLS-inspecting proxy cargo trusts crates.io only with the host's CA bundle.
  "${build[@]}" -t "$image" \
    --build-arg "RUST_IMAGE=$rust" --build-arg "BASE_IMAGE=$base" \
    --build-arg CARGO_HTTP_CAINFO=/run/host-ca.crt -v "$host_ca:/run/host-ca.crt:ro" \
    . >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; return 1; }
}
build_copy() {
  local binary="${QRSCAN_BIN:-${CARGO_TARGET_DIR:-target}/debug/qrscan}"
  if [ ! -x "$binary" ]; then
    timed cargo cargo build --locked --bin qrscan
    binary="${CARGO_TARGET_DIR:-target}/debug/qrscan"
  fi
  mkdir -p "$work/copy"
  strip -o "$work/copy/qrscan" "$binary"
  # Everything but the binary comes from the Dockerfile's runtime stage, unchanged.
  timed runtime-base "${build[@]}" -q -t "$image-runtime-base" --target runtime-base \
    --build-arg "BASE_IMAGE=$base" . >/dev/null
  printf 'FROM %s\nCOPY qrscan /usr/local/bin/qrscan\n' "$image-runtime-base" >"$work/copy/Containerfile"
  timed image "${build[@]}" -q -t "$image" "$work/copy" >/dev/null
}
say "building the image ($mode)"
"build_$mode"
size=$(podman image inspect --format '{{.Size}}' "$image")
say "image size: $((size / 1000 / 1000)) MB"

# --- run it as Kubernetes would ------------------------------------------------------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
image_port=$(free_port)
python3 -m http.server "$image_port" --bind 127.0.0.1 --directory fixtures >/dev/null 2>&1 &
server_pid=$!

start_and_wait() {
  podman run -d --pull=never --network host --name "$container" \
    --read-only --cap-drop ALL --security-opt no-new-privileges \
    -e "QRSCAN_LISTEN=127.0.0.1:$port" -e QRSCAN_ALLOW_LOOPBACK=true \
    "$image" >/dev/null
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  podman logs "$container" >&2
  say "no answer on /healthz after 10 s"
  return 1
}
timed start start_and_wait

fail() { say "FAILED: $*"; podman logs "$container" >&2 || true; exit 1; }
check_running() {
  [ "$(curl -fsS "http://127.0.0.1:$port/healthz")" = '{"status":"ok"}' ] || fail "/healthz"
  [ "$(curl -fsS "http://127.0.0.1:$port/readyz")" = '{"status":"ready"}' ] || fail "/readyz"
  [ "$(podman exec "$container" id -u)" = 10001 ] || fail "the container does not run as uid 10001"
  podman healthcheck run "$container" >/dev/null || fail "podman healthcheck run"
  for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$image_port/rqrr-panic.png" -o /dev/null 2>/dev/null && break
    sleep 0.1
  done
  local answer expected
  answer=$(curl -fsS -X POST "http://127.0.0.1:$port/api/v1/qrcode/scan_url" \
    -H 'Content-Type: application/json' \
    -d "{\"url\":\"http://127.0.0.1:$image_port/rqrr-panic.png\"}")
  expected=$(cat fixtures/rqrr-panic.txt)
  python3 -c 'import json, sys; a = json.loads(sys.argv[1]); sys.exit(not (a["code"] == 0 and a["data"]["content"] == sys.argv[2]))' \
    "$answer" "$expected" || fail "scan_url answered $answer"
  # The in-flight gauge a fleet autoscaler would scale on.
  # Whole outputs are captured before grep -q reads them: grep stops at the first match, and
  # under pipefail the writer's SIGPIPE would fail a pipeline that found what it looked for.
  local metrics
  metrics=$(curl -fsS "http://127.0.0.1:$port/metrics") || fail "/metrics"
  grep -q '^qrscan_in_flight_requests ' <<<"$metrics" \
    || fail "/metrics has no qrscan_in_flight_requests"
}
timed checks check_running

stop_on_sigterm() {
  podman stop -t 20 "$container" >/dev/null   # SIGTERM, then SIGKILL after 20 s
  local status
  status=$(podman inspect --format '{{.State.ExitCode}}' "$container")
  [ "$status" = 0 ] || fail "exit status $status after SIGTERM"
  local logs
  logs=$(podman logs "$container" 2>&1)
  grep -q 'shutdown signal received' <<<"$logs" || fail "no shutdown line in the log"
}
timed sigterm stop_on_sigterm

say "ok ($mode build, $((size / 1000 / 1000)) MB): ${timings[*]}"
