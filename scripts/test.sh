#!/usr/bin/env bash
# The README's test command: sets up what it needs, lints, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check --quiet src tests benchmarks scripts
.venv/bin/ruff format --check --quiet src tests benchmarks
.venv/bin/mypy --no-error-summary
# Screenshots of the HTML report and other artifacts worth keeping from a CI run land here.
export DETONATE_ARTIFACTS="${DETONATE_ARTIFACTS:-$PWD/out/test-artifacts}"
mkdir -p "$DETONATE_ARTIFACTS"
exec .venv/bin/pytest "$@"
