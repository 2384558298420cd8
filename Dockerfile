# qrscan: a small runtime image with a non-root user, listening on 0.0.0.0:8080.
# Build: docker build -t qrscan .   Run: docker run -p 8080:8080 -e QRSCAN_API_KEYS=secret qrscan

FROM rust:1-bookworm AS build
WORKDIR /src
# The manifest names benches, examples and tests; cargo wants their files present to build at all.
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
COPY examples examples
COPY tests tests
RUN cargo build --release --locked --bin qrscan \
 && strip target/release/qrscan

FROM debian:bookworm-slim
# ca-certificates: TLS roots for https image URLs (rustls reads the system store).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin qrscan
COPY --from=build /src/target/release/qrscan /usr/local/bin/qrscan
USER qrscan
ENV QRSCAN_LISTEN=0.0.0.0:8080
EXPOSE 8080
# `qrscan health` probes /healthz itself: no curl in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=5s --retries=3 CMD ["qrscan", "health"]
ENTRYPOINT ["qrscan"]
CMD ["serve"]
