#!/usr/bin/env bash
# The anonymous catalogue page against PostGraphile v4 on the same database, side
# by side (examples/catalog_bench.rs): installs what the benchmark needs when it is
# missing (wrk; Node.js and npm; PostGraphile, pinned in bench/postgraphile), makes
# sure PostgreSQL is up, then runs it. Not part of the test suite.
#
# CATALOG_BENCH_SECONDS (default 10), CATALOG_BENCH_WARMUP (default 2) and
# CATALOG_BENCH_PG_WORKERS (default: one per CPU) are passed through.
set -euo pipefail
cd "$(dirname "$0")/.."

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
cargo run --release --example catalog_bench
