#!/usr/bin/env bash
# Memory: the resident set size of memcached and of Nemcache, each holding the same N items of 100 B
# (filled by bench/fill.py), measured in the same run.
#
#   bench/memory.sh
#
# Settings (environment): MODES (default: "stream"), COUNT (default: 1000000), VALUE_SIZE (default: 100).
# Writes bench/results/memory.csv, and a breakdown of each server's RSS to bench/results/memory-breakdown.csv: anonymous
# memory against mapped files (/proc/PID/status RssAnon, RssFile: for Nemcache the runtime's and framework's code), and
# for Nemcache the GC heap by generation and the memory the GC has committed, after the last collection
# (`dotnet-counters`, installed as a global dotnet tool when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

MODES=${MODES:-stream}
COUNT=${COUNT:-1000000}
VALUE_SIZE=${VALUE_SIZE:-100}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
status_mib() { awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
DOTNET_COUNTERS_VERSION=10.0.750501
PATH=$PATH:$HOME/.dotnet/tools
command -v dotnet-counters >/dev/null \
    || dotnet tool install -g dotnet-counters --version "$DOTNET_COUNTERS_VERSION" >/dev/null

# breakdown SERVER PID [dotnet]: one line of memory-breakdown.csv; with "dotnet", the GC's figures too.
breakdown() {
    local gc="" gen
    if [ "${3:-}" = dotnet ]; then
        timeout 15 dotnet-counters collect -p "$2" --counters System.Runtime --refresh-interval 1 --format csv \
            -o "$work/counters.csv" --duration 00:00:04 >/dev/null 2>&1 || true
        for gen in gen0 gen1 gen2 loh poh; do
            gc+=,$(awk -F, -v g="gc.heap.generation=$gen]" 'index($3, "last_collection.heap.size") && index($3, g) { v = $5 } END { printf "%.1f", v / 1048576 }' "$work/counters.csv")
        done
        gc+=,$(awk -F, 'index($3, "last_collection.memory.committed_size") { v = $5 } END { printf "%.1f", v / 1048576 }' "$work/counters.csv")
    else
        gc=",,,,,,"
    fi
    echo "$1,$(status_mib "$2" VmRSS),$(status_mib "$2" RssAnon),$(status_mib "$2" RssFile)$gc" >> "$breakdown_csv"
}

bench_require_tools
bench_build
mkdir -p bench/results
work=$(mktemp -d)
trap 'bench_stop ${MEMCACHED_PID:-} ${NEMCACHE_PID:-}; rm -rf "$work"' EXIT
csv=bench/results/memory.csv
echo "server,items,rss_mib,ratio_to_memcached" > "$csv"
breakdown_csv=bench/results/memory-breakdown.csv
echo "server,rss_mib,anon_mib,file_mib,gc_gen0_mib,gc_gen1_mib,gc_gen2_mib,gc_loh_mib,gc_poh_mib,gc_committed_mib" > "$breakdown_csv"

port=$(bench_free_port)
memcached -p "$port" -U 0 -l 127.0.0.1 -m 2048 $([ "$(id -u)" = 0 ] && echo -u root) &
MEMCACHED_PID=$!
bench_wait_port "$port"
python3 bench/fill.py "$port" "$COUNT" "$VALUE_SIZE"
memcached_items=$(bench_stat "$port" curr_items)
memcached_rss=$(rss_kib "$MEMCACHED_PID")
breakdown memcached "$MEMCACHED_PID"
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
    breakdown "nemcache-$mode" "$NEMCACHE_PID" dotnet
    bench_stop "$NEMCACHE_PID"
    NEMCACHE_PID=
    ratio=$(awk "BEGIN { printf \"%.2f\", $rss / $memcached_rss }")
    printf '%-16s %9s %9.1f %8s\n' "nemcache-$mode" "$items" "$(awk "BEGIN { print $rss / 1024 }")" "$ratio"
    echo "nemcache-$mode,$items,$(awk "BEGIN { printf \"%.1f\", $rss / 1024 }"),$ratio" >> "$csv"
done
echo
column -s, -t "$breakdown_csv"
echo "(written to $csv and $breakdown_csv)"
