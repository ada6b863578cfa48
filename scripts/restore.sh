#!/usr/bin/env bash
# Restores a dump made by scripts/backup.sh into a fresh database, brings it up to
# this release's migrations and checks the books.
#
#   scripts/restore.sh [--force] <dump file> [target DATABASE_URL]
#
# 1. checks the dump is readable (pg_restore --list);
# 2. creates the target database if it does not exist; if it exists and already has
#    tables, refuses unless --force (then the dump's objects are dropped and
#    recreated: pg_restore --clean --if-exists; anything else in the database stays);
# 3. pg_restore --no-owner --no-privileges --exit-on-error --single-transaction, so a
#    failed restore leaves nothing half-done;
# 4. `booster migrate`: a dump from an older release gets this release's migrations;
# 5. prints what it restored (users, balances, ledger, orders, deposits, providers)
#    and runs `booster audit`: the exit status is non-zero when any balance differs
#    from the sum of its ledger.
#
#   target DATABASE_URL  default: $DATABASE_URL, else booster's default
#                        (postgres://postgres@127.0.0.1:5432/booster)
#   BOOSTER_BIN          the booster binary (default: `booster` on PATH)
#   MAINTENANCE_DATABASE the database on the same server used to create the target
#                        (default postgres)
#
# The restored database is only useful with the BOOSTER_SECRET_KEY it was written
# with: provider API keys and stock items are encrypted with it (docs/OPERATIONS.md).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

force=false
positional=()
for arg in "$@"; do
  case "$arg" in
    --force) force=true ;;
    -h | --help) usage ;;
    -*) echo "restore.sh: unknown option $arg" >&2; usage ;;
    *) positional+=("$arg") ;;
  esac
done
if [ "${#positional[@]}" -lt 1 ] || [ "${#positional[@]}" -gt 2 ]; then
  usage
fi
dump=${positional[0]}
target_url=${positional[1]:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/booster}}
booster=${BOOSTER_BIN:-booster}

for tool in pg_restore psql "$booster"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "restore.sh: $tool not found (PostgreSQL client: scripts/ensure-postgres.sh installs it; booster: set BOOSTER_BIN)" >&2
    exit 1
  fi
done
if [ ! -f "$dump" ]; then
  echo "restore.sh: no such file: $dump" >&2
  exit 1
fi
if ! pg_restore --list "$dump" >/dev/null; then
  echo "restore.sh: $dump is not a readable pg_dump custom-format file" >&2
  exit 1
fi

# The target's name and the same server's maintenance database, from the URL.
without_query=${target_url%%\?*}
query=${target_url#"$without_query"}
database=${without_query##*/}
server=${without_query%/*}
if [ -z "$database" ] || [ "$server" = "$without_query" ] || [[ "$server" != *://* ]]; then
  echo "restore.sh: cannot read a database name from the target URL" >&2
  exit 2
fi
maintenance_url="$server/${MAINTENANCE_DATABASE:-postgres}$query"

sql() { # sql <url> [psql -v assignments...] < statement
  local url=$1
  shift
  psql --no-psqlrc --quiet --no-align --tuples-only --no-password \
    -v ON_ERROR_STOP=1 "$@" --dbname="$url"
}

exists=$(sql "$maintenance_url" -v db="$database" <<<"SELECT count(*) FROM pg_database WHERE datname = :'db';")
clean=()
if [ "$exists" = 0 ]; then
  echo "restore.sh: creating database $database" >&2
  sql "$maintenance_url" -v db="$database" <<<'CREATE DATABASE :"db";'
else
  tables=$(sql "$target_url" <<'SQL'
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%';
SQL
  )
  if [ "$tables" != 0 ]; then
    if [ "$force" != true ]; then
      echo "restore.sh: refusing: database $database already has $tables tables." >&2
      echo "restore.sh: restore into a new database name, or pass --force to drop and recreate the dump's objects in it" >&2
      exit 1
    fi
    echo "restore.sh: --force: database $database has $tables tables; the dump's objects are dropped and recreated" >&2
    clean=(--clean --if-exists)
  fi
fi

echo "restore.sh: restoring $dump into $database" >&2
pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
  "${clean[@]}" --dbname="$target_url" "$dump"

echo "restore.sh: applying this release's migrations" >&2
DATABASE_URL="$target_url" "$booster" migrate

echo "restore.sh: restored database $database:"
sql "$target_url" <<'SQL'
SELECT format('  migrations applied: %s (latest %s)', count(*), max(version)) FROM __diesel_schema_migrations;
SELECT format('  users: %s, balances total %s rupiah', count(*), coalesce(sum(balance), 0)) FROM users;
SELECT format('  ledger entries: %s, summing to %s rupiah', count(*), coalesce(sum(amount), 0)) FROM ledger_entries;
SELECT format('  orders: %s (%s)', (SELECT count(*) FROM orders),
              coalesce((SELECT string_agg(status || ' ' || n, ', ' ORDER BY status)
                        FROM (SELECT status, count(*) AS n FROM orders GROUP BY status) s), 'none'));
SELECT format('  deposits: %s, %s paid', count(*), count(*) FILTER (WHERE status = 'PAID')) FROM deposits;
SELECT format('  providers: %s (their API keys need the same BOOSTER_SECRET_KEY)', count(*)) FROM providers;
SQL

echo "restore.sh: checking every balance against its ledger (booster audit)"
if ! DATABASE_URL="$target_url" "$booster" audit; then
  echo "restore.sh: AUDIT FAILED: the restored books do not balance (see above)" >&2
  exit 1
fi
echo "restore.sh: done: $database restored and audited"
