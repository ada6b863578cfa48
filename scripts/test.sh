#!/usr/bin/env bash
# Runs the whole test suite against the local PostgreSQL (each test makes and drops
# its own database).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-postgres.sh
cargo test --all-targets "$@"
