#!/usr/bin/env bash
# The kernel's Jupyter-level tests, after `mvn install`: (a) jupyter_kernel_test, the Jupyter project's
# kernel test suite, plus our protocol checks; (b) headless nbconvert of the smoke notebook with its
# outputs checked; (c) the classic notebook in headless Chromium, when Chromium and npm are there.
# Last line: "kernel-jupyter: N passed, M failed".
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
kfind_jdk; kfind_jupyter; kcheck_jars

OUT="$KROOT/target/kernel-tests"
rm -rf "$OUT"; mkdir -p "$OUT"
# A private Jupyter data dir: the tests use this build's kernelspec and leave the user's alone.
export JUPYTER_DATA_DIR="$OUT/jupyter-data"
export JUPYTER_PATH="$JUPYTER_DATA_DIR"
kinstall_kernelspec "$JUPYTER_DATA_DIR" >/dev/null
passed=0; failed=0
count() {  # count LOG PATTERN_PASS PATTERN_FAIL: add the numbers a step reported
  local p f
  p=$(sed -n "$2" "$1" | tail -1); f=$(sed -n "$3" "$1" | tail -1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
}

"$PY" -c 'import jupyter_kernel_test' 2>/dev/null \
  || kdie "$PY lacks jupyter_kernel_test: run kernel/bin/setup.sh --deps-only (Debian: python3-jupyter-kernel-test)"

echo "== (a) jupyter_kernel_test against kernel 'hyperlab'"
(cd "$KROOT/kernel/src/test/jupyter" && "$PY" run_kernel_tests.py) 2>&1 | grep -v -e '^WARNING: ' | tee "$OUT/kernel-test.log"
count "$OUT/kernel-test.log" 's/^jupyter_kernel_test: \([0-9]*\) passed.*/\1/p' 's/^jupyter_kernel_test: [0-9]* passed, \([0-9]*\) failed.*/\1/p'
grep -q '^jupyter_kernel_test: ' "$OUT/kernel-test.log" || { echo "FAIL jupyter_kernel_test did not finish"; failed=$((failed + 1)); }

echo "== (b) nbconvert --execute of the smoke notebook"
if "$JUPYTER" nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=hyperlab \
     --NotebookClient.shutdown_kernel=immediate --ExecutePreprocessor.timeout=120 \
     --output-dir "$OUT" "$KROOT/kernel/src/test/notebooks/kernel-smoke.ipynb" >"$OUT/nbconvert.log" 2>&1; then
  "$PY" "$KROOT/kernel/src/test/jupyter/check_smoke.py" "$OUT/kernel-smoke.ipynb" | tee "$OUT/smoke.log"
  passed=$((passed + $(grep -c '^PASS ' "$OUT/smoke.log"))); failed=$((failed + $(grep -c '^FAIL ' "$OUT/smoke.log")))
else
  echo "FAIL nbconvert could not execute the smoke notebook:"; tail -20 "$OUT/nbconvert.log"; failed=$((failed + 1))
fi

echo "== (c) the classic notebook in headless Chromium"
if [[ -x "$KROOT/kernel/bin/browser-test.sh" ]]; then
  "$KROOT/kernel/bin/browser-test.sh" "$OUT" 2>&1 | tee "$OUT/browser.log"
  passed=$((passed + $(grep -c '^PASS ' "$OUT/browser.log"))); failed=$((failed + $(grep -c '^FAIL ' "$OUT/browser.log")))
fi

echo "outputs and logs: $OUT"
echo "kernel-jupyter: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
