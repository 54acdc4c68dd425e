#!/usr/bin/env bash
# Installs Debian's Jupyter packages when missing, then (unless --deps-only) the "Java (HyperLab)" kernelspec.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PKGS=(jupyter-nbconvert jupyter-notebook jupyter-client python3-jupyter-kernel-test)

install_debian_jupyter() {
  [[ -n "${CONDA_PREFIX:-}" && -x "$CONDA_PREFIX/bin/jupyter" ]] && return 0   # the conda env brings Jupyter
  command -v dpkg >/dev/null || { command -v jupyter >/dev/null && return 0; kdie "no Jupyter and no Debian tools: use environment.yml (conda)"; }
  local missing=() p
  for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  ksay "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq >/dev/null || ksay "apt-get update failed; trying the install anyway"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || kdie "apt-get install ${missing[*]} failed"
}

case "${1:-}" in
  --deps-only) install_debian_jupyter; exit 0 ;;
  "") ;;
  -h|--help) echo "Usage: kernel/bin/setup.sh [--deps-only]"; exit 0 ;;
  *) kdie "unknown option '$1' (usage: kernel/bin/setup.sh [--deps-only])" ;;
esac
install_debian_jupyter
kinstall_kernelspec
ksay "kernelspec 'hyperlab' (Java (HyperLab)) installed in $KERNELSPEC_DIR"
