"""The metric names a PromQL expression reads (recording rules, labels and strings left out)."""
import json
import re
from pathlib import Path

import yaml

CHART = Path(__file__).resolve().parents[1]
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
MATCHERS = re.compile(r"\{[^{}]*\}")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
NAME = re.compile(r"\b(?:combipat|rpc|http|kube|rabbitmq|pg)_[a-z0-9_]+\b")


def names_in(expr):
    expr = GROUPING.sub(" ", MATCHERS.sub(" ", STRING.sub('""', expr)))
    found = set()
    for name in NAME.findall(expr):
        # Histograms are listed by their base name, as the exporter declares them.
        name = re.sub(r"_bucket$", "", name)
        if "_seconds" in name:
            name = re.sub(r"_(count|sum)$", "", name)
        found.add(name)
    return found


def alert_exprs():
    rules = yaml.safe_load((CHART / "files/alerts.yaml").read_text())
    return {r.get("alert") or r.get("record"): r["expr"] for g in rules["groups"] for r in g["rules"]}


def dashboard_exprs():
    exprs = {}
    for path in sorted((CHART / "files/dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                exprs[f"{path.stem}: {panel['title']} {target['refId']}"] = target["expr"]
        for var in board["templating"]["list"]:
            if isinstance(var.get("query"), dict):
                exprs[f"{path.stem}: variable {var['name']}"] = var["query"]["query"]
    return exprs


def used():
    names = {}
    for source, expr in {**alert_exprs(), **dashboard_exprs()}.items():
        for name in names_in(expr):
            names.setdefault(name, set()).add(source)
    return names


def listed():
    """metrics-used.txt: `name exporter` per line."""
    entries = {}
    for line in (CHART / "files/metrics-used.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, exporter = line.split()
            entries[name] = exporter
    return entries
