#!/usr/bin/env bash
# Runs every test. Installs what the tests need (idempotently), builds, then runs each test project.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
dotnet build Aviary.slnx -c Release -nologo -v quiet
dotnet test Aviary.slnx -c Release --no-build -nologo --logger "console;verbosity=normal" "$@"
