#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432: starts the local cluster
# when it is down, installs PostgreSQL from the system's packages when there is none.
# Then makes sure the client tools (psql, pg_dump, pg_restore: scripts/backup.sh,
# scripts/restore.sh and tests/backup.rs use them) are installed and not older than
# the server, which pg_dump requires.
set -euo pipefail

host=127.0.0.1
port=5432

ready() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -h "$host" -p "$port" -q
  else
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
  fi
}

major() { # the major version in a `pg_dump --version` line or a server_version_num
  case "$1" in
    *[!0-9]*) sed -E 's/^[^0-9]*([0-9]+).*/\1/' <<<"$1" ;;
    *) echo $(($1 / 10000)) ;;
  esac
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
}

# Warns rather than fails: the server is up, only backups and their test need these.
ensure_client_tools() {
  if ! command -v psql >/dev/null || ! command -v pg_dump >/dev/null || ! command -v pg_restore >/dev/null; then
    echo "PostgreSQL client tools missing: installing postgresql-client" >&2
    apt_install postgresql-client || {
      echo "could not install postgresql-client: backups (scripts/backup.sh) need pg_dump and pg_restore" >&2
      return 0
    }
  fi
  local server client
  server=$(psql -h "$host" -p "$port" -U postgres -d postgres -XAtc 'SHOW server_version_num') || {
    echo "could not read the server's version: check that pg_dump is not older than the server" >&2
    return 0
  }
  server=$(major "$server")
  client=$(major "$(pg_dump --version)")
  if [ "$client" -lt "$server" ]; then
    echo "pg_dump $client is older than the PostgreSQL $server server: installing postgresql-client-$server" >&2
    apt_install "postgresql-client-$server" || echo "could not install postgresql-client-$server: add the PostgreSQL apt repository (apt.postgresql.org) and install it, or backups will fail" >&2
  fi
}

if ready; then
  ensure_client_tools
  exit 0
fi

if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "PostgreSQL is not installed: installing it from the system's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
  # Local trust auth over TCP, as the README documents for development.
  hba=/etc/postgresql/$version/main/pg_hba.conf
  sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/; s/^(local\s+all\s+postgres\s+)\S+/\1trust/' "$hba"
fi

version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
echo "starting PostgreSQL $version" >&2
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true

for _ in $(seq 1 30); do
  if ready; then
    ensure_client_tools
    exit 0
  fi
  sleep 1
done
echo "PostgreSQL did not come up on $host:$port" >&2
exit 1
