#!/usr/bin/env bash
# Detection benchmark: Flagger's threshold analysis against the sequential judge (analysis.judge) on the same
# simulated traffic, through the real scheduler, over thousands of seeded trials per scenario. Prints the comparison
# table and the goals, and writes them into bench/README.md (between the detection-bench markers).
#
#   bench/detection/run.sh                   # 2,000 trials per scenario and analysis (about a minute on 2 cores)
#   TRIALS=1000 SEED=7 bench/detection/run.sh
#   NO_README=1 bench/detection/run.sh       # print only
#   bench/detection/run.sh --only "@ 10 rps" --error-margin 0.2    # extra arguments go to the program
#
# Deterministic: the same seed gives the same figures on any machine. Needs only the .NET SDK.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
trials="${TRIALS:-2000}"
seed="${SEED:-20261122}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

dotnet build "$root/bench/detection/DetectionBench.csproj" -c Release -nologo -v quiet >/dev/null
args=(--trials "$trials" --seed "$seed")
if [[ -z "${NO_README:-}" ]]; then args+=(--readme "$root/bench/README.md"); fi
dotnet "$root/bench/detection/bin/Release/net10.0/DetectionBench.dll" "${args[@]}" "$@"
