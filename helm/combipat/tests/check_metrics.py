#!/usr/bin/env python3
"""The metric names the alerts and dashboards read are exactly those of files/metrics-used.txt,
and the ones from third-party exporters exist in what those exporters serve."""
import sys
from pathlib import Path

from metric_names import listed, used

REFERENCE = Path(__file__).resolve().parent / "reference"
EXPORTERS = {"combipat", "rabbitmq", "postgres_exporter", "kube"}
REFERENCE_FILES = {"rabbitmq": "rabbitmq-prometheus.txt", "postgres_exporter": "postgres-exporter.txt"}


def reference(exporter):
    lines = (REFERENCE / REFERENCE_FILES[exporter]).read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def main():
    in_use, in_list, errors = used(), listed(), []
    for name in sorted(set(in_use) - set(in_list)):
        errors.append(f"{name} is read by {', '.join(sorted(in_use[name]))} but not listed in files/metrics-used.txt")
    for name in sorted(set(in_list) - set(in_use)):
        errors.append(f"{name} is listed in files/metrics-used.txt but no alert or dashboard reads it")
    for name, exporter in sorted(in_list.items()):
        if exporter not in EXPORTERS:
            errors.append(f"{name}: unknown exporter {exporter} (one of {', '.join(sorted(EXPORTERS))})")
        elif exporter in REFERENCE_FILES and name not in reference(exporter):
            errors.append(f"{name}: {exporter} does not serve it (tests/reference/{REFERENCE_FILES[exporter]})")
    for error in errors:
        print(f"metrics: {error}", file=sys.stderr)
    if not errors:
        print(f"metrics: {len(in_list)} names used and listed, third-party ones served by their exporters")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
