#!/usr/bin/env bash
# Fleet-scale benchmark: N canaries with their Deployments on the test harness's real kube-apiserver and etcd, run by
# this checkout's operator and, in the same run, by the operator as it was before issue 15 (a pinned commit), so the
# figures compare side by side. Prints the table and writes it into bench/README.md (between the scale-bench markers).
#
#   bench/scale/run.sh                                  # N = 100, all progressing (under 10 minutes)
#   SCENARIOS=100,1000,10000/1000 bench/scale/run.sh    # the issue's three scenarios (N/progressing)
#   BASELINE_MAX=1000 …                                 # the baseline is not run above this many canaries
#   NO_README=1 bench/scale/run.sh                      # print only
#
# Builds both operators (the baseline from `git archive` of the pinned commit) and the kube-apiserver when missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
baseline_commit="${BASELINE_COMMIT:-447e7dd}"
work="${SCALE_WORK:-/var/cache/aviary/bench-scale}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
mkdir -p "$work"

echo "building this checkout's operator..." >&2
dotnet build "$root/src/Aviary.Cli/Aviary.Cli.csproj" -c Release -o "$work/current" -nologo -v quiet >/dev/null
if [[ ! -f "$work/baseline-$baseline_commit/out/aviary.dll" ]]; then
  echo "building the baseline operator ($baseline_commit)..." >&2
  rm -rf "$work/baseline-$baseline_commit"
  mkdir -p "$work/baseline-$baseline_commit/src"
  git -C "$root" archive "$baseline_commit" | tar -x -C "$work/baseline-$baseline_commit/src"
  dotnet build "$work/baseline-$baseline_commit/src/src/Aviary.Cli/Aviary.Cli.csproj" -c Release -o "$work/baseline-$baseline_commit/out" -nologo -v quiet >/dev/null
fi
dotnet build "$root/bench/scale/ScaleBench.csproj" -c Release -nologo -v quiet >/dev/null

args=(--scenarios "${SCENARIOS:-100}" --interval "${INTERVAL:-10}"
      --current "$work/current/aviary.dll" --current-args "${CURRENT_ARGS:---kube-api-qps 1000 --kube-api-burst 2000 --workers 64}"
      --baseline "$work/baseline-$baseline_commit/out/aviary.dll" --baseline-commit "$baseline_commit" --baseline-max "${BASELINE_MAX:-1000}")
if [[ -z "${NO_README:-}" ]]; then args+=(--readme "$root/bench/README.md"); fi
dotnet "$root/bench/scale/bin/Release/net10.0/ScaleBench.dll" "${args[@]}" "$@"
