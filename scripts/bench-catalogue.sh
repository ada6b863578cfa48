#!/usr/bin/env bash
# The anonymous catalogue page against PostGraphile v4 on the same database, side
# by side (examples/catalog_bench.rs); see scripts/bench-vs-postgraphile.sh.
#
# CATALOG_BENCH_SECONDS (default 10), CATALOG_BENCH_WARMUP (default 2) and
# CATALOG_BENCH_PG_WORKERS (default: one per CPU) are passed through.
set -euo pipefail
exec "$(dirname "$0")/bench-vs-postgraphile.sh" catalog_bench
