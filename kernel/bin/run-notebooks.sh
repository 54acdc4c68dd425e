#!/usr/bin/env bash
# Executes every notebooks/*.ipynb (sorted) headless with the hyperlab kernel into target/notebooks/,
# as an executed .ipynb and as HTML; prints each notebook's wall time. Fails on the first error.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
kfind_jdk; kfind_jupyter; kcheck_jars

SRC="$KROOT/notebooks"
OUT="$KROOT/target/notebooks"
shopt -s nullglob
books=("$SRC"/*.ipynb)
if [[ ${#books[@]} -eq 0 ]]; then
  ksay "no notebooks in $SRC: nothing to run"
  exit 0
fi
mkdir -p "$OUT"
# A private Jupyter data dir with this build's kernelspec, so the run never picks up a stale one.
export JUPYTER_DATA_DIR="$KROOT/target/jupyter-data"
export JUPYTER_PATH="$JUPYTER_DATA_DIR"
kinstall_kernelspec "$JUPYTER_DATA_DIR" >/dev/null

for nb in "${books[@]}"; do
  name="$(basename "$nb" .ipynb)"
  start=$(date +%s%N)
  if ! "$JUPYTER" nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=hyperlab \
        --NotebookClient.shutdown_kernel=immediate --ExecutePreprocessor.timeout=-1 \
        --output-dir "$OUT" "$nb" >"$OUT/$name.log" 2>&1; then
    tail -30 "$OUT/$name.log" >&2
    kdie "notebook $name failed (cell error above; full log $OUT/$name.log)"
  fi
  "$JUPYTER" nbconvert --to html --output-dir "$OUT" "$OUT/$name.ipynb" >>"$OUT/$name.log" 2>&1 \
    || kdie "could not convert $OUT/$name.ipynb to HTML (log $OUT/$name.log)"
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf 'hyperlab kernel: %-40s %5d.%01d s  -> %s/%s.{ipynb,html}\n' "$name" $((ms / 1000)) $((ms % 1000 / 100)) "$OUT" "$name"
done
ksay "executed ${#books[@]} notebooks into $OUT"
echo "notebooks: ${#books[@]} passed, 0 failed"
