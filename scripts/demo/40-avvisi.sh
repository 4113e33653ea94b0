#!/usr/bin/env bash
# Avvisi's demo (run by scripts/up.sh once every service is ready, with BIN_DIR and RUN_DIR):
# where the demo patronato offices are (an admin's import), then three avvisi as INPS would
# publish them: one national from the central structures, one importante for Lombardia from
# its direzione regionale, one from the sede of Milano for its province. Each carries a fixed
# Idempotency-Key, so running `just up` again publishes nothing twice.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${BIN_DIR:?}" "${RUN_DIR:?}"

http_port=$(awk '$1 == "notifier" { print $3 }' services.txt)
api="http://127.0.0.1:$http_port"
for _ in $(seq 1 120); do curl -fsS "$api/health/readyz" >/dev/null 2>&1 && break; sleep 0.25; done

token() { "$BIN_DIR/combipat-token" "$@"; }
admin=$(token admin sub=redazione.centrale)
direzione=$(token responsabile inps_office=DR-LOMBARDIA sub=giovanna.brambilla)
sede=$(token responsabile inps_office=SEDE-MI sub=franca.colombo)
# post TOKEN PATH BODY [IDEMPOTENCY-KEY]
post() {
  curl -fsS -H "authorization: Bearer $1" -H 'content-type: application/json' \
    ${4:+-H "idempotency-key: $4"} -X POST -d "$3" "$api$2" >/dev/null \
    || { echo "avvisi demo: POST $2 was refused" >&2; exit 1; }
}

# The demo operators' offices (intake's and the console's demo sign-in).
post "$admin" /v1/patronato-offices/import '{"offices":[
  {"patronato":"INCA","office":"INCA-MI-01","province_code":"MI"},
  {"patronato":"INCA","office":"INCA-TO-02","province_code":"TO"},
  {"patronato":"ACLI","office":"ACLI-RM-1","province_code":"RM"}]}'

post "$admin" /v1/avvisi '{
  "title": "Assegno unico e universale: rinnovare l'\''ISEE entro il 28 febbraio",
  "text": "Per ricevere dal mese di marzo gli importi dell'\''assegno unico calcolati sull'\''ISEE in corso di validità, le famiglie devono presentare la nuova DSU entro il 28 febbraio.\nSenza ISEE aggiornato l'\''assegno è pagato con gli importi minimi; gli arretrati sono riconosciuti se la DSU è presentata entro il 30 giugno.",
  "topic": "assegno_unico",
  "priority": "AVVISO_PRIORITY_INFORMATIVO",
  "audience": {"scope": "AUDIENCE_SCOPE_NATION"}}' demo-avviso-isee

post "$direzione" /v1/avvisi '{
  "title": "Lombardia: domande di invalidità civile sospese il 12 dicembre per manutenzione",
  "text": "Sabato 12 dicembre, dalle 8 alle 20, il servizio telematico per le domande di invalidità civile non è disponibile in Lombardia per un intervento sui sistemi.\nLe domande in scadenza quel giorno possono essere presentate lunedì 14 dicembre senza perdere la decorrenza.",
  "topic": "invalidita_civile",
  "priority": "AVVISO_PRIORITY_IMPORTANTE",
  "audience": {"scope": "AUDIENCE_SCOPE_REGION", "region_code": "03"}}' demo-avviso-lombardia

post "$sede" /v1/avvisi '{
  "title": "Milano: nuovo orario dello sportello dedicato ai patronati",
  "text": "Dal 1° dicembre lo sportello dedicato ai patronati della sede di Milano riceve su appuntamento il martedì e il giovedì dalle 9 alle 13.\nGli appuntamenti si prenotano attraverso il canale COMBIPAT con il motivo «richiesta generica».",
  "topic": "pensioni",
  "priority": "AVVISO_PRIORITY_INFORMATIVO",
  "audience": {"scope": "AUDIENCE_SCOPE_PROVINCES", "province_codes": ["MI"]}}' demo-avviso-milano

echo "Avvisi demo: 3 avvisi published (national, Lombardia importante, Milano); see 'Avvisi' in intake's pages and the console."
