#!/usr/bin/env bash
# Regenerate the example sweeps (sweeps/*.yaml) and their reports under reports/sweeps/<name>/.
# Usage: bash reports/regenerate_sweeps.sh [WORKERS]   (from the repository root; a few minutes on 2 cores)
# The stores go to results/<name>/ (rerunning resumes; delete that folder to recompute from scratch).
set -euo pipefail
cd "$(dirname "$0")/.."
workers="${1:-2}"
for spec in sweeps/*.yaml; do
    name="$(basename "$spec" .yaml)"
    python -m cimsim sweep "$spec" --workers "$workers" --out "results/$name"
    # `cimsim report` replaces only a folder it wrote (manifest.json); folders from before manifests go first
    [ -f "reports/sweeps/$name/manifest.json" ] || rm -rf "reports/sweeps/$name"
    python -m cimsim report "results/$name" --html --out "reports/sweeps/$name"
done
