#!/usr/bin/env bash
# Browser check for jupyter-tests.sh: the classic notebook server on 127.0.0.1 and headless Debian
# Chromium (driven by playwright-core) run the smoke notebook; PASS/FAIL lines, screenshot in OUT.
# Usage: kernel/bin/browser-test.sh OUT_DIR  (expects JUPYTER_DATA_DIR with the kernelspec installed)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
kfind_jupyter
OUT="${1:?usage: browser-test.sh OUT_DIR}"
BROWSER_DIR="$KROOT/kernel/src/test/browser"

if [[ ! -x /usr/bin/chromium ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    ksay "installing Debian's chromium for the browser test"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
      || { echo "FAIL browser: apt-get install chromium failed"; exit 1; }
  else
    echo "SKIP browser: /usr/bin/chromium is not installed (apt-get install chromium)"; exit 0
  fi
fi
command -v npm >/dev/null || { echo "SKIP browser: npm is not installed"; exit 0; }
if [[ ! -d "$BROWSER_DIR/node_modules/playwright-core" ]]; then
  (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1) \
    || { echo "FAIL browser: npm ci of playwright-core failed"; exit 1; }
fi

work="$OUT/browser"; rm -rf "$work"; mkdir -p "$work/notebooks"
cp "$KROOT/kernel/src/test/notebooks/kernel-smoke.ipynb" "$work/notebooks/"
port=$(( 20000 + RANDOM % 20000 ))
token="hyperlab-$RANDOM$RANDOM"
"$JUPYTER" notebook --no-browser --ip=127.0.0.1 --port="$port" --port-retries=0 \
  --NotebookApp.token="$token" --notebook-dir="$work/notebooks" $([[ $(id -u) -eq 0 ]] && echo --allow-root) >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null' EXIT
for _ in $(seq 1 60); do
  curl -fs "http://127.0.0.1:$port/api?token=$token" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fs "http://127.0.0.1:$port/api?token=$token" >/dev/null 2>&1 \
  || { echo "FAIL browser: the notebook server did not start (log: $work/server.log)"; exit 1; }
node "$BROWSER_DIR/run-notebook.mjs" "http://127.0.0.1:$port/notebooks/kernel-smoke.ipynb?token=$token" \
  "$OUT/browser.png" "$work/chromium-profile"
