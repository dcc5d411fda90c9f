#!/usr/bin/env bash
# Publishes Nemcache self-contained for linux-x64: the output folder runs on any x64 Linux with glibc, without .NET
# installed. The systemd unit is copied beside it.
#
#   packaging/publish.sh [output folder]      (default: artifacts/nemcache-linux-x64)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/nemcache-linux-x64}

dotnet publish Nemcache.Service/Nemcache.Service.csproj -c Release -r linux-x64 --self-contained -o "$out"
cp packaging/nemcache.service "$out/"
"$out/Nemcache.Service" --version
echo "published to $out"
