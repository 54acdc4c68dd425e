#!/usr/bin/env bash
# Starts JupyterLab when installed (conda env), else the classic notebook, on 127.0.0.1 in notebooks/,
# after installing the kernelspec. Extra arguments go to jupyter.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
kinstall_kernelspec
ksay "kernelspec installed in $KERNELSPEC_DIR"
mkdir -p "$KROOT/notebooks"
if "$JUPYTER" lab --version >/dev/null 2>&1; then app=lab; else app=notebook; fi
ksay "starting jupyter $app on 127.0.0.1 in $KROOT/notebooks"
root=(); [[ $(id -u) -eq 0 ]] && root=(--allow-root)   # containers often run as root
exec "$JUPYTER" "$app" --ip=127.0.0.1 --no-browser --notebook-dir="$KROOT/notebooks" "${root[@]}" "$@"
