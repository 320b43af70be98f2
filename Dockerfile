# scaivault container image: `docker build -t scaivault .` (see README "Container").
# The build stage runs exactly README's release build command; tests/it/container.rs checks that
# and that every path and command the runtime stage names exists. scripts/container-test.sh builds
# and runs this same runtime stage with podman (its FROM swapped for a local Debian base, its
# `COPY --from=build …` for a prebuilt binary), so keep that COPY on one line.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Optional: the commit shown by GET /v1/version (`--build-arg SCAIVAULT_COMMIT=$(git rev-parse --short=12 HEAD)`).
ARG SCAIVAULT_COMMIT
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 scaivault \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin scaivault \
    && mkdir -p /data \
    && chown scaivault:scaivault /data
COPY --from=build /src/target/release/scaivault /usr/local/bin/scaivault
USER 10001:10001
WORKDIR /data
VOLUME /data
ENV SCAIVAULT_LISTEN=0.0.0.0:8210 \
    SCAIVAULT_DATA_DIR=/data \
    SCAIVAULT_DATABASE_URL=sqlite:///data/scaivault.db \
    SCAIVAULT_LOG_FORMAT=json
EXPOSE 8210
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["scaivault", "health"]
ENTRYPOINT ["scaivault"]
CMD ["serve"]
