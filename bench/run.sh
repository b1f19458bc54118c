#!/usr/bin/env bash
# The codec benchmarks RUNS times (default 3), each run's criterion results kept in
# target/criterion-runs/N, then the BENCHMARKS.md table with every figure the median over the
# runs: one run on a noisy 2-core VM can be 30% off.
# usage: bench/run.sh [RUNS] [OUT.md]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
out="${2:-BENCHMARKS-latest.md}"
rm -rf target/criterion-runs
for i in $(seq 1 "$runs"); do
  echo "== run $i of $runs"
  cargo bench -q -p raftwire-bench --bench codec >/dev/null 2>&1
  mkdir -p target/criterion-runs
  cp -r target/criterion "target/criterion-runs/$i"
done
python3 bench/report.py "$out" --runs
