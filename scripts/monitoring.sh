#!/usr/bin/env bash
# Checks what operators and consumer teams take from this repository directly:
#   1. the Prometheus alert rules: `promtool check rules`, then `promtool test rules` with
#      their unit tests, and that every alert has a case that fires and one that does not;
#   2. the Grafana dashboard: the JSON is what monitoring/grafana/dashboard.py writes, it
#      type-checks against Grafana's own Dashboard model (@grafana/schema), and the
#      provisioning files parse (the metric names its queries use are checked against a
#      running daemon by the live test dashboard_and_alerts_name_only_exported_metrics);
#   3. the AsyncAPI document (contract/asyncapi.yaml), with the AsyncAPI parser, which also
#      resolves its references into contract/message.schema.json.
# promtool comes from Debian's `prometheus` package: only the binary is unpacked into
# /var/tmp/binlog-relay-tools, no Prometheus server is installed or started.
# Called by scripts/test.sh.
#
# usage: scripts/monitoring.sh
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'monitoring: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

tools=/var/tmp/binlog-relay-tools
promtool=$(command -v promtool || true)
if [ -z "$promtool" ]; then
  promtool=$tools/promtool
  if [ ! -x "$promtool" ]; then
    log "unpacking promtool from Debian's prometheus package"
    work=$(mktemp -d)
    (cd "$work" && apt-get download prometheus >/dev/null 2>&1) || {
      as_root apt-get update -qq && (cd "$work" && apt-get download prometheus >/dev/null 2>&1)
    }
    dpkg-deb -x "$work"/prometheus_*.deb "$work/x"
    mkdir -p "$tools"
    cp "$work/x/usr/bin/promtool" "$promtool"
    rm -rf "$work"
  fi
fi
python3 -c 'import yaml' 2>/dev/null || {
  as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-yaml >/dev/null
}
command -v npm >/dev/null 2>&1 || {
  as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nodejs npm >/dev/null
}

# 1. Alert rules.
(cd monitoring/prometheus && "$promtool" check rules binlog-relay.rules.yml && "$promtool" test rules binlog-relay.rules.test.yml)
python3 - <<'PY'
import sys, yaml
rules = yaml.safe_load(open("monitoring/prometheus/binlog-relay.rules.yml"))
tests = yaml.safe_load(open("monitoring/prometheus/binlog-relay.rules.test.yml"))
alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
fires, quiet = set(), set()
for t in tests["tests"]:
    for case in t.get("alert_rule_test", []):
        (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
missing = sorted((alerts - fires) | (alerts - quiet))
if missing:
    sys.exit(f"alerts without a firing and a quiet test case: {missing}")
for r in (r for g in rules["groups"] for r in g["rules"] if "alert" in r):
    a = r.get("annotations", {})
    if not (a.get("summary") and a.get("description") and a.get("runbook", "").startswith("docs/operations.md#")):
        sys.exit(f"{r['alert']}: needs a summary, a description and a runbook into docs/operations.md")
print(f"monitoring: {len(alerts)} alerts, each tested firing and quiet", file=sys.stderr)
PY
# Every runbook anchor exists in docs/operations.md (GitHub's heading anchors).
python3 - <<'PY'
import re, sys, yaml
rules = yaml.safe_load(open("monitoring/prometheus/binlog-relay.rules.yml"))
doc = open("docs/operations.md").read()
anchors = {re.sub(r"[^a-z0-9 _-]", "", h.strip().lower()).replace(" ", "-")
           for h in re.findall(r"^#+ (.*)$", doc, re.M)}
bad = [r["annotations"]["runbook"] for g in rules["groups"] for r in g["rules"]
       if r["annotations"]["runbook"].split("#", 1)[1] not in anchors]
if bad:
    sys.exit(f"runbook links without a heading in docs/operations.md: {bad}")
PY

# 2. Dashboard and provisioning.
python3 monitoring/grafana/dashboard.py --check
python3 - <<'PY'
import glob, yaml
for f in glob.glob("monitoring/**/*.yml", recursive=True):
    yaml.safe_load(open(f))
PY
log "dashboard: monitoring/grafana/binlog-relay.json is current"
# Grafana itself cannot be installed here: the dashboard is type-checked against the
# Dashboard model Grafana's own @grafana/schema package generates from its schema.
if [ ! -d monitoring/grafana/node_modules ] || [ monitoring/grafana/package-lock.json -nt monitoring/grafana/node_modules ]; then
  (cd monitoring/grafana && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
(cd monitoring/grafana && node check-dashboard.mjs binlog-relay.json)

# 3. The AsyncAPI document.
if [ ! -d contract/node_modules ] || [ contract/package-lock.json -nt contract/node_modules ]; then
  (cd contract && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
log "AsyncAPI parser on node $(node --version) (the lock file's packages ask for 20 or later)"
(cd contract && node validate-asyncapi.mjs asyncapi.yaml)
