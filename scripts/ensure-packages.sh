#!/usr/bin/env bash
# Installs the Debian packages the tests (or a benchmark) need, when their programs are missing.
# Idempotent: does nothing when everything is there. Usage: scripts/ensure-packages.sh prometheus haproxy hey
set -euo pipefail
declare -A program=(
  [prometheus]=prometheus [haproxy]=haproxy [hey]=hey [wrk]=wrk [nginx]=nginx
  [etcd-server]=etcd [golang-go]=go [chromium]=chromium [openssl]=openssl
  [dpkg-dev]=dpkg-source [graphite-carbon]=carbon-cache [graphite-web]=graphite-manage
)
missing=()
for pkg in "$@"; do
  bin="${program[$pkg]:-$pkg}"
  if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ] && [ ! -x "/usr/bin/$bin" ]; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]} (Debian packages)..." >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-packages: need root to install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Package lists may be stale on a fresh machine: refresh once, then install without recommends or
# starting services (the tests start their own instances on loopback with generated configs).
apt-get update -qq >/dev/null
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
