# syntax=docker/dockerfile:1
# booster in a container: `docker build -t booster .`
# Run scripts/fetch-graphiql.sh first to ship the GraphiQL playground's files in
# the image (assets/vendor/graphiql); without them the playground loads from a CDN.
# The default command is `booster serve` on 0.0.0.0:8080; run the jobs with
# `docker run ... booster worker`. Settings come from the environment
# (docs/OPERATIONS.md); BOOSTER_SECRET_KEY and DATABASE_URL are required.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
# The playground's files are optional: make sure the directory exists so the
# runtime stage can copy it either way.
RUN mkdir -p assets/vendor/graphiql
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin booster \
    && install -m 755 target/release/booster /usr/local/bin/booster

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 booster \
    && useradd --system --uid 10001 --gid booster --home-dir /app --shell /usr/sbin/nologin booster
COPY --from=builder /usr/local/bin/booster /usr/local/bin/booster
COPY --from=builder /src/assets/vendor/graphiql /app/assets/vendor/graphiql
WORKDIR /app
ENV BIND=0.0.0.0:8080 \
    GRAPHIQL_ASSETS_DIR=/app/assets/vendor/graphiql \
    LOG_FORMAT=json
USER booster:booster
EXPOSE 8080
# SIGTERM (docker stop) drains requests for SHUTDOWN_GRACE_SECONDS (30): give
# `docker stop` / compose a longer timeout than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/booster"]
CMD ["serve"]
