#!/usr/bin/env bash
# Memory: the resident set size of memcached and of Nemcache, each holding the same N items of 100 B
# (filled by bench/fill.py), measured in the same run.
#
#   bench/memory.sh
#
# Settings (environment): MODES (default: "stream"), COUNT (default: 1000000), VALUE_SIZE (default: 100).
# Writes bench/results/memory.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

MODES=${MODES:-stream}
COUNT=${COUNT:-1000000}
VALUE_SIZE=${VALUE_SIZE:-100}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

bench_require_tools
bench_build
mkdir -p bench/results
work=$(mktemp -d)
trap 'bench_stop ${MEMCACHED_PID:-} ${NEMCACHE_PID:-}; rm -rf "$work"' EXIT
csv=bench/results/memory.csv
echo "server,items,rss_mib,ratio_to_memcached" > "$csv"

port=$(bench_free_port)
memcached -p "$port" -U 0 -l 127.0.0.1 -m 2048 $([ "$(id -u)" = 0 ] && echo -u root) &
MEMCACHED_PID=$!
bench_wait_port "$port"
python3 bench/fill.py "$port" "$COUNT" "$VALUE_SIZE"
memcached_items=$(bench_stat "$port" curr_items)
memcached_rss=$(rss_kib "$MEMCACHED_PID")
bench_stop "$MEMCACHED_PID"
MEMCACHED_PID=
printf '%-16s %9s %9s %8s\n' server items rss_mib ratio
printf '%-16s %9s %9.1f %8s\n' memcached "$memcached_items" "$(awk "BEGIN { print $memcached_rss / 1024 }")" 1.00
echo "memcached,$memcached_items,$(awk "BEGIN { printf \"%.1f\", $memcached_rss / 1024 }"),1.00" >> "$csv"

for mode in $MODES; do
    port=$(bench_free_port)
    case "$mode" in
        stream) bitcask=0 ;;
        bitcask) bitcask=1 ;;
        *) echo "memory: unknown mode '$mode'" >&2; exit 2 ;;
    esac
    bench_start_nemcache "$port" "$work/data-$mode" NEMCACHE_USE_BITCASK=$bitcask NEMCACHE_MEMORY_LIMIT_MB=2048
    python3 bench/fill.py "$port" "$COUNT" "$VALUE_SIZE"
    sleep 2
    items=$(bench_stat "$port" curr_items)
    rss=$(rss_kib "$NEMCACHE_PID")
    bench_stop "$NEMCACHE_PID"
    NEMCACHE_PID=
    ratio=$(awk "BEGIN { printf \"%.2f\", $rss / $memcached_rss }")
    printf '%-16s %9s %9.1f %8s\n' "nemcache-$mode" "$items" "$(awk "BEGIN { print $rss / 1024 }")" "$ratio"
    echo "nemcache-$mode,$items,$(awk "BEGIN { printf \"%.1f\", $rss / 1024 }"),$ratio" >> "$csv"
done
echo "(written to $csv)"
