#!/usr/bin/env python3
"""Writes the Grafana dashboards of the chart, helm/combipat/files/dashboards/*.json.

The panels are declared here once, in a few lines each, and the JSON is generated, so the
nine dashboards share one layout, one datasource variable and one namespace variable.
`make-dashboards.py --check` fails when the committed JSON differs from what this writes.

Series carry `service` (set by the chart's ServiceMonitor from app.kubernetes.io/component).
Gauges every replica reports alike (queue depth, outbox, open items) are aggregated with max.
RabbitMQ panels read the rabbitmq_prometheus plugin (port 15692, enabled in
k8s/rabbitmq); PostgreSQL panels read postgres_exporter (k8s/README.md says how to run it
beside the CloudNativePG clusters); readiness reads kube-state-metrics.
"""
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "helm/combipat/files/dashboards"
NS = 'namespace="$namespace"'
DS = {"type": "prometheus", "uid": "${datasource}"}


def q(expr, legend=""):
    return {"expr": expr, "legendFormat": legend}


def panel(kind, title, queries, unit="short", description="", stack=False):
    return {"kind": kind, "title": title, "queries": queries, "unit": unit,
            "description": description, "stack": stack}


def ts(title, queries, unit="short", description="", stack=False):
    return panel("timeseries", title, queries, unit, description, stack)


def stat(title, queries, unit="short", description=""):
    return panel("stat", title, queries, unit, description)


def per_min(expr):
    return f"60 * ({expr})"


def quantiles(metric, by, selector, legend_prefix):
    by_le = ", ".join([*by, "le"]) if by else "le"
    prefix = f"{legend_prefix} " if legend_prefix else ""
    return [q(f"histogram_quantile({p}, sum by ({by_le}) (rate({metric}_bucket{{{selector}}}[5m])))",
              f"{prefix}p{int(p * 100)}") for p in (0.5, 0.9, 0.99)]


OVERVIEW = [
    ("Flow", [
        ts("Requests per minute: submitted, routed, filed, answered", [
            q(per_min(f"sum(rate(combipat_requests_submitted_total{{{NS}}}[5m]))"), "submitted"),
            q(per_min(f'sum(rate(combipat_routing_decisions_total{{{NS},outcome="routed"}}[5m]))'), "routed"),
            q(per_min(f'sum(rate(combipat_items_filed_total{{{NS},outcome="filed"}}[5m]))'), "filed"),
            q(per_min(f'sum(rate(combipat_messages_published_total{{{NS},routing_key="request.answered",outcome="confirmed"}}[5m]))'), "answered"),
        ], "short", "Answered: request.answered events office-queue published."),
        ts("Submission to filing latency", quantiles("combipat_request_filing_latency_seconds", [], NS, ""),
           "s", "From submitted_at to the item in the office's queue (office-queue); the filing SLO is 99% within 1 s."),
    ]),
    ("Errors", [
        ts("Server errors per minute", [
            q(per_min(f'sum by (service) (rate(rpc_server_call_duration_seconds_count{{{NS},rpc_grpc_status_code=~"2|4|13|14|15"}}[5m]))'), "gRPC {{service}}"),
            q(per_min(f'sum by (service) (rate(http_server_request_duration_seconds_count{{{NS},http_response_status_code=~"5.."}}[5m]))'), "HTTP {{service}}"),
        ]),
        ts("Events gone wrong per minute", [
            q(per_min(f'sum by (queue) (rate(combipat_messages_consumed_total{{{NS},outcome="dead_lettered"}}[5m]))'), "dead-lettered {{queue}}"),
            q(per_min(f'sum(rate(combipat_routing_decisions_total{{{NS},outcome="unroutable"}}[5m]))'), "unroutable"),
            q(per_min(f'sum by (routing_key) (rate(combipat_messages_published_total{{{NS},outcome="refused"}}[5m]))'), "refused {{routing_key}}"),
        ]),
    ]),
    ("Service levels", [
        stat("Filed later than 1 s (1 h)", [q(f"combipat:filing_slow:ratio_rate1h{{{NS}}}")], "percentunit",
             "Objective: at most 1%. Recording rule of the chart's PrometheusRule."),
        stat("Calls failing (1 h)", [q(f"combipat:api_errors:ratio_rate1h{{{NS}}}")], "percentunit",
             "Objective: at most 0.1%. Recording rule of the chart's PrometheusRule."),
        stat("Services without a ready replica", [
            q(f'count(kube_deployment_status_replicas_available{{{NS},deployment=~"(.+-)?(intake|router|office-queue|notifier|reminder-scheduler|reporting)"}} == 0) or vector(0)')]),
        stat("Dead letters waiting", [q(f'sum(max by (queue) (combipat_queue_messages{{{NS},queue=~".+\\\\.dlq"}})) or vector(0)')]),
    ]),
    ("Intake", [
        ts("Rate limits", [
            q(per_min(f"sum by (scope) (rate(combipat_rate_limited_total{{{NS}}}[5m]))"), "refused {{scope}}"),
            q(per_min(f"sum by (scope) (rate(combipat_rate_limit_unchecked_total{{{NS}}}[5m]))"), "unchecked (Redis down) {{scope}}"),
        ], "short", "Calls per minute refused by the rate limit, and let through because Redis did not answer."),
        ts("Files uploaded and answers rated per minute", [
            q(per_min(f"sum by (service, media_type) (rate(combipat_attachments_uploaded_total{{{NS}}}[5m]))"), "{{service}} {{media_type}}"),
            q(per_min(f"sum(rate(combipat_answers_rated_total{{{NS}}}[5m]))"), "ratings"),
        ]),
    ]),
]

