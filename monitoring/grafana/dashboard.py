#!/usr/bin/env python3
"""Writes monitoring/grafana/binlog-relay.json, the Grafana dashboard for binlog-relay.

The dashboard is generated so that every panel follows the same conventions (the
`datasource`, `job` and `instance` variables on every query, units, one row per concern);
edit this file and run it, rather than editing the JSON. `--check` exits 1 when the JSON on
disk is not what this file writes (scripts/monitoring.sh runs it in CI), and a live test
(`dashboard_and_alerts_name_only_exported_metrics`) checks every metric the queries name
against a running daemon's /metrics.

usage: monitoring/grafana/dashboard.py [--check]
"""
import json
import pathlib
import sys

OUT = pathlib.Path(__file__).with_name("binlog-relay.json")
SEL = '{job=~"$job",instance=~"$instance"}'
DS = {"type": "prometheus", "uid": "${datasource}"}

panels = []
next_id = [1]
y = [0]


def panel(kind, title, targets, w, h, x, unit=None, description="", **extra):
    p = {
        "id": next_id[0],
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"h": h, "w": w, "x": x, "y": y[0]},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DS,
                "expr": expr,
                "legendFormat": legend,
            }
            for i, (expr, legend) in enumerate(targets)
        ],
        "fieldConfig": {"defaults": {"unit": unit or "short"}, "overrides": []},
        "options": {},
    }
    p.update(extra)
    next_id[0] += 1
    panels.append(p)


def row(title):
    panels.append(
        {
            "id": next_id[0],
            "type": "row",
            "title": title,
            "collapsed": False,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y[0]},
            "panels": [],
        }
    )
    next_id[0] += 1
    y[0] += 1


def stat_row(stats):
    w = 24 // len(stats)
    for i, (title, expr, unit, description, mappings) in enumerate(stats):
        panel(
            "stat",
            title,
            [(expr, "{{instance}}")],
            w,
            4,
            i * w,
            unit=unit,
            description=description,
        )
        if mappings:
            panels[-1]["fieldConfig"]["defaults"]["mappings"] = mappings
    y[0] += 4


def pair(left, right, h=8):
    for i, spec in enumerate((left, right)):
        title, targets, unit, description = spec
        panel("timeseries", title, targets, 12, h, i * 12, unit=unit, description=description)
    y[0] += h


def role_map(zero, one):
    return [
        {
            "type": "value",
            "options": {
                "0": {"text": zero, "color": "orange"},
                "1": {"text": one, "color": "green"},
            },
        }
    ]


row("Now")
stat_row(
    [
        ("Role", f"binlog_relay_leader{SEL}", "none",
         "Leader publishes; a standby waits for the lock (docs/high-availability.md).",
         role_map("standby", "leader")),
        ("Streaming", f"binlog_relay_streaming{SEL}", "none",
         "1 while the binlog stream is open.", role_map("not streaming", "streaming")),
        ("Lag", f"binlog_relay_lag_seconds{SEL}", "s",
         "Now minus the timestamp of the last event read; 0 when caught up.", None),
        ("Checkpoint age", f"binlog_relay_checkpoint_age_seconds{SEL}", "s",
         "Seconds since the checkpoint was last written; grows while nothing is written.",
         None),
        ("In flight", f"binlog_relay_in_flight_messages{SEL}", "short",
         "Published and awaiting the broker's confirmation.", None),
        ("Broker blocked", f"binlog_relay_broker_blocked{SEL}", "none",
         "1 while RabbitMQ blocks publishing (memory or disk alarm).",
         role_map("no", "BLOCKED")),
    ]
)

row("Throughput")
pair(
    ("Messages published by type",
     [(f"sum by (type) (rate(binlog_relay_messages_published_total{SEL}[$__rate_interval]))",
       "{{type}}"),
      (f"sum(rate(binlog_relay_messages_confirmed_total{SEL}[$__rate_interval]))",
       "confirmed")],
     "ops", "Messages handed to RabbitMQ, by Maxwell type, and those the broker confirmed."),
    ("Row changes read by type",
     [(f"sum by (type) (rate(binlog_relay_rows_read_total{SEL}[$__rate_interval]))", "{{type}}"),
      (f"sum(rate(binlog_relay_rows_filtered_total{SEL}[$__rate_interval]))", "filtered")],
     "ops", "Row changes decoded from the binlog, and those the filters dropped."),
)
pair(
    ("Binlog read",
     [(f"sum(rate(binlog_relay_binlog_bytes_total{SEL}[$__rate_interval]))", "bytes/s")],
     "Bps", "Bytes of binlog events read."),
    ("Transactions",
     [(f"sum(rate(binlog_relay_transactions_total{SEL}[$__rate_interval]))", "transactions/s"),
      (f"sum(rate(binlog_relay_spilled_transactions_total{SEL}[$__rate_interval]))",
       "spilled/s")],
     "ops", "Transactions read to their end, and those larger than transactions.memory_limit_mb."),
)

