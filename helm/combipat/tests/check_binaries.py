#!/usr/bin/env python3
"""The chart's contract with the binaries, against this machine's PostgreSQL, RabbitMQ and Redis.

check_binaries.py BIN_DIR RENDER.yaml

For each service of services.txt whose binary BIN_DIR holds, with the environment its rendered
Deployment gives it (the ConfigMap, the env, the Secret's keys):
  1. run each hook Job's command (`combipat-<service> migrate`, `... topology`), which must exit 0;
  2. once the topology Job (one service's, for the whole release) has run, as Helm runs every
     hook before it creates the Deployments (with broker.serviceUsers the services only check
     the topology: amqp.declare_topology false), start the Deployment's command and wait for
     the startup probe (grpc.health.v1 of the API the manifest names, on the gRPC port it
     names), then for the readiness probe's path on the HTTP port, check the liveness path and
     the ServiceMonitor's /metrics;
  3. send SIGTERM and expect exit 0 within the pod's terminationGracePeriodSeconds.
Then it fails on any `combipat` name of files/metrics-used.txt that no running service
exported: every series a dashboard or an alert reads is shown from the start, at zero. Series
of one entity need the entity: notifier's database is given one webhook endpoint (after its
migrations, before it starts), as a deployment with one registered endpoint has.

What the render points at a cluster is pointed at this machine instead, and only that: the
secrets (a database of its own per service, guest on RabbitMQ for the Deployments and the hook
Jobs alike, though the render gives the topology Job the topology user's URL, local Redis), the
identity provider (a JWKS served here from dev/keys' public key), the ANPR paths (../shared/data, where
the image would carry them), the object store (a local directory), and queue names (a prefix
of the run's own: its queues expire, and its history stream is deleted at the end). Router gets the demo office
directory, without which it does not consume and never reports ready.
"""
import base64
import concurrent.futures
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

TESTS = Path(__file__).resolve().parent
CHART = TESTS.parent
ROOT = CHART.parents[1]
ADMIN_URL = os.environ.get("COMBIPAT_TEST_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DATA = Path(os.environ.get("COMBIPAT_SHARED_DATA", ROOT.parent / "shared/data"))
RUN_ID = f"{int(time.time())}_contract"
# Set once the topology Job has run (or when no built service runs it); the services wait for it.
TOPOLOGY_RAN = threading.Event()
TOPOLOGY_FAILED = []


def jwks_server():
    """Serves the development public key as a JWKS, as an identity provider would."""
    der = base64.b64decode("".join(l for l in (ROOT / "dev/keys/dev-jwt-public.pem").read_text().splitlines() if "-----" not in l))
    x = base64.urlsafe_b64encode(der[-32:]).rstrip(b"=").decode()
    body = json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "alg": "EdDSA", "use": "sig", "kid": "dev"}]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/jwks.json"


