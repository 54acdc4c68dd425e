#!/usr/bin/env bash
# After run-notebooks.sh: opens an executed notebook of the series (default 04-stability) in headless Chromium,
# checks its charts and tables rendered, and saves target/notebooks/NAME.png. Skips where the browser test skips.
# Usage: kernel/bin/render-test.sh [NAME MIN_IMAGES MIN_TABLES]
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
name="${1:-04-stability}" min_images="${2:-2}" min_tables="${3:-4}"
html="$KROOT/target/notebooks/$name.html"
BROWSER_DIR="$KROOT/kernel/src/test/browser"
[[ -f "$html" ]] || kdie "no $html: run kernel/bin/run-notebooks.sh first"
if [[ ! -x /usr/bin/chromium || ! -d "$BROWSER_DIR/node_modules/playwright-core" ]]; then
  echo "SKIP rendered $name: Chromium or playwright-core missing (kernel/bin/browser-test.sh installs them)"; exit 0
fi
profile="$(mktemp -d)"; trap 'rm -rf "$profile"' EXIT
node "$BROWSER_DIR/render-html.mjs" "$html" "$KROOT/target/notebooks/$name.png" "$profile" "$min_images" "$min_tables"
