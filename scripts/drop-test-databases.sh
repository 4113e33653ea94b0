#!/usr/bin/env bash
# Drops the databases earlier test runs left behind (each test creates its own).
set -euo pipefail
url=${COMBIPAT_TEST_ADMIN_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
psql "$url" -qtA -c "SELECT datname FROM pg_database WHERE datname LIKE 'combipat_t_%'" |
  while read -r database; do
    [ -n "$database" ] && psql "$url" -q -c "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null
  done
