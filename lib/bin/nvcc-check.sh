#!/usr/bin/env bash
# Compiles every CUDA source under lib/src/main/resources with nvcc, so a broken kernel fails CI without a GPU.
# Usage: lib/bin/nvcc-check.sh   (ARCH=sm_90 by default; NVCC=path/to/nvcc; NVCC_REQUIRED=1 fails without nvcc)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nvcc="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
arch="${ARCH:-sm_90}"
mapfile -t sources < <(find "$here/src/main/resources" -name '*.cu' 2>/dev/null | sort)
if [[ ${#sources[@]} -eq 0 ]]; then
  echo "nvcc-check: no .cu sources under lib/src/main/resources; nothing to compile"
  exit 0
fi
# NVRTC (what the library compiles with) rejects any function without an execution space ("host functions are not
# allowed in JIT mode"); nvcc takes it as host code, so that is checked here by pattern, nvcc or not.
lint=0
while IFS= read -r hit; do
  echo "nvcc-check: FAIL ${hit#$here/}: a function without __device__ (NVRTC rejects it; use __device__ or a constant)" >&2; lint=1
done < <(grep -nHE '^\s*((static|inline|constexpr)\s+)*(void|int|float|double|bool|unsigned|long|char|short|auto|size_t)\s+\**\w+\s*\([^;]*\)\s*(const\s*)?\{' \
           $(find "$here/src/main/resources" -name '*.cu' -o -name '*.cuh' | sort) | grep -vE '__device__|__global__|__host__' || true)
[[ $lint == 0 ]] || exit 1
if [[ ! -x "$nvcc" ]]; then  # CI sets NVCC_REQUIRED=1 so a missing toolkit cannot pass silently
  echo "nvcc-check: nvcc not found, ${#sources[@]} CUDA source(s) NOT checked (install the CUDA toolkit or set NVCC)" >&2
  [[ "${NVCC_REQUIRED:-0}" == 1 ]] && exit 2 || exit 0
fi
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
# sources the library compiles several ways get those configurations too (besides the plain compile), separated by |:
# streams.cu per paradigm, stream count, dynamic or static maps and stream dtype (StreamMaps' -D options)
declare -A variants=(
  [streams.cu]="-DSM_N=4 -DSM_PARADIGM=0 -DSM_DYN=0|-DSM_N=2 -DSM_PARADIGM=3 -DSM_DYN=1|-DSM_N=4 -DSM_PARADIGM=2 -DSM_DYN=1 -DSM_XBF16=1|-DSM_N=3 -DSM_PARADIGM=1 -DSM_DYN=1 -DSM_LOG=1 -DSM_XBF16=1"
  [layernorm.cu]="-DLN_BWD_K=1|-DLN_BWD_K=8"
  [attention.cu]="-DHEAD_DIM=64 -DATTN_FWD_WARP_ROWS=32 -DATTN_FWD_KEYS=64 -DATTN_FWD_MIN_BLOCKS=2 -DATTN_BWD_KEYS=128 -DATTN_BWD_WARP_KEYS=32 -DATTN_BWD_MIN_BLOCKS=2|-DHEAD_DIM=128 -DATTN_FWD_KEYS=32 -DATTN_BWD_KEYS=64"
)
fail=0
for src in "${sources[@]}"; do
  rel="lib/${src#$here/}"
  pre=()   # a source that says "needs a.cuh[, b.cuh and c.cuh]" gets those headers in front, as Kernels.withHeaders does for NVRTC
  for h in $(grep -o -m1 'needs [a-z0-9_]*\.cuh\(\(, \| and \)[a-z0-9_]*\.cuh\)*' "$src" | head -1 | grep -o '[a-z0-9_]*\.cuh'); do
    pre+=(-include "$(dirname "$src")/$h")
  done
  IFS='|' read -r -a configs <<< "|${variants[$(basename "$src")]:-}"   # the plain compile first
  for cfg in "${configs[@]}"; do
    read -r -a defs <<< "$cfg"
    if "$nvcc" -arch="$arch" -std=c++17 -Werror all-warnings "${pre[@]}" "${defs[@]}" -c "$src" -o "$out/$(basename "$src").o"; then
      echo "nvcc-check: ok   $rel ($arch${cfg:+ $cfg})"
    else
      echo "nvcc-check: FAIL $rel ($arch${cfg:+ $cfg})" >&2; fail=1
    fi
  done
done
exit $fail
