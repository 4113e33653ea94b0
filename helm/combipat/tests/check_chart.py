#!/usr/bin/env python3
"""The chart's contract, read from its files and its renders.

check_chart.py RENDER.yaml[:VALUES.yaml...]...   (the values files the render was made with)

- services.txt: every service it lists has a values block with the same ports, a template
  file, and a Deployment in each render.
- The six values blocks have the same shape; the six template files differ only by name.
- Every rendered object: standard labels, no namespace.
- Every Deployment: the command, ports and probe paths the binaries serve, the restricted Pod
  Security Standard, a writable /tmp, the config checksum, a grace period longer than drain
  plus deadline, and settings whose ports are the container's.
- Every hook Job: pre-install/pre-upgrade, the service's own image, `migrate` or `topology`.
- broker.serviceUsers: every Deployment's settings say amqp.declare_topology false, and the
  topology Job's COMBIPAT__AMQP__URL is the COMBIPAT__AMQP__TOPOLOGY_URL key given in the values.
  No container has that key in its environment (the settings refuse it; the services must not
  hold the configure right), nor a variable twice.
- Every NetworkPolicy rule names its peers (an empty `to`/`from` would allow everyone), DNS
  is allowed, and each service reaches the gRPC ports of the services it calls.
"""
import copy
import re
import sys
from pathlib import Path

import yaml

from render import deep_merge, load_values

CHART = Path(__file__).resolve().parents[1]
ROOT = CHART.parents[1]
LABELS = ["app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component",
          "app.kubernetes.io/part-of", "app.kubernetes.io/version", "app.kubernetes.io/managed-by"]
CALLS = {"intake": {"router", "notifier"}, "office-queue": {"router", "notifier"}, "reminder-scheduler": {"router"}}
TOPOLOGY_KEY = "COMBIPAT__AMQP__TOPOLOGY_URL"
errors = []


def fail(message):
    errors.append(message)


def services_txt():
    rows = {}
    for line in (ROOT / "services.txt").read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            name, grpc, http, database = fields
            rows[name] = {"grpc": int(grpc), "http": int(http), "database": database}
    return rows


def shape(value):
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    return type(value).__name__


def check_sources(values):
    blocks = values["services"]
    for name, row in services_txt().items():
        block = blocks.get(name)
        if block is None:
            fail(f"services.txt lists {name}, which has no block under services in values.yaml")
            continue
        if block["ports"] != {"grpc": row["grpc"], "http": row["http"]}:
            fail(f"{name}: services.txt says gRPC {row['grpc']} HTTP {row['http']}, values.yaml {block['ports']}")
        if not (CHART / "templates" / f"{name}.yaml").exists():
            fail(f"services.txt lists {name}, which has no templates/{name}.yaml")
    first_name, first = next(iter(blocks.items()))
    for name, block in blocks.items():
        if shape(block) != shape(first):
            fail(f"values.yaml: services.{name} is not the same shape as services.{first_name}")
    thin = {}
    for name in blocks:
        path = CHART / "templates" / f"{name}.yaml"
        if not path.exists():
            fail(f"services.{name} has no templates/{name}.yaml")
            continue
        thin[name] = path.read_text().replace(f'"{name}"', '"NAME"').replace(f" {name} ", " NAME ")
    if len(set(thin.values())) > 1:
        fail("the per-service template files differ beyond the service's name: move the difference into _helpers.tpl")
    for line in (CHART / "values.yaml").read_text().splitlines():
        line = line.split("#", 1)[0]
        if re.search(r"pass(word|wd)?[a-z_]*[ \t]*:[ \t]*[^\s{}]", line, re.I) or re.search(r"://[^/\s:@]+:[^@\s]+@", line):
            fail(f"values.yaml carries something that looks like a password ({line.strip()}): the chart ships none")


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def check_labels(doc, where):
    labels = doc["metadata"].get("labels", {})
    missing = [k for k in LABELS if k not in labels and not (k.endswith("component") and doc["kind"] in ("PrometheusRule", "ServiceMonitor", "ConfigMap", "Secret"))]
    if missing:
        fail(f"{where}: missing labels {missing}")
    if "namespace" in doc["metadata"]:
        fail(f"{where}: writes a namespace; the release's namespace must decide")