SVC = 'namespace="$namespace",service="$service"'
RED = [
    ("gRPC", [
        ts("Calls per second by method", [q(f"sum by (rpc_method) (rate(rpc_server_call_duration_seconds_count{{{SVC}}}[5m]))", "{{rpc_method}}")], "reqps"),
        ts("Errors per second by code", [q(f'sum by (rpc_method, rpc_grpc_status_code) (rate(rpc_server_call_duration_seconds_count{{{SVC},rpc_grpc_status_code!="0"}}[5m]))', "{{rpc_method}} {{rpc_grpc_status_code}}")], "reqps",
           "Every non-OK code; the availability SLO counts 2, 4, 13, 14 and 15 only."),
        ts("Duration", quantiles("rpc_server_call_duration_seconds", [], SVC, ""), "s"),
    ]),
    ("HTTP", [
        ts("Requests per second by route", [q(f'sum by (http_route) (rate(http_server_request_duration_seconds_count{{{SVC},http_route!~"/health/.*|/metrics"}}[5m]))', "{{http_route}}")], "reqps"),
        ts("Errors per second by status", [q(f'sum by (http_route, http_response_status_code) (rate(http_server_request_duration_seconds_count{{{SVC},http_response_status_code=~"[45].."}}[5m]))', "{{http_route}} {{http_response_status_code}}")], "reqps"),
        ts("Duration", quantiles("http_server_request_duration_seconds", [], f'{SVC},http_route!~"/health/.*|/metrics"', ""), "s"),
    ]),
    ("Events", [
        ts("Events handled per second by outcome", [q(f"sum by (queue, outcome) (rate(combipat_messages_consumed_total{{{SVC}}}[5m]))", "{{queue}} {{outcome}}")], "ops"),
        ts("Events published per second", [q(f"sum by (routing_key, outcome) (rate(combipat_messages_published_total{{{SVC}}}[5m]))", "{{routing_key}} {{outcome}}")], "ops"),
        ts("Handling duration", quantiles("combipat_message_processing_seconds", ["queue"], SVC, "{{queue}}"), "s"),
    ]),
]

