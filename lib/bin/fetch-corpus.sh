#!/usr/bin/env bash
# Fetches the default corpus pinned in data/corpus.lock into data/cache/ (idempotent):
# the Debian .debs by version, verified by sha256, the text dumped by the package's own reader,
# verified by sha256, then renamed into place so a failure never leaves a partial file.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCK="$ROOT/data/corpus.lock"
CACHE="$ROOT/data/cache"
die() { echo "fetch-corpus: $*" >&2; exit 1; }
say() { echo "fetch-corpus: $*" >&2; }
get() { sed -n "s/^$1=//p" "$LOCK"; }

[[ -f "$LOCK" ]] || die "missing $LOCK"
file="$(get file)"; want="$(get text_sha256)"
dest="$CACHE/$file"
if [[ -f "$dest" ]] && [[ "$(sha256sum "$dest" | cut -d' ' -f1)" == "$want" ]]; then
  say "corpus present: $dest"; exit 0
fi
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null \
  || die "the default corpus comes from Debian's package archive (apt-get, dpkg-deb), which this machine lacks.
  Train on any text file instead: bin/hyperlab train data=/path/to/text.txt"

tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"   # apt's sandbox user must be able to write the download
sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
tp="$(get text_package)"; tl="$(get tool_package)"; tv="$(get text_version)"; lv="$(get tool_version)"
download() { (cd "$tmp" && apt-get download -q "$@" >/dev/null 2>&1); }
# The pinned versions first; another release's (e.g. Ubuntu's) is accepted only if its text
# hashes the same, which the check on the dumped text below decides.
say "downloading $tp=$tv and $tl=$lv"
if ! download "$tp=$tv" "$tl=$lv"; then
  $sudo apt-get update -qq >/dev/null 2>&1 || say "apt-get update failed"
  download "$tp=$tv" "$tl=$lv" || { say "version $tv not offered here; trying this system's $tp"; download "$tp" "$tl"; } \
    || die "apt-get download $tp $tl failed: check the network and your apt sources (Debian bookworm has version $tv)"
fi
deb="$(ls "$tmp"/"$tp"_*.deb)"
if [[ "$(basename "$deb")" == "${tp}_${tv}_all.deb" ]]; then
  got="$(sha256sum "$deb" | cut -d' ' -f1)"
  [[ "$got" == "$(get text_deb_sha256)" ]] || die "$(basename "$deb") has sha256 $got, expected $(get text_deb_sha256)"
fi
for d in "$tmp"/*.deb; do dpkg-deb -x "$d" "$tmp/x"; done
env -i "$tmp/x/usr/bin/bible" -l1000 -p "$tmp/x/usr/lib" "Gen1:1-Rev22:21" > "$tmp/$file" 2>"$tmp/err" \
  || die "the bible reader failed: $(head -c 300 "$tmp/err")"
got="$(sha256sum "$tmp/$file" | cut -d' ' -f1)"
[[ "$got" == "$want" ]] || die "the dumped text has sha256 $got, expected $want (corpus.lock)"
mkdir -p "$CACHE"
mv "$tmp/$file" "$dest.part" && mv "$dest.part" "$dest"
say "corpus ready: $dest ($(wc -c < "$dest") bytes, sha256 $want)"
