# binlog-relay container image: build with cargo, run on a slim base as a non-root user.
#   docker build -t binlog-relay .
#   docker run -v relay-state:/var/lib/binlog-relay \
#     -v $PWD/config/binlog-relay.toml:/etc/binlog-relay/binlog-relay.toml:ro binlog-relay
# Configuration can also come entirely from BINLOG_RELAY__SECTION__KEY variables.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches examples \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > benches/rows.rs && echo 'fn main() {}' > examples/consume.rs \
    && cargo build --release --locked --bin binlog-relay
COPY src ./src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin binlog-relay

FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="binlog-relay" \
      org.opencontainers.image.description="MySQL/MariaDB binlog to RabbitMQ as Maxwell-format JSON, with publisher confirms"
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/binlog-relay binlog-relay \
    && mkdir -p /var/lib/binlog-relay /etc/binlog-relay \
    && chown binlog-relay /var/lib/binlog-relay
COPY --from=build /src/target/release/binlog-relay /usr/local/bin/binlog-relay
COPY config/binlog-relay.toml /etc/binlog-relay/binlog-relay.toml
USER binlog-relay
ENV BINLOG_RELAY__CHECKPOINT__DIR=/var/lib/binlog-relay
# /metrics, /healthz and /readyz for Prometheus and the orchestrator's probes.
ENV BINLOG_RELAY__HTTP__LISTEN=0.0.0.0:9187
EXPOSE 9187
VOLUME ["/var/lib/binlog-relay"]
# Transactions larger than transactions.memory_limit_mb wait in an unlinked file in /tmp, the
# container's writable layer; with a read-only root file system, mount a volume there.
# SIGTERM: stop reading, wait for outstanding confirms, write the checkpoint, exit 0; after
# shutdown.deadline_ms (30 s) it exits anyway. Give it time: `docker stop -t 60` /
# stop_grace_period: 60s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/binlog-relay"]
CMD ["run", "--config", "/etc/binlog-relay/binlog-relay.toml"]
