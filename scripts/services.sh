#!/usr/bin/env bash
# Make sure the local PostgreSQL and Redis answer; start them the way this machine's packages do.
# Fails loudly (non-zero, with a message) when a service cannot be started: tests never skip.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

wait_for() {  # wait_for NAME CHECK
  for _ in $(seq 1 60); do "$2" && return 0; sleep 0.5; done
  echo "ERROR: $1 did not come up on 127.0.0.1; see its log." >&2
  return 1
}

ensure_postgres() {
  pg_up && return 0
  command -v pg_ctlcluster >/dev/null || { echo "ERROR: PostgreSQL is not installed (apt-get install postgresql)." >&2; exit 1; }
  echo "Starting PostgreSQL..."
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_for PostgreSQL pg_up
}

ensure_redis() {
  redis_up && return 0
  command -v redis-server >/dev/null || { echo "ERROR: Redis is not installed (apt-get install redis-server)." >&2; exit 1; }
  echo "Starting Redis..."
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis redis_up
}

ensure_database() {  # the application's own database (tests create test_<name> themselves)
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$1'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE \"$1\"" >/dev/null
}

case "${1:-all}" in
  postgres) ensure_postgres ;;
  redis) ensure_redis ;;
  all) ensure_postgres; ensure_redis; ensure_database "${2:-openproctor}" ;;
  *) echo "usage: $0 [all|postgres|redis] [dbname]" >&2; exit 2 ;;
esac
