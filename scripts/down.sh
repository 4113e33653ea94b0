#!/usr/bin/env bash
# Stops what `just up` started: SIGTERM, so each service drains and flushes its outbox.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
for pid_file in run/*.pid; do
  pid=$(cat "$pid_file")
  service=$(basename "$pid_file" .pid)
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$service did not stop in 30 s; killing it" >&2
      kill -KILL "$pid"
    fi
    echo "stopped $service"
  fi
  rm -f "$pid_file"
done
