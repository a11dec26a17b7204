#!/usr/bin/env bash
# Exercises the deployment files without a container engine or a systemd boot:
#   1. systemd-analyze verify on systemd/binlog-relay.service (its ExecStart pointed at the
#      binary built here, since verify insists the executable exists);
#   2. the Dockerfile's build command, run as written;
#   3. the image's runtime as far as it can go without Docker: the built binary, run with
#      the Dockerfile's CMD, ENV, USER (its uid) and config, against the test services; its
#      HEALTHCHECK command must pass while it streams, and its STOPSIGNAL must stop it
#      cleanly (exit 0) well within the stop grace period the docs give (60 s).
# Called by scripts/test.sh; needs scripts/services.sh up.
#
# usage: scripts/check-deploy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'check-deploy: %s\n' "$*" >&2; }

eval "$(scripts/services.sh env | sed 's/^/export /')"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. The systemd unit.
command -v systemd-analyze >/dev/null 2>&1 || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
}
cargo build --quiet --locked --bin binlog-relay
sed "s#/usr/local/bin/binlog-relay#$PWD/target/debug/binlog-relay#" systemd/binlog-relay.service \
  >"$work/binlog-relay.service"
out=$(systemd-analyze verify "$work/binlog-relay.service" 2>&1) || { echo "$out" >&2; exit 1; }
if [ -n "$out" ]; then
  echo "$out" >&2
  log "systemd-analyze verify printed warnings"
  exit 1
fi
log "systemd-analyze verify: clean"

# 2. The Dockerfile's build command (its last cargo build), as written.
build=$(grep -o 'cargo build --release[^&]*--bin binlog-relay' Dockerfile | tail -n 1)
[ -n "$build" ] || { log "no cargo build command found in the Dockerfile"; exit 1; }
log "building as the Dockerfile does: $build"
$build --quiet

# 2b. The build context: only what the build stage COPYs is there, so every path the
# manifest needs (the vendored crates of [patch]) must be copied before its first build.
# The COPY lines before that build, as Docker copies them, then its RUN's stub files.
context="$work/context"
mkdir -p "$context"
while read -r -a words; do
  dest=${words[-1]}
  mkdir -p "$context/$dest"
  for src in "${words[@]:0:${#words[@]}-1}"; do
    if [ -d "$src" ]; then cp -r "$src/." "$context/$dest/"; else cp "$src" "$context/$dest/"; fi
  done
done < <(awk '/^FROM/{stage++} stage==1 && /cargo build/{exit} stage==1 && /^COPY /{sub(/^COPY /,""); print}' Dockerfile)
stubs=$(awk '/^FROM/{stage++} stage==1' Dockerfile | sed -n '/^RUN /,/cargo build/p' \
  | sed -n '1,/cargo build/p' | sed 's/\\$//' | tr '\n' ' ' \
  | sed -e 's/^RUN //' -e 's/&& *cargo build.*//')
(cd "$context" && eval "$stubs")
if ! (cd "$context" && cargo metadata --locked --offline --format-version 1 >/dev/null 2>"$work/metadata.err"); then
  cat "$work/metadata.err" >&2
  log "the Dockerfile's first build cannot resolve the manifest from what it copies (COPY the missing path before it)"
  exit 1
fi
log "Dockerfile build context: the manifest resolves from what it copies"

# 3. The runtime, as the image runs it. Running as another uid takes root.
[ "$(id -u)" = 0 ] || { log "step 3 runs the binary as the image's uid, which needs root"; exit 1; }
uid=$(grep -o -- '--uid [0-9]*' Dockerfile | awk '{print $2}')
[ -n "$uid" ] || { log "no --uid in the Dockerfile"; exit 1; }
mkdir -p "$work/bin" "$work/state"
cp target/release/binlog-relay "$work/bin/binlog-relay"
# The config too: the clone may sit where uid 10001 cannot read (under /root, say).
cp config/binlog-relay.toml "$work/binlog-relay.toml"
chmod 644 "$work/binlog-relay.toml"
chmod 755 "$work" "$work/bin"
chown "$uid:$uid" "$work/state"
# ENV lines, then the CMD and HEALTHCHECK arrays (JSON form, as the Dockerfile writes them).
mapfile -t image_env < <(sed -n 's/^ENV //p' Dockerfile)
json_array() { python3 -c 'import json,sys; print("\n".join(json.loads(sys.argv[1])))' "$1"; }
mapfile -t cmd < <(json_array "$(sed -n 's/^CMD //p' Dockerfile)")
mapfile -t health < <(json_array "$(sed -n 's/^HEALTHCHECK .*CMD //p' Dockerfile)")
# The image's paths, mapped onto this machine: the binary, and the config file it copies in.
cmd=("${cmd[@]//\/etc\/binlog-relay\/binlog-relay.toml/$work/binlog-relay.toml}")
health=("${health[@]//\/usr\/local\/bin\/binlog-relay/$work/bin/binlog-relay}")
port=${BINLOG_RELAY_TEST_MYSQL_URL##*:}
# The image keeps the shipped default, source.tls.mode = "verify-identity": the project
# MariaDB's certificate names localhost and comes from the test CA.
cp "$BINLOG_RELAY_TEST_TLS_DIR/ca.pem" "$work/db-ca.pem"
chmod 644 "$work/db-ca.pem"
# The image's environment and user, then the services of this machine.
as_image_user=(env -i PATH=/usr/bin:/bin "${image_env[@]}"
  BINLOG_RELAY__SOURCE__HOST=localhost BINLOG_RELAY__SOURCE__PORT="$port"
  BINLOG_RELAY__SOURCE__TLS__CA_FILE="$work/db-ca.pem"
  BINLOG_RELAY__SOURCE__USER=root BINLOG_RELAY__SOURCE__SERVER_ID=7301
  BINLOG_RELAY__SINK__RABBITMQ__URI="$BINLOG_RELAY_TEST_AMQP_URI"
  BINLOG_RELAY__SINK__RABBITMQ__EXCHANGE=check-deploy
  BINLOG_RELAY__CHECKPOINT__DIR="$work/state"
  setpriv --reuid="$uid" --regid="$uid" --clear-groups --no-new-privs)
log "running ${cmd[*]} as uid $uid"
# env and setpriv exec the daemon, so $! is the daemon itself.
"${as_image_user[@]}" "$work/bin/binlog-relay" "${cmd[@]}" >"$work/out.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
healthy=0
for _ in $(seq 1 60); do
  if "${as_image_user[@]}" "${health[@]}" >/dev/null 2>&1 \
    && "${as_image_user[@]}" "${health[@]}" --path /readyz >/dev/null 2>&1; then
    healthy=1
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
if [ "$healthy" != 1 ]; then
  cat "$work/out.log" >&2
  log "the HEALTHCHECK command never passed"
  kill "$pid" 2>/dev/null || true
  exit 1
fi
log "HEALTHCHECK passes: ${health[*]}"
signal=$(sed -n 's/^STOPSIGNAL //p' Dockerfile)
t0=$(date +%s)
kill -s "${signal#SIG}" "$pid"
code=0
wait "$pid" || code=$?
t1=$(date +%s)
if [ "$code" != 0 ]; then
  cat "$work/out.log" >&2
  log "$signal stopped it with exit code $code"
  exit 1
fi
[ -s "$work/state/position.json" ] || { log "no checkpoint written as uid $uid"; exit 1; }
log "$signal: clean stop in $((t1 - t0)) s, checkpoint written as uid $uid"
