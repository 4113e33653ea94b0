#!/usr/bin/env python3
"""What the chart refuses, and what a change of values does to the render.

- refused: no secrets (no default password), no identity provider, a typo in a key, a secret
  given as a setting;
- a changed setting or secret changes that service's config checksum (so its pods roll) and
  no other service's;
- ServiceMonitor, PrometheusRule and dashboards appear only behind their switches, with the
  labels asked for.
"""
import copy
import sys
from pathlib import Path

import helm_python
import yaml

import render

TESTS = Path(__file__).resolve().parent
REQUIRED = yaml.safe_load((TESTS / "required-inputs.yaml").read_text())
problems = []


def docs_of(values):
    with render.quiet_helm():
        chart = helm_python.Chart.load(str(render.CHART))
        manifests = chart.render(values, name=render.RELEASE, namespace=render.NAMESPACE, is_install=True)
    return [d for path, text in manifests.items() if path.endswith(".yaml") for d in yaml.safe_load_all(text) if d]


def with_values(extra):
    return render.deep_merge(copy.deepcopy(REQUIRED), extra)


def refused(case, values, message):
    try:
        docs_of(values)
    except helm_python.HelmError as err:
        if message not in str(err):
            problems.append(f"{case}: refused, but without {message!r}: {str(err)[:300]}")
        return
    problems.append(f"{case}: rendered, but should be refused with {message!r}")


def checksums(values):
    return {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for d in docs_of(values) if d["kind"] == "Deployment"}


def check_checksums():
    base = checksums(with_values({}))
    for case, extra, changed in [
        ("a router setting", {"services": {"router": {"settings": {"directory.reload_interval_ms": 10000}}}}, {"combipat-router"}),
        ("an intake secret", {"services": {"intake": {"secrets": {"values": {"COMBIPAT__RATE_LIMIT__REDIS_URL": "redis://other:6379/0"}}}}}, {"combipat-intake"}),
        ("a common setting", {"commonSettings": {"amqp.prefetch": 16}}, set(base)),
    ]:
        after = checksums(with_values(extra))
        moved = {name for name in base if base[name] != after[name]}
        if moved != changed:
            problems.append(f"changing {case} rolled {sorted(moved)}, expected {sorted(changed)}")
    if checksums(with_values({})) != base:
        problems.append("the same values gave another checksum: pods would roll for nothing")


def check_switches():
    off = {d["kind"] for d in docs_of(with_values({}))}
    for kind in ("ServiceMonitor", "PrometheusRule"):
        if kind in off:
            problems.append(f"{kind} rendered with its switch off")
    if any(d["kind"] == "ConfigMap" and "grafana_dashboard" in d["metadata"]["labels"] for d in docs_of(with_values({}))):
        problems.append("dashboards rendered with their switch off")
    on = docs_of(with_values({
        "serviceMonitor": {"enabled": True, "additionalLabels": {"release": "prom"}},
        "prometheusRule": {"enabled": True, "additionalLabels": {"release": "prom"}},
        "dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1"},
    }))
    for kind in ("ServiceMonitor", "PrometheusRule"):
        found = [d for d in on if d["kind"] == kind]
        if len(found) != 1 or found[0]["metadata"]["labels"].get("release") != "prom":
            problems.append(f"{kind}: expected one, labelled release=prom")
    boards = [d for d in on if d["kind"] == "ConfigMap" and d["metadata"]["labels"].get("grafana_dashboard") == "1"]
    expected = len(list((render.CHART / "files/dashboards").glob("*.json")))
    if len(boards) != expected:
        problems.append(f"{len(boards)} dashboard ConfigMaps, expected {expected}")
    rules = [d for d in on if d["kind"] == "PrometheusRule"]
    for group in rules[0]["spec"]["groups"] if rules else []:
        for rule in group["rules"]:
            url = rule.get("annotations", {}).get("runbook_url", "")
            if rule.get("alert") and not url.startswith("https://"):
                problems.append(f"{rule['alert']}: runbook_url {url!r} is not a link")


def main():
    refused("defaults alone", {}, "the chart has no default password")
    no_idp = with_values({})
    no_idp["auth"]["jwksUrl"] = ""
    refused("no identity provider", no_idp, "auth.jwksUrl is required")
    no_audience = with_values({})
    no_audience["auth"]["audience"] = ""
    refused("no audience", no_audience, "auth.issuer and auth.audience are required")
    refused("a typo", with_values({"services": {"router": {"replica": 3}}}), "replica")
    refused("a secret as a setting", with_values({"services": {"router": {"settings": {"amqp.url": "amqp://x"}}}}), "amqp.url")
    refused("KEDA without queues", with_values({"services": {"notifier": {"autoscaling": {"enabled": True, "keda": {"enabled": True}}}}}), "keda.queues is empty")
    check_checksums()
    check_switches()
    for p in problems:
        print(f"render cases: {p}", file=sys.stderr)
    if not problems:
        print("render cases: refusals, checksums and switches as expected")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
