#!/usr/bin/env python3
"""What the chart refuses, and what a change of values does to the render.

- refused: no secrets (no default password), no identity provider, a typo in a key, a secret
  given as a setting;
- a changed setting or secret changes that service's config checksum (so its pods roll) and
  no other service's;
- ServiceMonitor, PrometheusRule and dashboards appear only behind their switches, with the
  labels asked for;
- broker.serviceUsers: the Deployments only check the topology (amqp.declare_topology false),
  the topology Job's COMBIPAT__AMQP__URL is the COMBIPAT__AMQP__TOPOLOGY_URL key however it is
  given (values, keyRefs, the service's or shared), no container gets that key otherwise, and
  its absence (or an existingSecret alone) refuses the render, naming it; off, today's render.
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


TOPOLOGY_KEY = "COMBIPAT__AMQP__TOPOLOGY_URL"


def without_topology_url(values):
    values = copy.deepcopy(values)
    values["sharedSecrets"]["values"].pop(TOPOLOGY_KEY)
    return values


def checksums(values):
    return {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for d in docs_of(values) if d["kind"] == "Deployment"}


def check_checksums():
    base = checksums(with_values({}))
    for case, extra, changed in [
        ("a router setting", {"services": {"router": {"settings": {"directory.reload_interval_ms": 10000}}}}, {"combipat-router"}),
        ("an intake secret", {"services": {"intake": {"secrets": {"values": {"COMBIPAT__RATE_LIMIT__REDIS_URL": "redis://other:6379/0"}}}}}, {"combipat-intake"}),
        ("a common setting", {"commonSettings": {"amqp.prefetch": 16}}, set(base)),
        # Only the topology hook Job reads it: no pod has to roll.
        ("the topology URL", {"sharedSecrets": {"values": {TOPOLOGY_KEY: "amqp://t:other@combipat-rabbitmq:5672/%2f"}}}, set()),
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


def container(obj):
    return obj["spec"]["template"]["spec"]["containers"][0]


def secret_env(docs, c):
    """A container's variables, each as what it reads: ("value", v), ("ref", name, key) or ("envFrom", name)."""
    env = {}
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    for source in c.get("envFrom") or []:
        if "secretRef" in source:
            name = source["secretRef"]["name"]
            for key in (secrets.get(name, {}).get("stringData") or {}):
                env[key] = ("envFrom", name)
    for var in c.get("env") or []:
        ref = var.get("valueFrom", {}).get("secretKeyRef")
        env[var["name"]] = ("ref", ref["name"], ref["key"]) if ref else ("value", var.get("value"))
    return env


