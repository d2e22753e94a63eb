#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on loopback; start them when they are
# installed but stopped. With --install (CI), install them from Debian's packages
# when missing. Never stops anything.
set -euo pipefail
PGHOST="${PGHOST:-127.0.0.1}"; PGPORT="${PGPORT:-5432}"
REDIS_PORT="${REDIS_PORT:-6379}"
install=false
[[ "${1:-}" == "--install" ]] && install=true

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 50); do port_open "$1" "$2" && return 0; sleep 0.2; done
  return 1
}

apt_install() {
  if $install && command -v apt-get >/dev/null; then
    echo "installing $* from Debian's packages"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}

if port_open "$PGHOST" "$PGPORT"; then
  echo "postgres: up on $PGHOST:$PGPORT"
else
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  if command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]]; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  if wait_port "$PGHOST" "$PGPORT"; then
    echo "postgres: started on $PGHOST:$PGPORT"
  else
    echo "postgres: NOT reachable on $PGHOST:$PGPORT. Install PostgreSQL 15+ (apt-get install postgresql)," >&2
    echo "          allow trust or password auth for user postgres on 127.0.0.1, or set DATABASE_URL." >&2
    exit 1
  fi
fi

if port_open 127.0.0.1 "$REDIS_PORT"; then
  echo "redis: up on 127.0.0.1:$REDIS_PORT"
else
  command -v redis-server >/dev/null || apt_install redis-server
  if command -v redis-server >/dev/null; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
      --appendonly no --dir /var/lib/redis --logfile /var/log/redis/smsgw.log
  fi
  if wait_port 127.0.0.1 "$REDIS_PORT"; then
    echo "redis: started on 127.0.0.1:$REDIS_PORT"
  else
    echo "redis: NOT reachable on 127.0.0.1:$REDIS_PORT. Install Redis 7 (apt-get install redis-server)" >&2
    echo "       or set REDIS_URL." >&2
    exit 1
  fi
fi
