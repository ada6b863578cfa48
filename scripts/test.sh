#!/usr/bin/env bash
# Runs the whole test suite against the local PostgreSQL (each test makes and drops
# its own database). Examples and benchmarks are built too, so they never rot.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-postgres.sh
# The checks from outside: the GraphQL over HTTP audit and the browser journey.
scripts/web-test-deps.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo build --all-targets "$@"
cargo test --lib --bins --tests "$@" 2>&1 | tee "$log"
# The `jemalloc` feature's allocator: its settings read back from jemalloc.
cargo test --lib --features jemalloc "$@" allocator:: 2>&1 | tee -a "$log"
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