row("Latency and lag")
pair(
    ("Publish and confirm latency",
     [(f"histogram_quantile(0.5, sum by (le) (rate(binlog_relay_publish_seconds_bucket{SEL}[$__rate_interval])))",
       "publish p50"),
      (f"histogram_quantile(0.99, sum by (le) (rate(binlog_relay_publish_seconds_bucket{SEL}[$__rate_interval])))",
       "publish p99"),
      (f"histogram_quantile(0.5, sum by (le) (rate(binlog_relay_confirm_seconds_bucket{SEL}[$__rate_interval])))",
       "confirm p50"),
      (f"histogram_quantile(0.99, sum by (le) (rate(binlog_relay_confirm_seconds_bucket{SEL}[$__rate_interval])))",
       "confirm p99")],
     "s", "Time to hand a message to the AMQP client, and from publishing to the broker's confirm."),
    ("Lag and checkpoint age",
     [(f"binlog_relay_lag_seconds{SEL}", "lag {{instance}}"),
      (f"binlog_relay_checkpoint_age_seconds{SEL}", "checkpoint age {{instance}}")],
     "s", "Behind the database, and since the checkpoint was last written."),
)
pair(
    ("In flight",
     [(f"binlog_relay_in_flight_messages{SEL}", "{{instance}}")],
     "short", "Published and awaiting confirmation; at most sink.rabbitmq.max_in_flight."),
    ("Spill",
     [(f"binlog_relay_spill_bytes{SEL}", "{{instance}}")],
     "bytes", "Bytes of the open transaction waiting in the spill file."),
)

row("Connections and errors")
pair(
    ("Reconnects and broker blocks",
     [(f"sum by (side) (increase(binlog_relay_reconnects_total{SEL}[$__rate_interval]))",
       "reconnect {{side}}"),
      (f"sum(increase(binlog_relay_broker_blocked_total{SEL}[$__rate_interval]))",
       "broker blocked")],
     "short", "Restarts from the checkpoint after a lost source or sink; times RabbitMQ blocked publishing."),
    ("Refused and failed messages",
     [(f"sum by (reason) (increase(binlog_relay_publish_retries_total{SEL}[$__rate_interval]))",
       "retry {{reason}}"),
      (f"sum by (reason) (increase(binlog_relay_messages_failed_total{SEL}[$__rate_interval]))",
       "failed {{reason}}"),
      (f"sum(increase(binlog_relay_messages_resent_total{SEL}[$__rate_interval]))", "resent")],
     "short", "Messages the broker refused (sent again after a pause) or lost (sent again after a reconnect)."),
)
pair(
    ("Connected",
     [(f"binlog_relay_source_connected{SEL}", "source {{instance}}"),
      (f"binlog_relay_sink_connected{SEL}", "sink {{instance}}"),
      (f"binlog_relay_broker_connected{SEL}", "broker {{address}}")],
     "none", "1 while connected: the database, RabbitMQ, and which broker node."),
    ("Schema changes and errors",
     [(f"sum(increase(binlog_relay_schema_changes_total{SEL}[$__rate_interval]))", "changes"),
      (f"sum(increase(binlog_relay_schema_errors_total{SEL}[$__rate_interval]))", "errors")],
     "short", "Schema versions followed (DDL, table-map resyncs), and schema problems that stopped the stream."),
)

row("High availability")
pair(
    ("Role by instance",
     [(f"binlog_relay_leader{SEL}", "{{instance}}")],
     "none", "1 leads, 0 stands by. Exactly one instance should lead."),
    ("Role changes",
     [(f"sum by (change) (increase(binlog_relay_leader_changes_total{SEL}[$__rate_interval]))",
       "{{change}}")],
     "short", "This instance took over, or lost the lead."),
)

row("Bootstrap")
pair(
    ("Bootstrap progress",
     [(f"binlog_relay_bootstrap_rows_read{SEL} / (binlog_relay_bootstrap_rows_expected{SEL} > 0)",
       "request {{instance}}")],
     "percentunit", "Rows read over rows expected for the request under way (docs/bootstrap.md)."),
    ("Bootstrap throughput",
     [(f"sum(rate(binlog_relay_bootstrap_chunks_total{SEL}[$__rate_interval]))", "chunks/s"),
      (f'sum(rate(binlog_relay_messages_published_total{{job=~"$job",instance=~"$instance",type="bootstrap-insert"}}[$__rate_interval]))',
       "rows/s")],
     "ops", "Chunks read between watermarks, and bootstrap-insert messages published."),
)

row("Process")
pair(
    ("Memory",
     [(f"process_resident_memory_bytes{SEL}", "{{instance}}")],
     "bytes", "Resident memory of the daemon."),
    ("CPU",
     [(f"rate(process_cpu_seconds_total{SEL}[$__rate_interval])", "{{instance}}")],
     "percentunit", "CPU time per second (1 = one core)."),
)


def variable(name, label, query):
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": {"query": query, "refId": "StandardVariableQuery"},
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


dashboard = {
    "uid": "binlog-relay",
    "title": "binlog-relay",
    "description": "binlog-relay: throughput, lag, latency, connections, role and bootstrap (docs/operations.md).",
    "tags": ["binlog-relay", "cdc"],
    "editable": True,
    "schemaVersion": 39,
    "version": 1,
    "refresh": "30s",
    "time": {"from": "now-6h", "to": "now"},
    "timezone": "utc",
    "graphTooltip": 1,
    "links": [],
    "annotations": {"list": []},
    "templating": {
        "list": [
            {
                "name": "datasource",
                "label": "Prometheus",
                "type": "datasource",
                "query": "prometheus",
                "refresh": 1,
            },
            variable("job", "job", "label_values(binlog_relay_leader, job)"),
            variable("instance", "instance", 'label_values(binlog_relay_leader{job=~"$job"}, instance)'),
        ]
    },
    "panels": panels,
}

text = json.dumps(dashboard, indent=2) + "\n"
if sys.argv[1:] == ["--check"]:
    if OUT.read_text() != text:
        print(f"{OUT} is not what {__file__} writes: run it and commit the result", file=sys.stderr)
        sys.exit(1)
else:
    OUT.write_text(text)