RABBITMQ = [
    ("Utilisation", [
        ts("Memory used / high watermark", [q("rabbitmq_process_resident_memory_bytes / on (instance) rabbitmq_resident_memory_limit_bytes", "{{instance}}")], "percentunit"),
        ts("Disk free / limit", [q("rabbitmq_disk_space_available_bytes / on (instance) rabbitmq_disk_space_available_limit_bytes", "{{instance}}")], "short",
           "Publishers are blocked when this falls to 1."),
        ts("File descriptors used", [q("rabbitmq_process_open_fds / on (instance) rabbitmq_process_max_fds", "{{instance}}")], "percentunit"),
        ts("Connections, channels, consumers", [
            q("sum(rabbitmq_connections)", "connections"), q("sum(rabbitmq_channels)", "channels"),
            q("sum(rabbitmq_consumers)", "consumers"), q("sum(rabbitmq_queues)", "queues")]),
    ]),
    ("Saturation", [
        ts("Messages ready and unacknowledged", [
            q("sum(rabbitmq_queue_messages_ready)", "ready"), q("sum(rabbitmq_queue_messages_unacked)", "unacked")]),
        ts("Alarms (publishers blocked)", [
            q("max(rabbitmq_alarms_memory_used_watermark)", "memory"),
            q("max(rabbitmq_alarms_free_disk_space_watermark)", "disk"),
            q("max(rabbitmq_alarms_file_descriptor_limit)", "file descriptors")]),
        ts("Quorum queue commit latency", [q("max by (instance) (rabbitmq_raft_entry_commit_latency_seconds)", "{{instance}}")], "s"),
    ]),
    ("Errors and throughput", [
        ts("Unroutable messages per second", [
            q("sum(rate(rabbitmq_global_messages_unroutable_returned_total[5m]))", "returned"),
            q("sum(rate(rabbitmq_global_messages_unroutable_dropped_total[5m]))", "dropped")], "ops",
           "COMBIPAT publishes mandatory, so its unroutable messages are returned and parked in the outbox."),
        ts("Messages per second", [
            q("sum(rate(rabbitmq_global_messages_confirmed_total[5m]))", "confirmed"),
            q("sum(rate(rabbitmq_global_messages_delivered_total[5m]))", "delivered"),
            q("sum(rate(rabbitmq_global_messages_redelivered_total[5m]))", "redelivered"),
            q("sum(rate(rabbitmq_global_messages_dead_lettered_confirmed_total[5m]))", "dead-lettered")], "ops"),
    ]),
]

PG = 'namespace="$namespace"'
POSTGRES = [
    ("Utilisation", [
        ts("Connections / max_connections", [q(f"sum by (instance) (pg_stat_database_numbackends{{{PG}}}) / on (instance) max by (instance) (pg_settings_max_connections{{{PG}}})", "{{instance}}")], "percentunit",
           "Each replica of a service holds up to database.max_connections (10) connections."),
        ts("Database size", [q(f'pg_database_size_bytes{{{PG},datname=~"combipat_.*|app"}}', "{{instance}} {{datname}}")], "bytes"),
        ts("Cache hit ratio", [q(f"sum by (instance) (rate(pg_stat_database_blks_hit{{{PG}}}[5m])) / (sum by (instance) (rate(pg_stat_database_blks_hit{{{PG}}}[5m])) + sum by (instance) (rate(pg_stat_database_blks_read{{{PG}}}[5m])))", "{{instance}}")], "percentunit"),
    ]),
    ("Saturation", [
        ts("Locks", [q(f"sum by (instance, mode) (pg_locks_count{{{PG}}})", "{{instance}} {{mode}}")]),
        ts("Longest transaction", [q(f"max by (instance) (pg_stat_activity_max_tx_duration{{{PG}}})", "{{instance}}")], "s"),
        ts("Temporary bytes written", [q(f"sum by (instance) (rate(pg_stat_database_temp_bytes{{{PG}}}[5m]))", "{{instance}}")], "Bps"),
    ]),
    ("Errors and throughput", [
        ts("Exporter up", [q(f"pg_up{{{PG}}}", "{{instance}}")]),
        ts("Commits and rollbacks per second", [
            q(f"sum by (instance) (rate(pg_stat_database_xact_commit{{{PG}}}[5m]))", "{{instance}} commit"),
            q(f"sum by (instance) (rate(pg_stat_database_xact_rollback{{{PG}}}[5m]))", "{{instance}} rollback")], "ops"),
        ts("Deadlocks and conflicts per second", [
            q(f"sum by (instance) (rate(pg_stat_database_deadlocks{{{PG}}}[5m]))", "{{instance}} deadlocks"),
            q(f"sum by (instance) (rate(pg_stat_database_conflicts{{{PG}}}[5m]))", "{{instance}} conflicts")], "ops"),
    ]),
]

