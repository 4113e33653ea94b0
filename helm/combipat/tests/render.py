#!/usr/bin/env python3
"""Lint and render the chart offline with Helm 4 (PyPI helm-python-sdk).

render.py lint [VALUES.yaml ...]
render.py render OUT.yaml [VALUES.yaml ...]   values files merged left to right, as helm -f
render.py fails VALUES.yaml ... -- "MESSAGE"    the render must fail with MESSAGE in its error
"""
import contextlib
import os
import sys
from pathlib import Path

import helm_python
import yaml

CHART = Path(__file__).resolve().parents[1]
RELEASE = "combipat"
NAMESPACE = "combipat"


def deep_merge(base, extra):
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def load_values(paths):
    values = {}
    for path in paths:
        deep_merge(values, yaml.safe_load(Path(path).read_text()) or {})
    return values


@contextlib.contextmanager
def quiet_helm():
    """Helm logs every fail() call it meets on stderr; the error that counts comes back as an exception."""
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def render(paths):
    chart = helm_python.Chart.load(str(CHART))
    with quiet_helm():
        manifests = chart.render(load_values(paths), name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs = []
    for template, text in sorted(manifests.items()):
        if not template.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append((template, doc))
    return docs


def lint(paths):
    # Lint mode turns fail() into a log line, so lint with values that render everything.
    with quiet_helm():
        result = helm_python.lint(str(CHART), load_values(paths), strict=True, kube_version="v1.30.0")
    # Severity 1 is informational ("icon is recommended"); 2 is a warning, which strict refuses.
    problems = [m for m in result.get("messages", []) if m.get("severity", 0) >= 2]
    problems += [{"severity": 3, "path": "", "error": e} for e in result.get("errors", []) or []]
    for m in problems:
        print(f"helm lint: {m.get('path')}: {m.get('error')}", file=sys.stderr)
    return 1 if problems else 0


def main(argv):
    if argv[:1] == ["lint"]:
        return lint(argv[1:])
    if argv[:1] == ["render"] and len(argv) >= 2:
        docs = render(argv[2:])
        with open(argv[1], "w") as out:
            for template, doc in docs:
                out.write(f"---\n# Source: {template}\n")
                yaml.safe_dump(doc, out, sort_keys=False)
        print(f"rendered {len(docs)} objects from {' + '.join(argv[2:]) or 'values.yaml'}")
        return 0
    if argv[:1] == ["fails"] and "--" in argv:
        split = argv.index("--")
        paths, message = argv[1:split], " ".join(argv[split + 1:])
        try:
            render(paths)
        except helm_python.HelmError as err:
            if message in str(err):
                print(f"refused as expected: {message}")
                return 0
            print(f"refused, but not with {message!r}: {err}", file=sys.stderr)
            return 1
        print(f"rendered although it should fail with {message!r}", file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
