#!/usr/bin/env bash
# Makes Debian's kubectl 1.20.2 (package kubernetes-client, with `kubectl apply -k` kustomize) available and prints
# its path as the last line of stdout. Idempotent.
#
# - kubernetes-client installed: /usr/bin/kubectl.
# - /usr/bin/kubectl belongs to another package (e.g. a cloud SDK's kubectl, which would conflict on that file):
#   the Debian package is downloaded with `apt-get download` and unpacked into a cache folder instead
#   (default /var/cache/aviary/kubernetes-client-1.20.2; AVIARY_KUBECTL_DIR overrides), leaving the other alone.
# - otherwise: `apt-get install kubernetes-client`.
set -euo pipefail
version=1.20.2
dir="${AVIARY_KUBECTL_DIR:-/var/cache/aviary/kubernetes-client-$version}"

log() { echo "ensure-kubectl: $*" >&2; }
is_ours() { [ -x "$1" ] && "$1" version --client --short 2>/dev/null | grep -q "v$version"; }

if [ "$(dpkg-query -W -f='${Status}' kubernetes-client 2>/dev/null)" = "install ok installed" ] && is_ours /usr/bin/kubectl; then
  echo /usr/bin/kubectl
  exit 0
fi
if is_ours "$dir/usr/bin/kubectl"; then
  echo "$dir/usr/bin/kubectl"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  log "need root to install kubernetes-client"
  exit 1
fi
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if is_ours "$dir/usr/bin/kubectl"; then
  echo "$dir/usr/bin/kubectl"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive

if [ -e /usr/bin/kubectl ] || [ -L /usr/bin/kubectl ]; then
  log "/usr/bin/kubectl belongs to $(dpkg-query -S /usr/bin/kubectl 2>/dev/null | cut -d: -f1 || echo 'no package'); unpacking Debian's kubernetes-client into $dir"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root kubernetes-client >/dev/null 2>&1) || {
    apt-get update -qq >/dev/null
    (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root kubernetes-client >/dev/null)
  }
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  dpkg-deb -x "$work"/kubernetes-client_*.deb "$dir.tmp"
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  is_ours "$dir/usr/bin/kubectl" || { log "unpacked $dir/usr/bin/kubectl is not v$version"; exit 1; }
  echo "$dir/usr/bin/kubectl"
  exit 0
fi

log "installing kubernetes-client"
apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null 2>&1 || {
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
}
is_ours /usr/bin/kubectl || { log "/usr/bin/kubectl is not v$version after installing kubernetes-client"; exit 1; }
echo /usr/bin/kubectl
