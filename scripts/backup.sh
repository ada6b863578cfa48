#!/usr/bin/env bash
# Backs up booster's database: a pg_dump in custom format (-Fc) into a timestamped
# file, written under a temporary name and renamed only once complete and readable,
# so a backup directory never holds a half-written dump. Keeps the newest
# BACKUP_KEEP dumps of that database and deletes older ones, prints the new file's
# path on stdout, then runs the optional off-machine copy hook.
#
#   scripts/backup.sh [DATABASE_URL [BACKUP_DIR]]
#
#   DATABASE_URL         the database to dump (default: booster's default,
#                        postgres://postgres@127.0.0.1:5432/booster)
#   BACKUP_DIR           where dumps go (required: argument or variable)
#   BACKUP_KEEP          how many dumps of this database to keep (default 14)
#   BACKUP_COPY_COMMAND  optional; run by bash after the dump with the file's path
#                        as "$1" (also in $BACKUP_FILE), e.g.
#                          'rclone copy "$1" offsite:booster-backups/'
#                          'rsync -a "$1" backup@backup-host:/srv/booster/'
#                        a failing copy makes the script exit non-zero (the local
#                        dump is kept).
#
# Files are named <database>-<UTC timestamp>.dump. Restore with scripts/restore.sh.
# Never put BOOSTER_SECRET_KEY in the same place as these dumps (docs/OPERATIONS.md).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

case "${1:-}" in
  -h | --help) usage ;;
esac
if [ "$#" -gt 2 ]; then
  usage
fi

database_url=${1:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/booster}}
backup_dir=${2:-${BACKUP_DIR:-}}
keep=${BACKUP_KEEP:-14}

if [ -z "$backup_dir" ]; then
  echo "backup.sh: no backup directory: pass it as the second argument or set BACKUP_DIR" >&2
  exit 2
fi
if ! [[ "$keep" =~ ^[0-9]+$ ]] || [ "$keep" -lt 1 ]; then
  echo "backup.sh: BACKUP_KEEP must be a whole number of at least 1, not '$keep'" >&2
  exit 2
fi
for tool in pg_dump pg_restore; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "backup.sh: $tool not found: install the PostgreSQL client (scripts/ensure-postgres.sh does)" >&2
    exit 1
  fi
done

# The database's name: the URL's last path segment, without a query string.
without_query=${database_url%%\?*}
database=${without_query##*/}
if [ -z "$database" ] || [ "$database" = "$without_query" ]; then
  echo "backup.sh: cannot read a database name from the URL" >&2
  exit 2
fi
# Only safe characters in the file name.
prefix=$(printf '%s' "$database" | tr -c 'A-Za-z0-9_.-' '_')

mkdir -p "$backup_dir"
final="$backup_dir/$prefix-$(date -u +%Y%m%dT%H%M%SZ).dump"
if [ -e "$final" ]; then
  echo "backup.sh: $final already exists (two backups in the same second?)" >&2
  exit 1
fi
partial="$final.partial"
trap 'rm -f "$partial"' EXIT

echo "backup.sh: dumping database $database" >&2
pg_dump --format=custom --no-password --dbname="$database_url" --file="$partial"
# A dump pg_restore cannot read is no backup.
pg_restore --list "$partial" >/dev/null
sync "$partial" 2>/dev/null || true
mv "$partial" "$final"
trap - EXIT
echo "backup.sh: wrote $final ($(wc -c <"$final") bytes)" >&2

# Retention: the names sort by time; keep the newest $keep of this database.
stamp='[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z'
mapfile -t dumps < <(find "$backup_dir" -maxdepth 1 -type f -name "$prefix-$stamp.dump" | sort)
excess=$((${#dumps[@]} - keep))
for ((i = 0; i < excess; i++)); do
  echo "backup.sh: removing old backup ${dumps[i]}" >&2
  rm -f -- "${dumps[i]}"
done

printf '%s\n' "$final"

if [ -n "${BACKUP_COPY_COMMAND:-}" ]; then
  echo "backup.sh: copying off-machine" >&2
  if ! BACKUP_FILE="$final" bash -c "$BACKUP_COPY_COMMAND" backup-copy "$final"; then
    echo "backup.sh: the off-machine copy failed (BACKUP_COPY_COMMAND); the local dump is kept" >&2
    exit 1
  fi
fi
