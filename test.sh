#!/usr/bin/env bash
# Runs every test: builds the solution, then the test projects side by side (AVIARY_TEST_JOBS at a time,
# default 3, longest first). Each project's output is kept in a log and printed whole when it ends, so the
# projects' lines never interleave. Tests start real processes and servers on 127.0.0.1 on ports the OS
# picks, share one API server / Prometheus per assembly, and wait on state, never on time, so running
# them side by side is safe. Installs what the tests need. Extra arguments go to every `dotnet test`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Real components the integration tests start on 127.0.0.1 with generated configs.
scripts/ensure-packages.sh prometheus haproxy hey chromium
dotnet build Aviary.slnx -c Release -nologo -v quiet
jobs_max="${AVIARY_TEST_JOBS:-3}"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
# Longest first, so the slowest project starts at once and the short ones fill the gaps.
order=(Kubernetes Local Cli Demo Dashboard Hooks Metrics Routing Core)
projects=()
for name in "${order[@]}"; do
  [ -f "tests/Aviary.$name.Tests/Aviary.$name.Tests.csproj" ] && projects+=("tests/Aviary.$name.Tests/Aviary.$name.Tests.csproj")
done
for project in tests/*.Tests/*.Tests.csproj; do
  [[ " ${projects[*]} " == *" $project "* ]] || projects+=("$project")
done
declare -A pid_of=()
run() {
  local project="$1" name
  name="$(basename "$project" .csproj)"
  ( start=$SECONDS
    if dotnet test "$project" -c Release --no-build -nologo --logger "console;verbosity=minimal" "${@:2}" >"$logs/$name.log" 2>&1; then
      echo "ok $((SECONDS - start))" >"$logs/$name.rc"
    else
      echo "FAILED $((SECONDS - start))" >"$logs/$name.rc"
    fi ) &
  pid_of[$name]=$!
}
report() {
  local name="$1"
  echo "=== $name ($(cat "$logs/$name.rc" | awk '{print $1 ", " $2 " s"}'))"
  cat "$logs/$name.log"
}
pending=("${projects[@]}")
running=()
status=0
while [ ${#pending[@]} -gt 0 ] || [ ${#running[@]} -gt 0 ]; do
  while [ ${#pending[@]} -gt 0 ] && [ ${#running[@]} -lt "$jobs_max" ]; do
    run "${pending[0]}" "$@"
    running+=("$(basename "${pending[0]}" .csproj)")
    pending=("${pending[@]:1}")
  done
  wait -n || true
  still=()
  for name in "${running[@]}"; do
    if [ -f "$logs/$name.rc" ] && ! kill -0 "${pid_of[$name]}" 2>/dev/null; then
      report "$name"
      grep -q '^ok' "$logs/$name.rc" || status=1
    else
      still+=("$name")
    fi
  done
  running=("${still[@]+"${still[@]}"}")
done
echo "=== summary"
for project in "${projects[@]}"; do
  name="$(basename "$project" .csproj)"
  echo "$name: $(cat "$logs/$name.rc")"
done
exit $status
