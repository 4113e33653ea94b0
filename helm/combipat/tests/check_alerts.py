#!/usr/bin/env python3
"""check_alerts.py RENDER.yaml OUT.yaml: every alert of files/alerts.yaml has its summary,
description, severity and a runbook page that exists, and a promtool test in which it fires;
the PrometheusRule of RENDER.yaml is written to OUT.yaml as plain rule groups for promtool."""
import sys
from pathlib import Path

import yaml

TESTS = Path(__file__).resolve().parent
CHART = TESTS.parent
ROOT = CHART.parents[1]
SEVERITIES = {"critical", "warning", "info"}


def main(render_path, out_path):
    problems = []
    rules = yaml.safe_load((CHART / "files/alerts.yaml").read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    fired = set()
    for test_file in sorted(TESTS.glob("alerts-test*.yaml")):
        for test in yaml.safe_load(test_file.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                if case.get("exp_alerts"):
                    fired.add(case["alertname"])
    for alert in alerts:
        name, ann = alert["alert"], alert.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            if not ann.get(key):
                problems.append(f"{name}: no {key}")
        if alert.get("labels", {}).get("severity") not in SEVERITIES:
            problems.append(f"{name}: severity must be one of {sorted(SEVERITIES)}")
        page = ann.get("runbook_url", "")
        if not page.startswith("docs/runbooks/") or not (ROOT / page).is_file():
            problems.append(f"{name}: runbook_url {page!r} is not a page of docs/runbooks/")
        if name not in fired:
            problems.append(f"{name}: no promtool test shows it firing")
    rendered = [d for d in yaml.safe_load_all(Path(render_path).read_text()) if d and d["kind"] == "PrometheusRule"]
    if len(rendered) != 1:
        problems.append(f"{render_path}: {len(rendered)} PrometheusRules, expected one")
    else:
        Path(out_path).write_text(yaml.safe_dump({"groups": rendered[0]["spec"]["groups"]}, sort_keys=False))
    for p in problems:
        print(f"alerts: {p}", file=sys.stderr)
    if not problems:
        print(f"alerts: {len(alerts)} alerts annotated, with runbooks and a firing test each")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
