#!/usr/bin/env bash
# The README's main job: builds the bundled sample images (if absent) and scans one (by default
# delayed-dropper, which static scanning calls clean and which is malicious only when it runs),
# printing the terminal summary and writing the JSON report to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
sample=${1:-delayed-dropper}
mkdir -p out
.venv/bin/python -m detonate.factory build-all samples --out out/samples >/dev/null
.venv/bin/detonate image "oci-archive:out/samples/$sample.oci.tar" \
  --json-report "out/$sample.report.json" --fail-on never
echo "JSON report: out/$sample.report.json" >&2
