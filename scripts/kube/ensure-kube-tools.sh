#!/usr/bin/env bash
# Everything the kube-apiserver test harness (tests/Aviary.TestKit/KubeApiServer.cs) runs: etcd 3.4 and openssl
# (Debian packages), Debian's kubectl 1.20.2 and a kube-apiserver 1.20.2 built from Debian's source package (about
# 5 minutes the first time, cached afterwards). Idempotent. Prints one `name=path` line per program on stdout:
#   kube-apiserver=…  kubectl=…  etcd=…  openssl=…
# Run it before the tests (test.sh does) so that the one-time build is not inside a test's timeout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/../ensure-packages.sh" etcd-server openssl
apiserver="$("$here/build-kube-apiserver.sh" | tail -n 1)"
kubectl="$("$here/ensure-kubectl.sh" | tail -n 1)"
echo "kube-apiserver=$apiserver"
echo "kubectl=$kubectl"
echo "etcd=$(command -v etcd || echo /usr/bin/etcd)"
echo "openssl=$(command -v openssl)"
