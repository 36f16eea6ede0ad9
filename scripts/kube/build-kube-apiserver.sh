#!/usr/bin/env bash
# Builds a real kube-apiserver 1.20.2 from Debian bookworm's `kubernetes` source package (the official tarball
# with vendor/) for the integration tests, and caches the binary outside the clone. Idempotent: when the cached
# binary is there it only prints its path.
#
# Usage: scripts/kube/build-kube-apiserver.sh            prints the binary's path as the last line of stdout
# Environment:
#   AVIARY_KUBE_APISERVER   the binary's path (default /var/cache/aviary/kube-apiserver-1.20.2/kube-apiserver)
#   AVIARY_KUBE_BUILD_DIR   where to build (default: a folder beside the binary; deleted afterwards)
#   AVIARY_KUBE_KEEP_BUILD  1 keeps the build tree (to look at a failure)
#
# Steps (as verified in issue 6): a deb-src entry derived from the machine's own *.sources (same entries with
# Types: deb-src, never a host name written by hand), `apt-get source --download-only kubernetes`, Debian's Go,
# vendored modern-go/reflect2 replaced by Debian's (v1.0.1 faults under Go >= 1.18 when a custom resource is
# created), then `make WHAT=cmd/kube-apiserver` with debian/rules' GOPATH layout, CGO off and no network for Go.
# Takes about 5 minutes on 2 cores and about 2 GB of disk while it runs.
set -euo pipefail

version=1.20.2
binary="${AVIARY_KUBE_APISERVER:-/var/cache/aviary/kube-apiserver-$version/kube-apiserver}"
cache_dir="$(dirname "$binary")"

log() { echo "build-kube-apiserver: $*" >&2; }

if [ -x "$binary" ] && "$binary" --version 2>/dev/null | grep -q "v$version"; then
  echo "$binary"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  log "need root (apt-get) to build $binary"
  exit 1
fi

# One build at a time (test processes may start side by side): wait for the lock, then look again.
mkdir -p "$cache_dir"
exec 9>"$cache_dir/.build.lock"
flock 9
if [ -x "$binary" ] && "$binary" --version 2>/dev/null | grep -q "v$version"; then
  echo "$binary"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# 1. deb-src entries: the machine's own deb entries with Types: deb-src (deb822 *.sources and one-line *.list).
"$here/ensure-deb-src.sh"

# 2./3. Toolchain and the source package.
# The package's Build-Depends that matter here (golang-go, jq, rsync), make, and dpkg-source to unpack it.
"$here/../ensure-packages.sh" golang-go etcd-server openssl make rsync jq dpkg-dev
reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
if [ ! -f "$reflect2/reflect2.go" ]; then
  log "installing golang-github-modern-go-reflect2-dev"
  apt-get install -y -qq --no-install-recommends golang-github-modern-go-reflect2-dev >/dev/null
fi
[ -f "$reflect2/reflect2.go" ] || { log "$reflect2 is missing (golang-github-modern-go-reflect2-dev)"; exit 1; }

build="${AVIARY_KUBE_BUILD_DIR:-$cache_dir/build}"
cleanup() {
  if [ "${AVIARY_KUBE_KEEP_BUILD:-0}" != 1 ]; then
    chmod -R u+w "$build" 2>/dev/null || true   # Go's module cache is read-only
    rm -rf "$build"
  fi
}
trap cleanup EXIT
rm -rf "$build"
mkdir -p "$build"
cd "$build"

log "downloading the kubernetes source package into $build"
apt-get source --download-only -qq -o APT::Sandbox::User=root kubernetes >/dev/null
dsc="$(ls kubernetes_*.dsc | head -n 1)"
[ -n "$dsc" ] || { log "apt-get source downloaded no kubernetes_*.dsc"; exit 1; }
dpkg-source --no-check -x "$dsc" src >/dev/null
[ -f src/debian/rules ] || { log "unpacked source has no debian/rules"; exit 1; }

# 4. The vendored reflect2 (v1.0.1) crashes under Go >= 1.18 ("fatal error: fault"); Debian's is fixed.
rm -rf src/vendor/github.com/modern-go/reflect2
mkdir -p src/vendor/github.com/modern-go/reflect2
cp -r "$reflect2/." src/vendor/github.com/modern-go/reflect2/
find src/vendor/github.com/modern-go/reflect2 -name '*_test.go' -delete

# 5. debian/rules' layout: GOPATH=<tree>/.go with .go/src/k8s.io/kubernetes linking back to the tree, HOME set,
# CGO off. hack/lib/golang.sh then builds in GOPATH mode from vendor/ with its GOPATH and GOCACHE under
# _output/ (inside the build tree); nothing may reach the network (GOPROXY=off, GOFLAGS=-mod=vendor for module mode).
mkdir -p src/.go/src/k8s.io home tmp
[ -L src/.go/src/k8s.io/kubernetes ] || ln -s ../../.. src/.go/src/k8s.io/kubernetes
export GOPATH="$build/src/.go" GOCACHE="$build/gocache" GOTMPDIR="$build/tmp" TMPDIR="$build/tmp" HOME="$build/home"
export GOFLAGS=-mod=vendor GOPROXY=off GOSUMDB=off GONOSUMDB='*' GOTOOLCHAIN=local GOWORK=off
export PATH="/usr/lib/go/bin:$PATH" CGO_ENABLED=0
# The tarball is a `git archive` export: hack/lib/version.sh reads v1.20.2 and the commit from its substituted lines.
log "building kube-apiserver (about 5 minutes on 2 cores; log in $build/make.log)"
start=$(date +%s)
if ! (cd "$build/src" && make WHAT=cmd/kube-apiserver) >"$build/make.log" 2>&1; then
  log "make failed; the end of its log:"
  tail -n 60 "$build/make.log" >&2
  exit 1
fi
built="$(find "$build/src/_output" -type f -name kube-apiserver -perm -u+x | head -n 1)"
[ -n "$built" ] || { log "make succeeded but produced no kube-apiserver"; tail -n 30 "$build/make.log" >&2; exit 1; }
install -m 0755 "$built" "$binary.tmp"
mv -f "$binary.tmp" "$binary"
log "built in $(( $(date +%s) - start ))s: $("$binary" --version)"
echo "$binary"
