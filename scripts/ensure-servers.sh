#!/usr/bin/env bash
# Makes sure PostgreSQL, RabbitMQ and Redis answer on 127.0.0.1 and that each service's
# database exists. Uses servers that already run, starts installed ones, installs them from
# Debian's packages when run as root, and otherwise stops saying what to do.
set -euo pipefail

PG_HOST=127.0.0.1 PG_PORT=5432 PG_USER=${COMBIPAT_PG_USER:-postgres}
# Each service's database, from the one list of services (the fourth column).
mapfile -t DATABASES < <(awk '!/^#/ && NF >= 4 { print $4 }' "$(dirname "$0")/../services.txt")

say() { printf 'ensure-servers: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # port seconds name
  for _ in $(seq 1 "$(($2 * 4))"); do port_open "$1" && return 0; sleep 0.25; done
  die "$3 did not open port $1 within $2 s"
}

apt_updated=""
install_packages() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    die "missing $*: install them (Debian: apt-get install -y $*) or start the servers yourself"
  fi
  if [ -z "$apt_updated" ]; then
    say "apt-get update"; DEBIAN_FRONTEND=noninteractive apt-get update -qq; apt_updated=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

psql_admin() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

ensure_postgres() {
  if ! port_open "$PG_PORT"; then
    command -v pg_ctlcluster >/dev/null || install_packages postgresql postgresql-client
    local version; version=$(ls /etc/postgresql | sort -V | tail -n 1)
    say "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_port "$PG_PORT" 30 PostgreSQL
  fi
  command -v psql >/dev/null || install_packages postgresql-client
  if ! psql_admin -c 'SELECT 1' >/dev/null 2>&1; then
    # Debian asks for a password over TCP; the local development servers trust loopback.
    local hba; hba=$(ls /etc/postgresql/*/main/pg_hba.conf 2>/dev/null | sort -V | tail -n 1)
    [ -n "$hba" ] && [ -w "$hba" ] || die "cannot log in to PostgreSQL as $PG_USER on $PG_HOST; allow trust for 127.0.0.1 in pg_hba.conf"
    say "allowing trust authentication on 127.0.0.1 in $hba"
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    local version; version=$(basename "$(dirname "$(dirname "$hba")")")
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    sleep 1
    psql_admin -c 'SELECT 1' >/dev/null || die "still cannot log in to PostgreSQL as $PG_USER"
  fi
  for database in "${DATABASES[@]}"; do
    if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$database'")" ]; then
      say "creating database $database"
      psql_admin -c "CREATE DATABASE $database" >/dev/null
    fi
  done
}

ensure_rabbitmq() {
  port_open 5672 && return 0
  command -v rabbitmq-server >/dev/null || install_packages rabbitmq-server
  say "starting RabbitMQ"
  rabbitmq-server -detached
  wait_port 5672 90 RabbitMQ
  # The port opens a moment before the node accepts logins.
  command -v rabbitmqctl >/dev/null && rabbitmqctl await_startup --timeout 60 >/dev/null 2>&1 || sleep 2
}

ensure_redis() {
  port_open 6379 && return 0
  command -v redis-server >/dev/null || install_packages redis-server
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  wait_port 6379 20 Redis
}

# The services' ports (the second and third columns) lie inside Linux's ephemeral range
# (32768-60999): an outgoing connection, say to PostgreSQL, may take one of them just before a
# service binds it, and the service fails with "address already in use". Reserve them where
# this machine lets us (root, a writable /proc/sys); in a pod each service has its own ports.
reserve_service_ports() {
  local file=/proc/sys/net/ipv4/ip_local_reserved_ports ports
  ports=$(awk '!/^#/ && NF >= 4 { printf "%s%s,%s", sep, $2, $3; sep="," }' "$(dirname "$0")/../services.txt")
  [ -w "$file" ] || return 0
  local current; current=$(cat "$file")
  printf '%s\n' "${current:+$current,}$ports" >"$file" 2>/dev/null ||
    say "cannot reserve the services' ports in $file: a bind may now and then find one taken"
}

reserve_service_ports
ensure_postgres
ensure_rabbitmq
ensure_redis
say "PostgreSQL, RabbitMQ and Redis are up"
