# qrscan: a small runtime image with a non-root user (uid 10001), listening on 0.0.0.0:8080.
# Build: docker build -t qrscan .   Run: docker run -p 8080:8080 -e QRSCAN_API_KEYS=secret qrscan
# (podman: add --format docker, or its default OCI format drops the HEALTHCHECK).
#
# Behind a TLS-inspecting proxy cargo trusts crates.io only with the proxy's CA: mount your bundle
# read-only and name it (podman/buildah; `docker build` has no -v):
#   podman build --format docker -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro \
#     --build-arg CARGO_HTTP_CAINFO=/run/host-ca.crt -t qrscan .
# RUST_IMAGE and BASE_IMAGE replace the registry images, for mirrors and for CI, which has no
# registry and builds its own (.ci/container.sh).

ARG RUST_IMAGE=rust:1-bookworm
ARG BASE_IMAGE=debian:bookworm-slim

# Dependencies only, from Cargo.toml and Cargo.lock with stub sources (what cargo-chef does): this
# layer is rebuilt only when the manifest or the lock file changes, not on every source edit.
FROM ${RUST_IMAGE} AS deps
ARG CARGO_HTTP_CAINFO
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates/decode/Cargo.toml crates/decode/
# Crates patched in the manifest ([patch.crates-io]), built with the dependencies.
COPY crates/decode/vendor crates/decode/vendor
# Cargo refuses a manifest whose targets have no file, so each workspace member gets an empty
# library, and every [lib], [[bin]], [[bench]], [[test]] and [[example]] its manifest names an
# empty `fn main() {}` at its path (or cargo's default).
RUN for crate in . crates/decode; do \
      mkdir -p "$crate/src" && echo 'fn main() {}' > "$crate/src/lib.rs"; \
      awk -F'"' ' \
        function flush() { if (dir != "") print (path != "" ? path : dir "/" name ".rs"); dir = name = path = "" } \
        /^\[/ { flush() } \
        /^\[lib\]/ { dir = "src"; name = "lib" } \
        /^\[\[bin\]\]/ { dir = "src/bin" } /^\[\[bench\]\]/ { dir = "benches" } \
        /^\[\[test\]\]/ { dir = "tests" } /^\[\[example\]\]/ { dir = "examples" } \
        /^name *=/ { name = $2 } /^path *=/ { path = $2 } \
        END { flush() }' "$crate/Cargo.toml" \
      | while read -r stub; do mkdir -p "$crate/$(dirname "$stub")" && echo 'fn main() {}' > "$crate/$stub"; done; \
    done \
 && cargo build --release --locked --bin qrscan

FROM deps AS build
ARG CARGO_HTTP_CAINFO
# Only the sources: the stubs stand in for benches and tests, so editing those does not rebuild
# the image.
COPY src src
COPY crates/decode/src crates/decode/src
# The copied sources may be older than the stub build: touch them so cargo rebuilds our crates.
RUN find src crates/decode/src -name '*.rs' -exec touch {} + \
 && cargo build --release --locked --bin qrscan \
 && strip target/release/qrscan \
 && cp target/release/qrscan /usr/local/bin/qrscan

# Everything of the runtime image but the binary; .ci/container.sh copies a host-built one onto it.
FROM ${BASE_IMAGE} AS runtime-base
# ca-certificates: TLS roots for https image URLs (rustls reads the system store).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 qrscan \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin qrscan
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
ENV QRSCAN_LISTEN=0.0.0.0:8080
EXPOSE 8080
# `qrscan health` probes /healthz itself: no curl in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=5s --retries=3 CMD ["qrscan", "health"]
ENTRYPOINT ["qrscan"]
CMD ["serve"]

FROM runtime-base AS runtime
COPY --from=build /usr/local/bin/qrscan /usr/local/bin/qrscan
