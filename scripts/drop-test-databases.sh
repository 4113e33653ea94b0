#!/usr/bin/env bash
# Drops the databases earlier test runs left behind (each test creates its own, named
# combipat_t_<unix seconds>_<random>). Only those older than an hour: a test run going on
# beside this one keeps its databases.
set -euo pipefail
url=${COMBIPAT_TEST_ADMIN_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
cutoff=$(( $(date +%s) - 3600 ))
psql "$url" -qtA -c "SELECT datname FROM pg_database WHERE datname LIKE 'combipat\_t\_%'" |
  while read -r database; do
    created=$(cut -d_ -f3 <<<"$database")
    if [[ "$created" =~ ^[0-9]+$ ]] && (( created > cutoff )); then continue; fi
    psql "$url" -q -c "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null
  done
