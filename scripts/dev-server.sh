#!/usr/bin/env bash
# Sets up and starts the server against a local PostgreSQL: makes sure PostgreSQL
# runs, creates a local secret key on first use, then migrates and serves.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-postgres.sh
scripts/fetch-graphiql.sh || echo "GraphiQL assets not installed; the playground will use a CDN" >&2

env_file=.booster-dev.env
if [ ! -f "$env_file" ]; then
  echo "BOOSTER_SECRET_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" > "$env_file"
  chmod 600 "$env_file"
  echo "created $env_file with a fresh BOOSTER_SECRET_KEY (keep it: it decrypts stored provider keys)" >&2
fi
set -a
# shellcheck disable=SC1090
. "./$env_file"
set +a

exec cargo run -- serve