def psql(sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", ADMIN_URL, "-c", sql], check=True, capture_output=True)


def port_free(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except OSError:
        return None, ""


def grpc_health(port, service):
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
            return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    except grpc.RpcError as e:
        return e.code().name


def container(obj):
    return obj["spec"]["template"]["spec"]["containers"][0]


class Render:
    def __init__(self, path):
        self.docs = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]

    def find(self, kind, name):
        return next((d for d in self.docs if d["kind"] == kind and d["metadata"]["name"] == name), None)

    def env_of(self, pod_container):
        """The container's environment as the kubelet would make it, secrets included."""
        env = {}
        for source in pod_container.get("envFrom", []):
            ref = source.get("configMapRef") or source.get("secretRef")
            kind = "ConfigMap" if "configMapRef" in source else "Secret"
            obj = self.find(kind, ref["name"])
            if obj is None:
                raise SystemExit(f"binaries: {ref['name']} ({kind}) is not in the render")
            env.update(obj.get("data") or obj.get("stringData") or {})
        for var in pod_container.get("env", []):
            if "value" in var:
                env[var["name"]] = var["value"]
            elif "secretKeyRef" in var.get("valueFrom", {}):
                env[var["name"]] = f"<{var['valueFrom']['secretKeyRef']['name']}>"
            else:
                env[var["name"]] = "contract-check"
        return env


def local_env(service, env, jwks_url, workdir):
    """The render's environment, pointed at this machine (see the module's docstring)."""
    env = dict(env)
    database = f"combipat_t_{RUN_ID}_{service.replace('-', '_')}"
    env.update({
        "COMBIPAT__DATABASE__URL": ADMIN_URL.rsplit("/", 1)[0] + "/" + database,
        "COMBIPAT__AMQP__URL": "amqp://guest:guest@127.0.0.1:5672/%2f",
        "COMBIPAT__AMQP__QUEUE_PREFIX": f"contract.{RUN_ID}.",
        # Only the topology Job declares the queues now (the services check them): those no one
        # consumes (retry, dead-letter) must outlast the slowest service's run after it.
        "COMBIPAT__AMQP__QUEUE_EXPIRES_MS": "600000",
        "COMBIPAT__AUTH__JWKS_URL": jwks_url,
    })
    if "COMBIPAT__RATE_LIMIT__REDIS_URL" in env:
        env["COMBIPAT__RATE_LIMIT__REDIS_URL"] = "redis://127.0.0.1:6379/0"
        env["COMBIPAT__RATE_LIMIT__KEY_PREFIX"] = f"combipat:contract:{RUN_ID}:"
    if "COMBIPAT__TERRITORY__COMUNI_PATH" in env:
        env["COMBIPAT__TERRITORY__COMUNI_PATH"] = str(DATA / Path(env["COMBIPAT__TERRITORY__COMUNI_PATH"]).name)
        env["COMBIPAT__TERRITORY__STATI_ESTERI_PATH"] = str(DATA / Path(env["COMBIPAT__TERRITORY__STATI_ESTERI_PATH"]).name)
    if "COMBIPAT__ATTACHMENTS__STORE_URL" in env:
        env["COMBIPAT__ATTACHMENTS__STORE_URL"] = ""
        env["COMBIPAT__ATTACHMENTS__LOCAL_DIR"] = str(workdir / "attachments")
    if service == "router":
        env["COMBIPAT__DIRECTORY__BOOTSTRAP_PATH"] = str(ROOT / "services/router/directory/demo.yaml")
    for key in [k for k in env if k.endswith("__ENDPOINT")]:
        # Other services' Service names do not resolve here; calls are made on demand only.
        env[key] = env[key].replace(env[key].split("//", 1)[1].split(":", 1)[0], "127.0.0.1")
    env["PATH"] = "/usr/bin:/bin"
    return env, database


def is_topology(job):
    return container(job)["command"][1:] == ["topology"]


def check_service(service, bin_dir, render, jwks_url, workdir, metrics_seen):
    problems = []
    name = f"combipat-{service}"
    dep = render.find("Deployment", name)
    if dep is None:
        return [f"{service}: no Deployment {name} in the render"]
    c = container(dep)
    binary = bin_dir / c["command"][0]
    if not binary.exists():
        return [f"{service}: the manifest runs {c['command'][0]}, which {bin_dir} lacks"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    busy = [p for p in ports.values() if not port_free(p)]
    if busy:
        return [f"{service}: ports {busy} are taken (is `just up` running?)"]
    env, database = local_env(service, render.env_of(c), jwks_url, workdir)
    psql(f"CREATE DATABASE {database}")
    log = (workdir / f"{service}.log").open("w")
    for job in sorted((d for d in render.docs if d["kind"] == "Job" and d["metadata"]["labels"]["app.kubernetes.io/component"] == f"{service}-hook"),
                      key=lambda j: int(j["metadata"]["annotations"]["helm.sh/hook-weight"])):
        jc = container(job)
        jenv, _ = local_env(service, render.env_of(jc), jwks_url, workdir)
        jenv["COMBIPAT__DATABASE__URL"] = env["COMBIPAT__DATABASE__URL"]
        done = subprocess.run([str(bin_dir / jc["command"][0]), *jc["command"][1:]], env=jenv, cwd=workdir,
                              stdout=log, stderr=subprocess.STDOUT, timeout=120)
        if done.returncode != 0:
            problems.append(f"{service}: the hook Job's `{' '.join(jc['command'])}` exited {done.returncode} (log: {log.name})")
            if is_topology(job):
                TOPOLOGY_FAILED.append(service)
        if is_topology(job):
            TOPOLOGY_RAN.set()
    if problems:
        return problems
    if not TOPOLOGY_RAN.wait(timeout=300):
        return [f"{service}: the topology Job had not run after 300 s: not started"]
    if TOPOLOGY_FAILED:
        return [f"{service}: not started: {TOPOLOGY_FAILED[0]}'s topology Job failed"]
    if service == "notifier":
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", env["COMBIPAT__DATABASE__URL"], "-c",
                        "INSERT INTO webhook_endpoints (id, patronato, url, secret, created_at) "
                        "VALUES (gen_random_uuid(), 'INCA', 'https://webhooks.example/combipat', 'check', now())"],
                       check=True, capture_output=True)
    proc = subprocess.Popen([str(binary), *c["command"][1:]], env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        startup = c["startupProbe"]["grpc"]
        ready_path = c["readinessProbe"]["httpGet"]["path"]
        live_path = c["livenessProbe"]["httpGet"]["path"]
        http_port = ports[c["readinessProbe"]["httpGet"]["port"]] if isinstance(c["readinessProbe"]["httpGet"]["port"], str) else c["readinessProbe"]["httpGet"]["port"]
        deadline = time.time() + 60
        status = None
        while time.time() < deadline and proc.poll() is None:
            status = grpc_health(startup["port"], startup["service"])
            # NOT_FOUND comes from a running health service that does not know the name.
            if status in ("SERVING", "NOT_FOUND"):
                break
            time.sleep(0.5)
        if status != "SERVING":
            return [f"{service}: startup probe: grpc.health.v1 {startup['service']} on {startup['port']} answered {status} (log: {log.name})"]
        ready = None
        while time.time() < deadline and proc.poll() is None:
            ready, body = http_status(f"http://127.0.0.1:{http_port}{ready_path}")
            if ready == 200:
                break
            time.sleep(0.5)
        if ready != 200:
            problems.append(f"{service}: readiness probe {ready_path} on {http_port} answered {ready}: {body[:200]}")
        live, _ = http_status(f"http://127.0.0.1:{http_port}{live_path}")
        if live != 200:
            problems.append(f"{service}: liveness probe {live_path} answered {live}")
        code, metrics = http_status(f"http://127.0.0.1:{http_port}/metrics")
        if code != 200:
            problems.append(f"{service}: /metrics answered {code}")
        for line in metrics.splitlines():
            if line and not line.startswith("#"):
                metrics_seen.add(line.split("{", 1)[0].split(" ", 1)[0])
    finally:
        grace = dep["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=grace)
                if code != 0:
                    problems.append(f"{service}: exited {code} after SIGTERM")
            except subprocess.TimeoutExpired:
                proc.kill()
                problems.append(f"{service}: still running {grace} s after SIGTERM (terminationGracePeriodSeconds)")
        else:
            problems.append(f"{service}: exited {proc.returncode} by itself (log: {log.name})")
        log.close()
        subprocess.run(["psql", "-q", ADMIN_URL, "-c", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"], capture_output=True)
    return problems


def forget_queues():
    """Deletes the run's queues: x-expires removes the others, but a stream (the history) never expires."""
    try:
        listed = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name", "type"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        print("binaries: no rabbitmqctl here: the run's history stream stays on the broker", file=sys.stderr)
        return
    for line in listed.stdout.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0].startswith(f"contract.{RUN_ID}.") and fields[1] == "stream":
            subprocess.run(["rabbitmqctl", "-q", "delete_queue", fields[0]], capture_output=True, timeout=30)


def services_txt():
    for line in (ROOT / "services.txt").read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            yield fields[0]


def main(argv):
    args = argv
    bin_dir, render = Path(args[0]).resolve(), Render(args[1])
    jwks_url = jwks_server()
    problems, checked, seen = [], [], set()
    with tempfile.TemporaryDirectory() as tmp:
        def one(service):
            try:
                found = check_service(service, bin_dir, render, jwks_url, Path(tmp), seen)
            finally:
                # The runner of the topology Job that stopped before it: the others go on (and fail).
                if service == runner:
                    TOPOLOGY_RAN.set()
            for log in Path(tmp).glob(f"{service}.log") if found else []:
                tail = log.read_text().splitlines()[-5:]
                found.append("last log lines:\n        " + "\n        ".join(l[:300] for l in tail))
            return found

        built = [s for s in services_txt() if (bin_dir / f"combipat-{s}").exists()]
        problems += [f"{s}: {bin_dir}/combipat-{s} is not built" for s in services_txt() if s not in built]
        runners = [j["metadata"]["labels"]["app.kubernetes.io/component"].removesuffix("-hook")
                   for j in render.docs if j["kind"] == "Job" and is_topology(j)]
        runner = runners[0] if runners else None
        if runner not in built:
            TOPOLOGY_RAN.set()
        # In parallel: each service has its own ports, database and queues; most of the time
        # is each one's drain delay after SIGTERM.
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(built) or 1) as pool:
            for found in pool.map(one, built):
                problems += found
        checked = built
    forget_queues()
    used = {line.split()[0] for line in (CHART / "files/metrics-used.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#") and line.split()[1] == "combipat"}
    exported = seen | {re.sub(r"_(bucket|count|sum)$", "", n) for n in seen}
    missing = sorted(used - exported)
    if missing:
        problems.append(f"{len(missing)} of {len(used)} combipat metric names that dashboards or alerts read are exported by no service: {', '.join(missing)}")
    else:
        print(f"binaries: all {len(used)} combipat metric names that dashboards or alerts read are exported from the start")
    for p in problems:
        print(f"binaries: {p}", file=sys.stderr)

    print(f"binaries: {len(checked)} services ran the render's commands, ports and probes" + ("" if not problems else f"; {len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
