#!/usr/bin/env bash
# Makes Debian source packages reachable (`apt-get source`): writes deb-src entries derived from the machine's own
# apt sources (the same entries, with Types: deb-src) and refreshes the package lists. Idempotent: does nothing
# when `apt-cache showsrc` already finds the package named by $1 (default: kubernetes).
# No host name is written here: every URI is copied from the existing entries.
set -euo pipefail
package="${1:-kubernetes}"
target=/etc/apt/sources.list.d/aviary-deb-src.sources
legacy_target=/etc/apt/sources.list.d/aviary-deb-src.list

log() { echo "ensure-deb-src: $*" >&2; }

has_source() { apt-cache showsrc "$package" 2>/dev/null | grep -q '^Package:'; }

if has_source; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  log "need root to add deb-src entries"
  exit 1
fi

# deb822 files: every stanza whose Types has `deb`, with Types: deb-src (comments dropped). Our own file is skipped.
tmp="$(mktemp)"
trap 'rm -f "$tmp" "$tmp.list"' EXIT
for file in /etc/apt/sources.list.d/*.sources; do
  [ -f "$file" ] && [ "$file" != "$target" ] || continue
  awk '
    BEGIN { RS = ""; ORS = "\n\n" }
    {
      n = split($0, lines, "\n"); out = ""; binary = 0
      for (i = 1; i <= n; i++) {
        line = lines[i]
        if (line ~ /^[ \t]*#/) continue
        if (line ~ /^Types:/) {
          if (line ~ /[: \t]deb([ \t]|$)/) binary = 1
          line = "Types: deb-src"
        }
        out = out line "\n"
      }
      if (binary && out !~ /(^|\n)Enabled:[ \t]*no/) { sub(/\n$/, "", out); print out }
    }' "$file" >>"$tmp"
done

# One-line format (/etc/apt/sources.list and *.list): `deb ...` lines become `deb-src ...`.
for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$file" ] && [ "$file" != "$legacy_target" ] || continue
  sed -n 's/^[ \t]*deb\([ \t]\)/deb-src\1/p' "$file" >>"$tmp.list"
done

if [ ! -s "$tmp" ] && [ ! -s "$tmp.list" ]; then
  log "no apt source entries to derive deb-src entries from"
  exit 1
fi
if [ -s "$tmp" ]; then install -m 0644 "$tmp" "$target"; fi
if [ -s "$tmp.list" ]; then install -m 0644 "$tmp.list" "$legacy_target"; fi
log "added deb-src entries derived from the existing apt sources; updating package lists"
apt-get update -qq >/dev/null
if ! has_source; then
  log "apt-cache still finds no source package '$package' after adding deb-src entries"
  exit 1
fi
