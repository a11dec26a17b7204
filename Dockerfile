# binlog-relay container image: built with cargo, run on a slim base as a non-root user.
#   docker build -t binlog-relay .
#   docker run --stop-timeout 45 -v relay-state:/var/lib/binlog-relay \
#     -v $PWD/binlog-relay.toml:/etc/binlog-relay/binlog-relay.toml:ro binlog-relay
# Configuration: the file above, or BINLOG_RELAY__SECTION__KEY variables over the default
# one; passwords from files (source.password_file, sink.rabbitmq.password_file) such as
# Docker secrets in /run/secrets. docs/deployment.md; docker-compose.yml is an example.
# scripts/check-deploy.sh runs this file's build command and its runtime (CMD, ENV, uid,
# HEALTHCHECK, STOPSIGNAL) without a container engine, in CI.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
# The patched mysql_common and mysql_async ([patch.crates-io]; vendor/README.md).
COPY vendor ./vendor
RUN mkdir -p src benches examples \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > benches/rows.rs && echo 'fn main() {}' > examples/consume.rs \
    && cargo build --release --locked --bin binlog-relay
COPY src ./src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin binlog-relay

FROM debian:bookworm-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="binlog-relay" \
      org.opencontainers.image.description="MySQL/MariaDB binlog to RabbitMQ as Maxwell-format JSON, with publisher confirms" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.documentation="docs/deployment.md" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"
# The binary needs only libc; ca-certificates for TLS to servers with public certificates.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 binlog-relay \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/binlog-relay binlog-relay \
    && mkdir -p /var/lib/binlog-relay /etc/binlog-relay \
    && chown binlog-relay:binlog-relay /var/lib/binlog-relay \
    && chmod 0700 /var/lib/binlog-relay
COPY --from=build /src/target/release/binlog-relay /usr/local/bin/binlog-relay
COPY config/binlog-relay.toml /etc/binlog-relay/binlog-relay.toml
USER 10001:10001
ENV BINLOG_RELAY__CHECKPOINT__DIR=/var/lib/binlog-relay
# /metrics, /healthz and /readyz for Prometheus and the orchestrator's probes.
ENV BINLOG_RELAY__HTTP__LISTEN=0.0.0.0:9187
EXPOSE 9187
# The checkpoint and schema history: keep them across container replacements.
VOLUME ["/var/lib/binlog-relay"]
# Transactions larger than transactions.memory_limit_mb wait in an unlinked file in /tmp, the
# container's writable layer; with a read-only root file system, mount a tmpfs or volume there.
# Alive = the process answers /healthz; no shell or curl in the image. Give a first start
# time to capture the schema.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["/usr/local/bin/binlog-relay", "health", "--address", "127.0.0.1:9187"]
# SIGTERM: stop reading, wait for outstanding confirms, write the checkpoint, exit 0; after
# shutdown.deadline_ms (30 s) it exits anyway. Give it longer than that before SIGKILL:
# `docker run --stop-timeout 45`, compose `stop_grace_period: 45s`, Kubernetes
# `terminationGracePeriodSeconds: 45`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/binlog-relay"]
CMD ["run", "--config", "/etc/binlog-relay/binlog-relay.toml"]
