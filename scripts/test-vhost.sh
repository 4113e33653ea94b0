#!/usr/bin/env bash
# Prints the AMQP URL the tests use: a RabbitMQ virtual host of this test run's own, so that
# what the tests leave behind (streams never expire by themselves) goes away with it. Deletes
# the test vhosts earlier runs left (older than two hours: a run going on beside this one keeps
# its own). Without rabbitmqctl rights it falls back to the default vhost.
set -euo pipefail
say() { printf 'test-vhost: %s\n' "$*" >&2; }
default="amqp://guest:guest@127.0.0.1:5672/%2f"
if ! command -v rabbitmqctl >/dev/null || ! rabbitmqctl list_vhosts >/dev/null 2>&1; then
  say "cannot manage virtual hosts here; the tests use the default one"
  echo "$default"; exit 0
fi
now=$(date +%s)
for vhost in $(rabbitmqctl list_vhosts --silent 2>/dev/null | grep '^combipat-t-' || true); do
  created=${vhost#combipat-t-}
  if [[ "$created" =~ ^[0-9]+$ ]] && (( created < now - 7200 )); then
    rabbitmqctl delete_vhost "$vhost" >/dev/null 2>&1 || say "could not delete $vhost"
  fi
done
vhost="combipat-t-$now"
rabbitmqctl add_vhost "$vhost" >/dev/null
rabbitmqctl set_permissions -p "$vhost" guest '.*' '.*' '.*' >/dev/null
echo "amqp://guest:guest@127.0.0.1:5672/$vhost"
