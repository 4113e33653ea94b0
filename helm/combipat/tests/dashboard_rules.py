#!/usr/bin/env python3
"""Writes every dashboard query as a recording rule to OUT.yaml, so that promtool parses them
all: `promtool check rules OUT.yaml` fails on a query Grafana would show as an error."""
import re
import sys

import yaml

from metric_names import dashboard_exprs

VARIABLES = {"$namespace": "combipat", "$service": "intake", "${datasource}": "prometheus"}


def main(out):
    rules = []
    for i, (source, expr) in enumerate(sorted(dashboard_exprs().items())):
        for var, value in VARIABLES.items():
            expr = expr.replace(var, value)
        if "$" in re.sub(r"\$value|\$labels", "", expr):
            print(f"dashboards: {source} uses an unknown variable: {expr}", file=sys.stderr)
            return 1
        if expr.startswith("label_values("):
            continue
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    with open(out, "w") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, f)
    print(f"dashboards: {len(rules)} queries written for promtool")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