OUTBOX = [
    ("Outbox", [
        ts("Rows pending", [q(f"max by (service) (combipat_outbox_pending{{{NS}}})", "{{service}}")], "short",
           "Every row of platform_outbox, parked (refused) ones included."),
        ts("Oldest row", [q(f"max by (service) (combipat_outbox_oldest_age_seconds{{{NS}}})", "{{service}}")], "s",
           "The alert CombipatOutboxNotDraining fires above 5 minutes."),
        ts("Published per second by outcome", [q(f"sum by (service, outcome) (rate(combipat_messages_published_total{{{NS}}}[5m]))", "{{service}} {{outcome}}")], "ops"),
    ]),
    ("Broker sessions", [
        ts("Connected to the broker", [q(f"min by (service, task) (combipat_broker_connected{{{NS}}})", "{{service}} {{task}}")]),
        ts("Reconnects per minute", [q(per_min(f"sum by (service, task) (rate(combipat_amqp_reconnects_total{{{NS}}}[5m]))"), "{{service}} {{task}}")]),
        ts("Inbox duplicates skipped and rows expired per minute", [
            q(per_min(f"sum by (service, consumer) (rate(combipat_inbox_duplicates_total{{{NS}}}[5m]))"), "duplicates {{consumer}}"),
            q(per_min(f"sum by (service, what) (rate(combipat_rows_expired_total{{{NS}}}[5m]))"), "expired {{service}} {{what}}")]),
    ]),
]

MAIN_QUEUE = 'queue!~".+\\\\.(dlq|retry\\\\.[0-9]+)"'
QUEUES = [
    ("Depth", [
        ts("Messages per queue", [q(f"max by (queue) (combipat_queue_messages{{{NS},{MAIN_QUEUE}}})", "{{queue}}")]),
        ts("Waiting for a retry", [q(f'max by (queue) (combipat_queue_messages{{{NS},queue=~".+\\\\.retry\\\\.[0-9]+"}})', "{{queue}}")]),
        ts("Dead-letter queues", [q(f'max by (queue) (combipat_queue_messages{{{NS},queue=~".+\\\\.dlq"}})', "{{queue}}")], "short",
           "Replay with combipat-<service> replay-dead-letters <queue> once the cause is fixed."),
    ]),
    ("Consumers", [
        ts("Consumers per queue", [q(f"max by (queue) (combipat_queue_consumers{{{NS},{MAIN_QUEUE}}})", "{{queue}}")]),
        ts("Paused consumers", [q(f"max by (queue) (combipat_consumer_paused{{{NS}}})", "{{queue}}")], "short",
           "1 while a consumer stopped taking deliveries because a dependency is down."),
        ts("Pauses per hour", [q(f"60 * {per_min(f'sum by (queue) (rate(combipat_consumer_pauses_total{{{NS}}}[30m]))')}", "{{queue}}")]),
    ]),
    ("Redeliveries", [
        ts("Retried, requeued and dead-lettered per minute", [q(per_min(f'sum by (queue, outcome) (rate(combipat_messages_consumed_total{{{NS},outcome!="processed"}}[5m]))'), "{{queue}} {{outcome}}")]),
    ]),
]