def container_of(pod_spec, where):
    containers = pod_spec.get("containers", [])
    if len(containers) != 1:
        fail(f"{where}: expected one container, found {len(containers)}")
    return containers[0] if containers else {}


def check_security(pod_spec, where):
    pod = pod_spec.get("securityContext", {})
    c = container_of(pod_spec, where).get("securityContext", {})
    wanted = [
        (pod.get("runAsNonRoot") is True, "pod runAsNonRoot"),
        (pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp RuntimeDefault"),
        (c.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false"),
        (c.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem"),
        (c.get("capabilities", {}).get("drop") == ["ALL"], "capabilities drop ALL"),
        (pod.get("runAsUser", 0) >= 10000, "a non-root UID of 10000 or more"),
    ]
    for ok, what in wanted:
        if not ok:
            fail(f"{where}: not restricted: {what}")
    mounts = {m["mountPath"]: m["name"] for m in container_of(pod_spec, where).get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    if "emptyDir" not in volumes.get(mounts.get("/tmp", ""), {}):
        fail(f"{where}: /tmp is not an emptyDir on the read-only root")


def settings_of(docs, name):
    for cm in by_kind(docs, "ConfigMap"):
        if cm["metadata"]["name"] == name:
            return cm["data"]
    return None


def check_deployment(docs, dep, values, path):
    where = f"{path}: Deployment/{dep['metadata']['name']}"
    service = dep["metadata"]["labels"]["app.kubernetes.io/component"]
    block = values["services"][service]
    spec = dep["spec"]["template"]["spec"]
    c = container_of(spec, where)
    if c.get("command") != [f"combipat-{service}", "serve"]:
        fail(f"{where}: command {c.get('command')}, expected combipat-{service} serve")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    if ports != block["ports"]:
        fail(f"{where}: container ports {ports}, values {block['ports']}")
    for probe, path_ in (("livenessProbe", "/health/livez"), ("readinessProbe", "/health/readyz")):
        get = c.get(probe, {}).get("httpGet", {})
        if get.get("path") != path_ or get.get("port") not in ("http", block["ports"]["http"]):
            fail(f"{where}: {probe} is {get}, expected {path_} on the HTTP port")
    startup = c.get("startupProbe", {}).get("grpc", {})
    if startup.get("port") != block["ports"]["grpc"] or not re.fullmatch(r"combipat\.[a-z]+\.v1\.[A-Za-z]+", startup.get("service", "")):
        fail(f"{where}: startupProbe is {startup}, expected grpc.health.v1 of combipat.<service>.v1.<Api> on the gRPC port")
    check_security(spec, where)
    if not dep["spec"]["template"]["metadata"].get("annotations", {}).get("checksum/config"):
        fail(f"{where}: no checksum/config annotation")
    settings = settings_of(docs, dep["metadata"]["name"])
    if settings is None:
        fail(f"{where}: no ConfigMap {dep['metadata']['name']}")
        return
    if {"grpc": int(settings.get("COMBIPAT__GRPC__PORT", 0)), "http": int(settings.get("COMBIPAT__HTTP__PORT", 0))} != block["ports"]:
        fail(f"{where}: the ConfigMap's ports differ from the container's")
    stop_ms = int(settings["COMBIPAT__SHUTDOWN__DRAIN_DELAY_MS"]) + int(settings["COMBIPAT__SHUTDOWN__DEADLINE_MS"])
    if spec.get("terminationGracePeriodSeconds", 30) * 1000 <= stop_ms:
        fail(f"{where}: terminationGracePeriodSeconds {spec.get('terminationGracePeriodSeconds')} s is not above drain + deadline ({stop_ms} ms)")
    if block["migrations"]["enabled"] and settings.get("COMBIPAT__DATABASE__MIGRATE_ON_START") != "false":
        fail(f"{where}: the hook Job migrates, so migrate_on_start must be false")
    for key in settings:
        if key in ("COMBIPAT__DATABASE__URL", "COMBIPAT__AMQP__URL", "COMBIPAT__RATE_LIMIT__REDIS_URL"):
            fail(f"{where}: the secret {key} is in the ConfigMap")
    image = c.get("image")
    jobs = [j for j in by_kind(docs, "Job") if j["metadata"]["labels"]["app.kubernetes.io/component"] == f"{service}-hook"]
    commands = sorted(container_of(j["spec"]["template"]["spec"], "job")["command"][1] for j in jobs)
    if ("migrate" in commands) != block["migrations"]["enabled"]:
        fail(f"{where}: hook Jobs run {commands}, but migrations.enabled is {block['migrations']['enabled']}")
    for job in jobs:
        jwhere = f"{path}: Job/{job['metadata']['name']}"
        hook = job["metadata"].get("annotations", {}).get("helm.sh/hook", "")
        if set(hook.split(",")) != {"pre-install", "pre-upgrade"}:
            fail(f"{jwhere}: helm.sh/hook is {hook!r}")
        jc = container_of(job["spec"]["template"]["spec"], jwhere)
        if jc.get("image") != image or jc["command"][0] != f"combipat-{service}":
            fail(f"{jwhere}: not run by the service's own image and binary")
        check_security(job["spec"]["template"]["spec"], jwhere)


def env_sources(docs, c):
    """A container's variables, each as what it reads: ("value", v), ("ref", name, key) or ("envFrom", name)."""
    env = {}
    secrets = {d["metadata"]["name"]: d for d in by_kind(docs, "Secret")}
    for source in c.get("envFrom") or []:
        if "secretRef" in source:
            for key in (secrets.get(source["secretRef"]["name"], {}).get("stringData") or {}):
                env[key] = ("envFrom", source["secretRef"]["name"])
    for var in c.get("env") or []:
        ref = var.get("valueFrom", {}).get("secretKeyRef")
        env[var["name"]] = ("ref", ref["name"], ref["key"]) if ref else ("value", var.get("value"))
    return env


def check_broker_users(docs, values, path):
    service_users = values["broker"]["serviceUsers"]
    for obj in by_kind(docs, "Deployment") + by_kind(docs, "Job"):
        where = f"{path}: {obj['kind']}/{obj['metadata']['name']}"
        c = container_of(obj["spec"]["template"]["spec"], where)
        names = [v["name"] for v in c.get("env") or []]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            fail(f"{where}: sets {twice} more than once")
        if TOPOLOGY_KEY in env_sources(docs, c):
            fail(f"{where}: {TOPOLOGY_KEY} is in its environment: the settings refuse it (amqp.topology_url), and only the topology Job may connect as that user")
    for dep in by_kind(docs, "Deployment"):
        service = dep["metadata"]["labels"]["app.kubernetes.io/component"]
        wanted = "false" if service_users else None
        for source in (values["commonSettings"], values["services"][service]["settings"]):
            if "amqp.declare_topology" in source:
                wanted = str(source["amqp.declare_topology"]).lower()
        got = (settings_of(docs, dep["metadata"]["name"]) or {}).get("COMBIPAT__AMQP__DECLARE_TOPOLOGY")
        if got != wanted:
            fail(f"{path}: Deployment/{dep['metadata']['name']}: amqp.declare_topology is {got!r}, expected {wanted!r} (broker.serviceUsers {service_users})")
    if not service_users:
        return
    for job in by_kind(docs, "Job"):
        c = container_of(job["spec"]["template"]["spec"], "job")
        if c["command"][1] != "topology":
            continue
        where = f"{path}: Job/{job['metadata']['name']}"
        service = job["metadata"]["labels"]["app.kubernetes.io/component"].removesuffix("-hook")
        own, shared = values["services"][service]["secrets"], values["sharedSecrets"]
        # The chart's precedence, without the existing Secrets (they cannot hold this key).
        given = next((("ref", s["keyRefs"][TOPOLOGY_KEY]) if TOPOLOGY_KEY in s["keyRefs"] else ("value", s["values"][TOPOLOGY_KEY])
                      for s in (own, shared) if TOPOLOGY_KEY in s["keyRefs"] or TOPOLOGY_KEY in s["values"]), None)
        got = env_sources(docs, c).get("COMBIPAT__AMQP__URL")
        if given is None:
            fail(f"{where}: rendered with broker.serviceUsers but no {TOPOLOGY_KEY} in the values")
        elif given[0] == "ref" and got != ("ref", given[1]["name"], given[1]["key"]):
            fail(f"{where}: COMBIPAT__AMQP__URL is {got}, expected {TOPOLOGY_KEY}'s keyRef {given[1]}")
        elif given[0] == "value":
            secret = next((d for d in by_kind(docs, "Secret") if got and got[0] == "ref" and d["metadata"]["name"] == got[1]), {})
            if secret.get("stringData", {}).get(got[2] if got and got[0] == "ref" else "") != given[1]:
                fail(f"{where}: COMBIPAT__AMQP__URL is {got}, not a Secret of the render holding the {TOPOLOGY_KEY} given")


def check_network_policies(docs, path):
    deployments = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in by_kind(docs, "Deployment")}
    policies = {}
    for np in by_kind(docs, "NetworkPolicy"):
        where = f"{path}: NetworkPolicy/{np['metadata']['name']}"
        spec = np["spec"]
        for rule in spec.get("ingress", []):
            if not rule.get("from"):
                fail(f"{where}: an ingress rule without `from` admits every source")
        for rule in spec.get("egress", []):
            if not rule.get("to"):
                fail(f"{where}: an egress rule without `to` allows every destination")
        if not any(p.get("port") == 53 for r in spec.get("egress", []) for p in r.get("ports", [])):
            fail(f"{where}: DNS is not allowed")
        policies[spec["podSelector"]["matchLabels"].get("app.kubernetes.io/component")] = spec
    for service, dep in deployments.items():
        spec = policies.get(service)
        if spec is None:
            fail(f"{path}: no NetworkPolicy selects {service}")
            continue
        if spec["podSelector"]["matchLabels"] != dep["spec"]["selector"]["matchLabels"]:
            fail(f"{path}: {service}'s NetworkPolicy does not select its pods")
        for called in CALLS.get(service, set()) & set(deployments):
            port = container_of(deployments[called]["spec"]["template"]["spec"], called)["ports"][0]["containerPort"]
            reach = [r for r in spec.get("egress", []) for peer in r.get("to", [])
                     if peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component") == called
                     and any(p.get("port") == port for p in r.get("ports", []))]
            if not reach:
                fail(f"{path}: {service} may not reach {called}'s gRPC port {port}")


def check_render(path, values):
    docs = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
    for doc in docs:
        check_labels(doc, f"{path}: {doc['kind']}/{doc['metadata']['name']}")
    rendered = {d["metadata"]["labels"]["app.kubernetes.io/component"] for d in by_kind(docs, "Deployment")}
    for name in services_txt():
        if values["services"].get(name, {}).get("enabled") and name not in rendered:
            fail(f"{path}: no Deployment for {name}")
    for dep in by_kind(docs, "Deployment"):
        check_deployment(docs, dep, values, path)
    topology = [j for j in by_kind(docs, "Job") if container_of(j["spec"]["template"]["spec"], "job")["command"][1] == "topology"]
    if len(topology) != 1:
        fail(f"{path}: {len(topology)} topology Jobs; the whole topology is declared once per release")
    check_broker_users(docs, values, path)
    check_network_policies(docs, path)
    return len(docs)


def main(renders):
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    check_sources(defaults)
    counted = 0
    for arg in renders:
        path, *values_files = arg.split(":")
        counted += check_render(path, deep_merge(copy.deepcopy(defaults), load_values(values_files)))
    for error in errors:
        print(f"chart: {error}", file=sys.stderr)
    if not errors:
        print(f"chart: {len(services_txt())} services of services.txt match the chart; {counted} rendered objects keep the contract")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