def check_service_users():
    def topology_job(docs, case):
        jobs = [d for d in docs if d["kind"] == "Job" and container(d)["command"][1] == "topology"]
        if len(jobs) != 1:
            problems.append(f"service users, {case}: {len(jobs)} topology Jobs")
            return None
        return jobs[0]

    def amqp_of_job(docs, case, expected_ref, expected_value=None):
        """The topology Job's COMBIPAT__AMQP__URL: expected_ref (name, key), or a chart Secret holding expected_value."""
        job = topology_job(docs, case)
        if job is None:
            return
        c = container(job)
        names = [v["name"] for v in c.get("env") or []]
        if names.count("COMBIPAT__AMQP__URL") != 1:
            problems.append(f"service users, {case}: the topology Job sets COMBIPAT__AMQP__URL {names.count('COMBIPAT__AMQP__URL')} times")
        got = secret_env(docs, c).get("COMBIPAT__AMQP__URL")
        if expected_value is not None:
            from_ref = got is not None and got[0] == "ref"
            secret = next((d for d in docs if d["kind"] == "Secret" and from_ref and d["metadata"]["name"] == got[1]), None)
            held = (secret or {}).get("stringData", {}).get(got[2]) if from_ref else None
            if not from_ref or got[2] != TOPOLOGY_KEY or held != expected_value:
                problems.append(f"service users, {case}: the topology Job's COMBIPAT__AMQP__URL is {got}, not the {TOPOLOGY_KEY} given ({held!r})")
            elif "pre-install" not in secret["metadata"].get("annotations", {}).get("helm.sh/hook", ""):
                problems.append(f"service users, {case}: {secret['metadata']['name']} is not a hook: the Job runs before it would exist")
        elif got != ("ref", *expected_ref):
            problems.append(f"service users, {case}: the topology Job's COMBIPAT__AMQP__URL is {got}, expected {TOPOLOGY_KEY} from {expected_ref}")
        # No container gets the topology URL under its own name: the settings refuse it, and
        # the services must not hold the configure right.
        for d in docs:
            if d["kind"] in ("Deployment", "Job") and TOPOLOGY_KEY in secret_env(docs, container(d)):
                problems.append(f"service users, {case}: {d['kind']}/{d['metadata']['name']} gets {TOPOLOGY_KEY} in its environment")
        return job

    url = REQUIRED["sharedSecrets"]["values"][TOPOLOGY_KEY]
    docs = docs_of(with_values({}))
    for d in docs:
        if d["kind"] == "Deployment":
            cm = next(m for m in docs if m["kind"] == "ConfigMap" and m["metadata"]["name"] == d["metadata"]["name"])
            if cm["data"].get("COMBIPAT__AMQP__DECLARE_TOPOLOGY") != "false":
                problems.append(f"service users: Deployment/{d['metadata']['name']} has amqp.declare_topology {cm['data'].get('COMBIPAT__AMQP__DECLARE_TOPOLOGY')!r}, expected false")
    amqp_of_job(docs, "shared values", None, url)
    ref = {"name": "combipat-topology-amqp", "key": "url"}
    shared_ref = without_topology_url(with_values({"sharedSecrets": {"keyRefs": {TOPOLOGY_KEY: ref}}}))
    amqp_of_job(docs_of(shared_ref), "shared keyRefs", ("combipat-topology-amqp", "url"))
    # The runner's own keys win over the shared ones, and its own AMQP keyRef is not the Job's.
    own_ref = without_topology_url(with_values({"services": {"intake": {"secrets": {"keyRefs": {
        TOPOLOGY_KEY: {"name": "intake-topology", "key": "u"}, "COMBIPAT__AMQP__URL": {"name": "intake-amqp", "key": "url"}}}}}}))
    amqp_of_job(docs_of(own_ref), "the service's keyRefs", ("intake-topology", "u"))
    own_value = without_topology_url(with_values({"services": {"intake": {"secrets": {"values": {TOPOLOGY_KEY: "amqp://t:own@x:5672/%2f"}}}}}))
    amqp_of_job(docs_of(own_value), "the service's values", None, "amqp://t:own@x:5672/%2f")
    # With intake's topology off, router runs the Job and needs the key.
    moved = without_topology_url(with_values({"services": {"intake": {"topology": {"enabled": False}},
                                                           "router": {"secrets": {"values": {TOPOLOGY_KEY: "amqp://t:r@x:5672/%2f"}}}}}))
    job = amqp_of_job(docs_of(moved), "router runs the Job", None, "amqp://t:r@x:5672/%2f")
    if job is not None and container(job)["command"][0] != "combipat-router":
        problems.append(f"service users: with intake's topology off, {container(job)['command'][0]} runs the topology Job")
    refused("service users without the topology URL", without_topology_url(with_values({})), TOPOLOGY_KEY)
    refused("service users with the topology URL in an existingSecret only",
            without_topology_url(with_values({"sharedSecrets": {"existingSecret": "combipat-shared"}})), TOPOLOGY_KEY)
    refused("the topology URL as a setting", with_values({"commonSettings": {"amqp.topology_url": "amqp://x"}}), "amqp.topology_url")

    # Off: the services declare the topology, and the Job connects as the service does.
    off = without_topology_url(with_values({"broker": {"serviceUsers": False}}))
    docs = docs_of(off)
    if any("COMBIPAT__AMQP__DECLARE_TOPOLOGY" in d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"):
        problems.append("service users off: a ConfigMap still sets amqp.declare_topology")
    job = topology_job(docs, "off")
    if job is not None:
        got = secret_env(docs, container(job)).get("COMBIPAT__AMQP__URL")
        if got != ("envFrom", "combipat-shared-hook"):
            problems.append(f"service users off: the topology Job's COMBIPAT__AMQP__URL is {got}, expected the service's own (combipat-shared-hook)")


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
    check_service_users()
    for p in problems:
        print(f"render cases: {p}", file=sys.stderr)
    if not problems:
        print("render cases: refusals, checksums, switches and service users as expected")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