NOTIFIER = [
    ("Notifications", [
        ts("Notifications per minute by channel", [q(per_min(f"sum by (channel, outcome) (rate(combipat_notifications_total{{{NS}}}[5m]))"), "{{channel}} {{outcome}}")]),
        ts("E-mails per minute", [q(per_min(f"sum by (outcome) (rate(combipat_emails_sent_total{{{NS}}}[5m]))"), "{{outcome}}")]),
        stat("Webhook endpoints disabled", [q(f"max(combipat_webhook_endpoints_disabled{{{NS}}}) or vector(0)")]),
    ]),
    ("Webhooks per endpoint", [
        ts("Deliveries per minute", [q(per_min(f'sum by (endpoint) (rate(combipat_webhook_deliveries_total{{{NS},outcome="delivered"}}[5m]))'), "{{endpoint}}")]),
        ts("Failures per minute", [q(per_min(f'sum by (endpoint, outcome) (rate(combipat_webhook_deliveries_total{{{NS},outcome=~"failed|retried|dead"}}[5m]))'), "{{endpoint}} {{outcome}}")]),
        ts("Delivery duration p99", [q(f"histogram_quantile(0.99, sum by (endpoint, le) (rate(combipat_webhook_delivery_seconds_bucket{{{NS}}}[5m])))", "{{endpoint}}")], "s"),
    ]),
]

SCHEDULER = [
    ("Timers", [
        ts("Lateness (due to fired) p50 / p99", [
            q(f"histogram_quantile(0.5, sum by (kind, le) (rate(combipat_job_lateness_seconds_bucket{{{NS}}}[10m])))", "{{kind}} p50"),
            q(f"histogram_quantile(0.99, sum by (kind, le) (rate(combipat_job_lateness_seconds_bucket{{{NS}}}[10m])))", "{{kind}} p99")], "s",
           "CombipatTimersLate fires when p99 stays above 60 s."),
        ts("Jobs pending", [q(f"max by (kind) (combipat_jobs_pending{{{NS}}})", "{{kind}}")]),
    ]),
    ("Fired", [
        ts("Fired per minute by outcome", [q(per_min(f"sum by (kind, outcome) (rate(combipat_jobs_fired_total{{{NS}}}[5m]))"), "{{kind}} {{outcome}}")]),
        ts("Caught up after downtime per hour", [q(f"60 * {per_min(f'sum by (kind) (rate(combipat_jobs_caught_up_total{{{NS}}}[30m]))')}", "{{kind}}")]),
    ]),
]

SLA = [
    ("Open items by region", [
        ts("Open items by SLA state", [q(f"sum by (sla_state) (max by (region, sla_state) (combipat_items_open{{{NS}}}))", "{{sla_state}}")], "short", stack=True),
        ts("Overdue items by region", [q(f'max by (region) (combipat_items_open{{{NS},sla_state="overdue"}})', "{{region}}")], "short", stack=True),
        ts("Due soon by region", [q(f'max by (region) (combipat_items_open{{{NS},sla_state="due_soon"}})', "{{region}}")], "short", stack=True),
        panel("table", "Open items per region and state", [q(f"max by (region, sla_state) (combipat_items_open{{{NS}}})", "")], "short",
              "Regions by name; paused: waiting for the patronato's reply (the SLA clock stops)."),
    ]),
    ("Reporting", [
        ts("Projection lag", [q(f"max(combipat_stream_lag_seconds{{{NS}}})", "lag")], "s",
           "How far reporting's figures are behind the events."),
        ts("Projected events per second", [q(f"sum by (outcome) (rate(combipat_stream_events_total{{{NS}}}[5m]))", "{{outcome}}")], "ops"),
        ts("Items filed, moved and stale per minute", [q(per_min(f"sum by (outcome) (rate(combipat_items_filed_total{{{NS}}}[5m]))"), "{{outcome}}")]),
    ]),
]

