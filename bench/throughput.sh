#!/usr/bin/env bash
# Throughput of Nemcache against memcached 1.6, measured side by side in the same run with memaslap (memcaslap),
# alternating between the two servers round by round so that the noise of this shared machine hits both alike.
#
#   bench/throughput.sh
#
# Settings (environment):
#   MODES        Nemcache persistence modes to measure: stream, stream-always, stream-none, bitcask, bitcask-always, bitcask-none  (default: stream)
#   MIXES        get/set mixes: 90/10, 10/90                                                          (default: 90/10)
#   VALUE_SIZES  value sizes in bytes                                                                  (default: 100)
#   ROUNDS       rounds per combination, at least 3                                                    (default: 3)
#   DURATION     memaslap run time per round                                                           (default: 10s)
#   CONCURRENCY  memaslap connections                                                                  (default: 32)
#   MEMORY_MB    the memory limit of both servers (memcached -m, NEMCACHE_MEMORY_LIMIT_MB)               (default: 64)
#
# Prints a table with every round's TPS and the median ratio Nemcache/memcached per combination, and writes it to
# bench/results/throughput.csv (throughput-m<MEMORY_MB>.csv for a limit other than memcached's default 64; charts.sh
# draws throughput.csv only).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

MODES=${MODES:-stream}
MIXES=${MIXES:-90/10}
VALUE_SIZES=${VALUE_SIZES:-100}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-32}
MEMORY_MB=${MEMORY_MB:-64}
[ "$ROUNDS" -ge 3 ] || { echo "throughput: ROUNDS must be at least 3" >&2; exit 2; }

bench_require_tools
bench_build
work=$(mktemp -d)
trap 'bench_stop ${MEMCACHED_PID:-} ${NEMCACHE_PID:-}; rm -rf "$work"' EXIT
mkdir -p bench/results
csv=bench/results/throughput.csv
[ "$MEMORY_MB" = 64 ] || csv=bench/results/throughput-m$MEMORY_MB.csv
echo "mode,mix,value_bytes,round,memcached_tps,nemcache_tps,ratio" > "$csv"

printf '%-15s %-6s %6s %5s %14s %14s %7s\n' mode mix value round memcached_tps nemcache_tps ratio
summary=()
for mode in $MODES; do
    for mix in $MIXES; do
        for size in $VALUE_SIZES; do
            config="$work/memaslap-${mix/\//-}-$size.cfg"
            bench_memaslap_config "$config" "$mix" "$size"
            memcached_port=$(bench_free_port)
            nemcache_port=$(bench_free_port)
            bench_start_memcached "$memcached_port" "$MEMORY_MB"
            # shellcheck disable=SC2046
            bench_start_nemcache "$nemcache_port" "$work/data-$mode-${mix/\//-}-$size" $(bench_mode_environment "$mode") NEMCACHE_MEMORY_LIMIT_MB="$MEMORY_MB"
            ratios=()
            for round in $(seq 1 "$ROUNDS"); do
                m=$(bench_memaslap "$memcached_port" "$config" "$DURATION" "$CONCURRENCY")
                n=$(bench_memaslap "$nemcache_port" "$config" "$DURATION" "$CONCURRENCY")
                ratio=$(awk "BEGIN { printf \"%.3f\", $n / $m }")
                ratios+=("$ratio")
                printf '%-15s %-6s %6s %5s %14s %14s %7s\n' "$mode" "$mix" "$size" "$round" "$m" "$n" "$ratio"
                echo "$mode,$mix,$size,$round,$m,$n,$ratio" >> "$csv"
            done
            bench_stop "$MEMCACHED_PID" "$NEMCACHE_PID"
            MEMCACHED_PID= NEMCACHE_PID=
            median=$(printf '%s\n' "${ratios[@]}" | bench_median)
            summary+=("$(printf '%-15s %-6s %6s  median ratio %s' "$mode" "$mix" "$size" "$median")")
        done
    done
done
echo
printf '%s\n' "${summary[@]}"
echo "(written to $csv)"
