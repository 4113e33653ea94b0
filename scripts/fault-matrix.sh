#!/usr/bin/env bash
# Runs the given test command on a vhost of its own, with the fault cases appending their rows
# to target/fault-matrix.md, then prints that table (accepted, filed, lost, duplicated effects,
# dead letters, outbox left, statuses agree), whether the tests passed or not.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p target
table="$PWD/target/fault-matrix.md"
: >"$table"
vhost=$(scripts/test-vhost.sh) || exit 1
COMBIPAT_TEST_AMQP_URL="$vhost" COMBIPAT_FAULT_MATRIX="$table" "$@"
status=$?
if [ -s "$table" ]; then
  echo "fault matrix (target/fault-matrix.md):"
  cat "$table"
fi
exit "$status"