DASHBOARDS = [
    ("overview", "COMBIPAT / Overview", "The flow of requests end to end, its latency, its errors and the two SLOs.", OVERVIEW, False),
    ("red", "COMBIPAT / RED per service", "Rate, errors and duration of one service's gRPC, HTTP and event handling.", RED, True),
    ("rabbitmq-use", "COMBIPAT / RabbitMQ (USE)", "Utilisation, saturation and errors of the broker, from the rabbitmq_prometheus plugin.", RABBITMQ, False),
    ("postgres-use", "COMBIPAT / PostgreSQL (USE)", "Utilisation, saturation and errors of the databases, from postgres_exporter.", POSTGRES, False),
    ("outbox", "COMBIPAT / Outbox", "Events waiting in each service's outbox, and the broker sessions that carry them.", OUTBOX, False),
    ("queues", "COMBIPAT / Queues", "Depth, consumers, retries and dead letters of every queue, as each service reports its own.", QUEUES, False),
    ("notifier", "COMBIPAT / Notifier", "Notifications, e-mails and webhook deliveries per patronato endpoint.", NOTIFIER, False),
    ("scheduler", "COMBIPAT / Scheduler", "reminder-scheduler's timers: how late they fire, how many wait.", SCHEDULER, False),
    ("sla", "COMBIPAT / Offices' SLA by region", "Open items of the INPS offices by region and SLA state; reporting's projection lag.", SLA, False),
]


def variable(name, query, label, include_all=False):
    return {"name": name, "label": label, "type": "query", "datasource": DS, "query": {"query": query, "refId": name},
            "definition": query, "refresh": 2, "includeAll": include_all, "multi": False, "sort": 1,
            "current": {}, "options": [], "hide": 0}


def build(uid, title, description, rows, with_service):
    panels, y, next_id = [], 0, 1
    for row_title, row_panels in rows:
        panels.append({"id": next_id, "type": "row", "title": row_title, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        next_id += 1
        y += 1
        width = 24 // len(row_panels) if len(row_panels) <= 4 else 8
        for i, p in enumerate(row_panels):
            x = (i * width) % 24
            if i and x == 0:
                y += 8
            targets = [{"datasource": DS, "expr": t["expr"], "legendFormat": t["legendFormat"], "refId": chr(65 + k),
                        **({"format": "table", "instant": True} if p["kind"] == "table" else {})}
                       for k, t in enumerate(p["queries"])]
            custom = {"stacking": {"mode": "normal" if p["stack"] else "none"}, "fillOpacity": 10} if p["kind"] == "timeseries" else {}
            panels.append({"id": next_id, "type": p["kind"], "title": p["title"], "description": p["description"],
                           "datasource": DS, "gridPos": {"h": 8, "w": width, "x": x, "y": y}, "targets": targets,
                           "fieldConfig": {"defaults": {"unit": p["unit"], "custom": custom}, "overrides": []},
                           "options": {"legend": {"displayMode": "list", "placement": "bottom"}} if p["kind"] == "timeseries" else {}})
            next_id += 1
        y += 8
    variables = [{"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
                  "current": {}, "hide": 0, "refresh": 1, "options": []},
                 variable("namespace", "label_values(combipat_outbox_pending, namespace)", "Namespace")]
    if with_service:
        variables.append(variable("service", 'label_values(combipat_outbox_pending{namespace="$namespace"}, service)', "Service"))
    return {"uid": f"combipat-{uid}", "title": title, "description": description, "tags": ["combipat"],
            "timezone": "browser", "editable": True, "schemaVersion": 39, "version": 1, "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"}, "templating": {"list": variables}, "annotations": {"list": []},
            "links": [{"title": "COMBIPAT", "type": "dashboards", "tags": ["combipat"], "asDropdown": True}],
            "panels": panels}


def main(argv):
    check = argv[:1] == ["--check"]
    stale = []
    OUT.mkdir(parents=True, exist_ok=True)
    for uid, title, description, rows, with_service in DASHBOARDS:
        text = json.dumps(build(uid, title, description, rows, with_service), indent=2) + "\n"
        path = OUT / f"{uid}.json"
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    if stale:
        print("dashboards out of date (run scripts/deploy/make-dashboards.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    print(f"{len(DASHBOARDS)} dashboards {'up to date' if check else 'written'} in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
