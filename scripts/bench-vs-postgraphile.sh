#!/usr/bin/env bash
# Runs a side-by-side benchmark against PostGraphile v4 on the same database
# (examples/<name>.rs: catalog_bench, customer_pages_bench): installs what it needs
# when missing (wrk; Node.js and npm; PostGraphile, pinned in bench/postgraphile),
# makes sure PostgreSQL is up, then runs it. Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
example="${1:?usage: scripts/bench-vs-postgraphile.sh <example name>}"

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
}

if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk missing: installing it" >&2
  apt_install wrk
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "Node.js or npm missing: installing them" >&2
  apt_install nodejs npm
fi
if [ ! -d bench/postgraphile/node_modules ]; then
  echo "installing PostGraphile (bench/postgraphile/package-lock.json)" >&2
  npm ci --prefix bench/postgraphile --no-audit --no-fund
fi
scripts/ensure-postgres.sh
# Further arguments go to cargo (`--features jemalloc` to measure that allocator).
cargo run --release "${@:2}" --example "$example"
