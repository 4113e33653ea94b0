#!/usr/bin/env bash
# Notifier's demo (run by scripts/up.sh once every service is ready, with BIN_DIR and RUN_DIR):
# a local webhook receiver (127.0.0.1:9099) and mail sink (127.0.0.1:2525) in the background
# (notifier is started pointing at them: scripts/up.sh, service_env), INCA's demo
# endpoint registered with its secret kept for the receiver, e-mail addresses for mario.rossi
# and the INCA-MI-01 office, and a test event sent. `just down` stops the sinks too.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${BIN_DIR:?}" "${RUN_DIR:?}"

http_port=$(awk '$1 == "notifier" { print $3 }' services.txt)
api="http://127.0.0.1:$http_port"

if ! { [ -f "$RUN_DIR/notifier-sinks.pid" ] && kill -0 "$(cat "$RUN_DIR/notifier-sinks.pid")" 2>/dev/null; }; then
  nohup "$BIN_DIR/notifier-demo-sinks" "$RUN_DIR" >>"$RUN_DIR/webhooks.log" 2>&1 &
  echo $! >"$RUN_DIR/notifier-sinks.pid"
fi

# Notifier runs with the sinks' settings (scripts/up.sh, service_env); wait for it.
for _ in $(seq 1 120); do curl -fsS "$api/health/readyz" >/dev/null 2>&1 && break; sleep 0.25; done
curl -fsS "$api/health/readyz" >/dev/null || { echo "notifier is not ready; see $RUN_DIR/notifier.log" >&2; exit 1; }

supervisore=$("$BIN_DIR/combipat-token" supervisore patronato=INCA sub=admin.inca)
operatore=$("$BIN_DIR/combipat-token" operatore patronato=INCA patronato_office=INCA-MI-01 sub=mario.rossi)
json() { curl -fsS -H "authorization: Bearer $1" -H 'content-type: application/json' -X "$2" -d "$4" "$api$3"; }

# One demo endpoint per run: registered the first time, its secret kept for the receiver.
if [ ! -s "$RUN_DIR/webhook-endpoint" ]; then
  registered=$(json "$supervisore" POST /v1/endpoints \
    '{"url":"http://127.0.0.1:9099/hook","description":"demo: the receiver of just up","contact_email":"it@inca.example"}')
  field() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)" <<<"$registered"; }
  field '["secret"]' >"$RUN_DIR/webhook-secret"
  field '["endpoint"]["id"]' >"$RUN_DIR/webhook-endpoint"
fi
json "$operatore" PUT /v1/preferences '{"scope":"PREFERENCE_SCOPE_OPERATOR","email":"mario.rossi@inca.example"}' >/dev/null
json "$operatore" PUT /v1/preferences '{"scope":"PREFERENCE_SCOPE_OFFICE","email":"milano@inca.example"}' >/dev/null
json "$supervisore" POST "/v1/endpoints/$(cat "$RUN_DIR/webhook-endpoint")/test" '{}' >/dev/null

cat <<MSG
Notifier demo: webhooks to http://127.0.0.1:9099/hook (INCA's endpoint $(cat "$RUN_DIR/webhook-endpoint")),
mail to the sink at 127.0.0.1:2525. Watch them arrive:
  tail -f $RUN_DIR/webhooks.log      (each webhook, its signature checked; each mail's file)
  ls $RUN_DIR/mail/                  (the messages, .eml)
MSG
