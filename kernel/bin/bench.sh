#!/usr/bin/env bash
# Benchmarks the kernel (start to first result, median latency of `1 + 1` over N runs, default 50)
# and writes data/bench/kernel.json (kernel-c1.json with HYPERLAB_KERNEL_JIT=c1). Needs the jars and Jupyter.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
kfind_jdk; kfind_jupyter; kcheck_jars
runs="${1:-50}"
export JUPYTER_DATA_DIR="$KROOT/target/jupyter-data"
export JUPYTER_PATH="$JUPYTER_DATA_DIR"
kinstall_kernelspec "$JUPYTER_DATA_DIR" >/dev/null
mkdir -p "$KROOT/data/bench"
cd "$KROOT/kernel/src/test/jupyter"
if [[ "${HYPERLAB_KERNEL_JIT:-tiered}" == tiered ]]; then
  "$PY" bench_kernel.py "$KROOT/data/bench/kernel.json" "$runs" "kernel/bin/bench.sh $runs"
else   # the opt-in JIT mode gets its own file, so both stay comparable
  "$PY" bench_kernel.py "$KROOT/data/bench/kernel-$HYPERLAB_KERNEL_JIT.json" "$runs" "HYPERLAB_KERNEL_JIT=$HYPERLAB_KERNEL_JIT kernel/bin/bench.sh $runs"
fi
