#!/usr/bin/env bash
# Installs the test runner when it is missing (a fresh machine).
set -euo pipefail
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "ensure-tools: installing cargo-nextest" >&2
  cargo install --locked cargo-nextest
fi
