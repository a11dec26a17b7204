#!/usr/bin/env bash
# Fuzzes the replay path (binlog bytes through the same parser, reader and decoder as the
# live stream) and the DDL reader with libFuzzer, on the stable toolchain: the targets in
# fuzz/ are built with SanitizerCoverage flags (what cargo-fuzz passes with
# --sanitizer none), so neither cargo-fuzz nor a nightly compiler is needed.
#
# usage: scripts/fuzz.sh [SECONDS] [TARGET ...]     (default: 60 s each for replay and ddl)
#        scripts/fuzz.sh --ci                       (the CI slice: see below)
#   FUZZ_JOBS=N   run N processes per target (libFuzzer -fork=N), for long runs
#
# --ci: a fixed number of mutations (FUZZ_CI_RUNS, 20000) from the seeds alone with a fixed
# random seed. Nearly the same slice on every clone: hash maps with random keys and clock
# reads in the code under test can still shift coverage feedback a little, so a failure is
# a real finding (kept in artifacts/), never a flake of the test itself. Finding new
# inputs is what the timed runs are for.
#
# Seeds: every fixture binlog under 256 KiB and the damaged ones in
# tests/fixtures/fuzz-crashers (replay), fuzz/seeds/ddl (ddl). The corpus grows in
# target/fuzz/corpus/TARGET; a crash, an abort (including an allocation over 256 MiB) or
# an input that runs over 10 s stops the run, fails the script and is kept in
# target/fuzz/artifacts/TARGET/. Replay one with: fuzz/target/.../replay FILE
set -euo pipefail
cd "$(dirname "$0")/.."
CI=
if [ "${1:-}" = --ci ]; then
  CI=1
  shift
  set -- 0 "$@"
fi
SECONDS_EACH=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(replay ddl)
JOBS=${FUZZ_JOBS:-1}
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')

export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# Its own target directory, whatever CARGO_TARGET_DIR says, so the binaries are where the
# loop below runs them. fuzz/Cargo.lock pins what Cargo.lock pins, plus libFuzzer.
cargo build --release --quiet --locked --manifest-path fuzz/Cargo.toml --target "$TRIPLE" \
  --target-dir fuzz/target --bins

work=target/fuzz
for target in "${TARGETS[@]}"; do
  corpus=$work/corpus/$target
  seeds=$work/seeds/$target
  artifacts=$work/artifacts/$target/
  if [ -n "$CI" ]; then
    corpus=$work/ci-corpus/$target
    rm -rf "$corpus"
  fi
  # Artifacts are this run's findings: the last run's go (copy out those worth keeping).
  rm -rf "$artifacts"
  mkdir -p "$corpus" "$seeds" "$artifacts"
  case $target in
    replay)
      # Named by their path, so files of the same name in two fixture sets both seed.
      find tests/fixtures/binlog -type f -size -256k \
        ! -name '*.jsonl' ! -name '*.md' ! -name '*.sql' ! -name '*.txt' ! -name '*.py' \
        ! -name '*.sh' ! -name '*.json' -print0 |
        while IFS= read -r -d '' f; do cp -f "$f" "$seeds/$(echo "$f" | tr '/' '_')"; done
      cp -f tests/fixtures/fuzz-crashers/*.bin "$seeds/"
      ;;
    ddl) cp -f fuzz/seeds/ddl/* "$seeds/" ;;
    *) echo "unknown target $target (replay, ddl)" >&2; exit 2 ;;
  esac
  fork=()
  [ "$JOBS" -gt 1 ] && fork=(-fork="$JOBS")
  limit=(-max_total_time="$SECONDS_EACH")
  if [ -n "$CI" ]; then
    fork=()
    limit=(-seed=1 -runs="${FUZZ_CI_RUNS:-20000}")
  fi
  echo "== fuzzing $target: ${limit[*]} ($(ls "$seeds" | wc -l) seeds, corpus $(ls "$corpus" | wc -l))"
  log=$work/$target.log
  status=0
  "fuzz/target/$TRIPLE/release/$target" "${fork[@]}" "${limit[@]}" \
    -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
    -artifact_prefix="$artifacts" -print_final_stats=1 "$corpus" "$seeds" >"$log" 2>&1 || status=$?
  grep -E '^(#[0-9]+.*(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+== ERROR|SUMMARY|INFO: -fork)|panicked|allocation of' "$log" || true
  # Fork mode prints no DONE line: its last progress line holds the executions.
  [ ${#fork[@]} -eq 0 ] || grep -E '^#[0-9]+: cov' "$log" | tail -n 1 || true
  # libFuzzer exits 0 when the time is up; anything else is a finding or a failure to run.
  if [ "$status" -ne 0 ] || [ -n "$(ls -A "$artifacts")" ]; then
    echo "fuzzing $target failed (exit $status; the whole output: $log)" >&2
    tail -n 20 "$log" >&2
    ls "$artifacts" >&2
    exit 1
  fi
done
