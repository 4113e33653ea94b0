#!/usr/bin/env bash
# Reporting's demo: thirteen months of synthetic national traffic (about 20,000 requests a
# month, in proportion to each region's population, Basilicata answering faster and rated
# higher) written straight into reporting's store, so that the tavoli tecnici's pages have
# figures at once; the live demo traffic adds to them through the history stream. Loaded
# once: nothing happens when the store already has figures. Run by scripts/up.sh with
# BIN_DIR and RUN_DIR set, once every service is ready.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${BIN_DIR:?BIN_DIR is the folder of the built binaries}" "${RUN_DIR:?RUN_DIR is the folder of the logs}"

if ! "$BIN_DIR/combipat-reporting" admin demo-history --months 13 --per-month 20000 --seed 1 >>"$RUN_DIR/reporting.log" 2>&1; then
  echo "reporting: cannot load the demo history; see $RUN_DIR/reporting.log" >&2
  exit 1
fi
tail -n 1 "$RUN_DIR/reporting.log"
cat <<MSG
Reporting, the tavoli tecnici's pages (Italian, no JavaScript): http://127.0.0.1:8086/
  choose dr.basilicata for the Basilicata page (http://127.0.0.1:8086/regioni/17),
  paola.analisi for the nation, anna.neri for the patronato INCA.
MSG
