#!/usr/bin/env bash
# Reproduces the committed CPU results: data/results/cpu-tiny*.csv (every paradigm, tiny preset, 1000 steps),
# data/results/cpu-deep*.csv (12 layers = 24 blocks, 400 steps at a higher lr: composite gains over depth)
# and data/bench/cpu.json (interleaved throughput rounds). One intra-op thread: the numbers are then
# reproducible bit for bit and a busy shared machine slows every paradigm alike. About 15 minutes on 2 cores.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export OMP_NUM_THREADS=1
cd "$ROOT"
bin/hyperlab compare --out runs/compare --csv data/results/cpu-tiny.csv --gains-csv data/results/cpu-tiny-gains.csv
bin/hyperlab compare --out runs/compare-deep --csv data/results/cpu-deep.csv --gains-csv data/results/cpu-deep-gains.csv \
  layers=12 steps=400 lr=6e-3 warmup=40 eval_every=0 eval_batches=10 log_every=20 max_bad_steps=50
bin/hyperlab compare --out runs/compare --no-train --bench data/bench/cpu.json
