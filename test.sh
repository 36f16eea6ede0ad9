#!/usr/bin/env bash
# Runs every test: builds the solution, then each test project in turn (they start real processes and
# servers on 127.0.0.1, so they do not run side by side on small machines). Installs what the tests need.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Real components the integration tests start on 127.0.0.1 with generated configs.
scripts/ensure-packages.sh prometheus haproxy hey
dotnet build Aviary.slnx -c Release -nologo -v quiet
status=0
for project in tests/*.Tests/*.Tests.csproj; do
  echo "=== $(basename "$project" .csproj)"
  if ! dotnet test "$project" -c Release --no-build -nologo --logger "console;verbosity=minimal" "$@"; then
    status=1
  fi
done
exit $status
