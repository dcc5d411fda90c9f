#!/usr/bin/env bash
# Runs every test. On a fresh Debian machine with the .NET SDK it first installs what the tests need that the SDK does
# not bring: libmemcached-tools (memccapable, the protocol conformance tool, and memcdump), memcached (the reference
# the side-by-side golden tests compare with, and that nemcache-data's dumps are loaded into) and PHP's command line
# with php-memcached (getAllKeys() over the key listings), and systemd (systemd-analyze, which checks
# packaging/nemcache.service).
#
#   ./test.sh [extra dotnet test arguments, e.g. --filter Name~Bitcask]
set -euo pipefail
cd "$(dirname "$0")"

packages=()
command -v memccapable >/dev/null && command -v memcdump >/dev/null || packages+=(libmemcached-tools)
command -v memcached >/dev/null || packages+=(memcached)
php -r 'exit(class_exists("Memcached") ? 0 : 1);' 2>/dev/null || packages+=(php-cli php-memcached)
command -v systemd-analyze >/dev/null || packages+=(systemd)
if [ ${#packages[@]} -gt 0 ]; then
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
dotnet test Nemcache.sln -c Release "$@" 2>&1 | tee "$log" || status=$?

# One plain closing line, whatever the test runner printed above it.
summary=$(grep -E '^(Passed|Failed)!' "$log" | tail -1 || true)
failed=$(sed -nE 's/.*Failed: +([0-9]+).*/\1/p' <<< "$summary")
passed=$(sed -nE 's/.*Passed: +([0-9]+).*/\1/p' <<< "$summary")
skipped=$(sed -nE 's/.*Skipped: +([0-9]+).*/\1/p' <<< "$summary")
echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
if [ "$status" -eq 0 ] && [ -z "$summary" ]; then
    echo "test.sh: the test run printed no summary" >&2
    status=1
fi
exit "$status"
