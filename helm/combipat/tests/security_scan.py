#!/usr/bin/env python3
"""security_scan.py OBJECTS.yaml: checkov's Kubernetes checks over the rendered objects; fails
on any finding not accepted, with its reason, in checkov-accepted.txt."""
import collections
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ACCEPTED = Path(__file__).resolve().parent / "checkov-accepted.txt"


def accepted():
    reasons = {}
    for line in ACCEPTED.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            check, reason = line.split(None, 1)
            reasons[check] = reason.strip()
    return reasons


def main(objects):
    with tempfile.TemporaryDirectory() as scan_dir:
        Path(scan_dir, "objects.yaml").write_text(Path(objects).read_text())
        run = subprocess.run(["checkov", "-d", scan_dir, "--framework", "kubernetes", "--quiet", "--compact", "-o", "json"],
                             capture_output=True, text=True)
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        print(f"security scan: checkov gave no report: {run.stderr[-2000:]}", file=sys.stderr)
        return 1
    report = report[0] if isinstance(report, list) else report
    failed = report.get("results", {}).get("failed_checks", [])
    reasons = accepted()
    by_check = collections.Counter(f["check_id"] for f in failed)
    unexplained = [f for f in failed if f["check_id"] not in reasons]
    for f in unexplained:
        print(f"security scan: {f['check_id']} {f['check_name']}: {f['resource']}", file=sys.stderr)
    for check, count in sorted(by_check.items()):
        if check in reasons:
            print(f"security scan: accepted {check} on {count} objects: {reasons[check][:90]}...")
    unused = sorted(set(reasons) - set(by_check))
    if unused:
        print(f"security scan: accepted checks that no longer fail (remove them): {', '.join(unused)}", file=sys.stderr)
    summary = report.get("summary", {})
    print(f"security scan: {summary.get('passed')} passed, {summary.get('failed')} failed, {len(unexplained)} unexplained (checkov {summary.get('checkov_version')})")
    return 1 if unexplained or unused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
