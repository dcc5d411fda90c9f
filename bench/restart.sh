#!/usr/bin/env bash
# Restart time and CPU: fill Nemcache with N keys of 100 B, stop it (SIGTERM, or SIGKILL), then start it REPEAT times
# on copies of that same filled directory and measure, from process start until the first `get` answers, the wall
# time and the process's CPU time (user + system, utime + stime of /proc/PID/stat read when the get answers). Each run
# also starts the server on an empty directory (an idle start: the runtime, the JIT, the plugin opening its files)
# and measures the same two figures, so that
#
#   the restore's own wall time = first_get_ms - idle_ms,   the restore's own CPU = cpu_ms - idle_cpu_ms.
#
# Wall time swings by 2x on a shared machine; CPU time much less. The µs-per-item columns are the restore's own
# figures divided by N, so a run over several COUNTS shows whether the time per item grows with the count.
#
#   bench/restart.sh
#   MODES="stream bitcask" COUNTS="1000000 10000000" STOPS=sigterm bench/restart.sh
#
# Settings (environment):
#   MODES     stream, bitcask, bitcask-nohint (Bitcask with its hint files deleted before the restart)   (default: stream)
#   COUNTS    key counts                                                                               (default: 100000 1000000)
#   STOPS     sigterm, sigkill                                                                         (default: sigterm sigkill)
#   VALUE_SIZE                                                                                         (default: 100)
#   REPEAT    restarts of each filled directory (each from a fresh copy of it); the median is reported (default: 5)
#   FILL_CONNECTIONS  connections bench/fill.py fills over, in parallel                                (default: 4)
#
# The memory limit (NEMCACHE_MEMORY_LIMIT_MB) is computed per count so that every item fits with a quarter to spare:
# N x (key + value + 120 B, the per-item overhead the cache counts, CacheLimits.ItemOverheadBytes), at least 1024 MB;
# 10M x 100 B is 2742 MB. Nemcache restores inside a no-GC region of up to 5 bytes per byte on disk, so 10M keys
# need about 10 GB of free memory; the filled directory and its copy need twice its size on disk (du in data_bytes).
#
# Nemcache restores the whole cache before it opens its port, so the first answered get already sees every key; the
# script checks that `stats` reports all N items at that moment (all_keys_ms is NA otherwise). Writes
# bench/results/restart.csv: one row per run, then a row with run = median holding each column's median.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

MODES=${MODES:-stream}
COUNTS=${COUNTS:-100000 1000000}
STOPS=${STOPS:-sigterm sigkill}
VALUE_SIZE=${VALUE_SIZE:-100}
REPEAT=${REPEAT:-5}
FILL_CONNECTIONS=${FILL_CONNECTIONS:-4}
[ "$REPEAT" -ge 1 ] || { echo "restart: REPEAT must be at least 1" >&2; exit 2; }

mode_environment() {
    case "$1" in
        stream) echo "NEMCACHE_USE_BITCASK=0" ;;
        bitcask|bitcask-nohint) echo "NEMCACHE_USE_BITCASK=1" ;;
        *) echo "restart: unknown mode '$1'" >&2; exit 2 ;;
    esac
}

now_ms() { date +%s%3N; }

# timed_start DIR PORT LIMIT_MB MODE [first_get.py options]: starts Nemcache on DIR and sets WALL_MS and CPU_MS to
# the figures at its first answered get; leaves NEMCACHE_PID running.
timed_start() {
    local dir=$1 port=$2 limit=$3 mode=$4
    shift 4
    local started
    started=$(now_ms)
    # shellcheck disable=SC2046
    env NEMCACHE_MEMORY_LIMIT_MB="$limit" $(mode_environment "$mode") dotnet "$NEMCACHE_DLL" -p "$port" --data-dir "$dir" > "$dir.log" 2>&1 &
    NEMCACHE_PID=$!
    python3 bench/first_get.py "$port" "$started" --pid "$NEMCACHE_PID" "$@" > "$work/first_get"
    read -r WALL_MS CPU_MS < "$work/first_get"
}

per_item_us() { awk -v ms="$1" -v n="$2" 'BEGIN { printf "%.3f", ms * 1000 / n }'; }

bench_build
mkdir -p bench/results
csv=bench/results/restart.csv
columns="mode,keys,stop,run,first_get_ms,all_keys_ms,cpu_ms,idle_ms,idle_cpu_ms,restore_ms,restore_cpu_ms,restore_us_per_item,restore_cpu_us_per_item,items_back,data_bytes"
echo "$columns" > "$csv"
row_format='%-15s %9s %8s %6s %12s %11s %7s %7s %11s %10s %14s %19s %23s %10s %11s\n'
# shellcheck disable=SC2086,SC2059
printf "$row_format" ${columns//,/ }
work=$(mktemp -d)
trap 'bench_stop ${NEMCACHE_PID:-}; rm -rf "$work"' EXIT

for mode in $MODES; do
    for count in $COUNTS; do
        limit=$(bench_fill_memory_limit_mb "$count" "$VALUE_SIZE")
        for stop in $STOPS; do
            filled="$work/$mode-$count-$stop.filled"
            port=$(bench_free_port)
            # shellcheck disable=SC2046
            bench_start_nemcache "$port" "$filled" NEMCACHE_MEMORY_LIMIT_MB="$limit" $(mode_environment "$mode")
            python3 bench/fill.py "$port" "$count" "$VALUE_SIZE" "$FILL_CONNECTIONS"
            filled_items=$(bench_stat "$port" curr_items)
            if [ "$filled_items" != "$count" ]; then
                echo "restart: the fill left $filled_items of $count items (memory limit $limit MB)" >&2
                exit 1
            fi
            if [ "$stop" = sigkill ]; then
                kill -KILL "$NEMCACHE_PID"; wait "$NEMCACHE_PID" 2>/dev/null || true
            else
                bench_stop "$NEMCACHE_PID"
            fi
            NEMCACHE_PID=
            [ "$mode" = bitcask-nohint ] && rm -f "$filled"/*.hint
            bytes=$(du -sb "$filled" | cut -f1)

            rows=()
            for run in $(seq 1 "$REPEAT"); do
                idle="$work/idle"
                rm -rf "$idle"
                # Let the kernel write back earlier runs' dirty pages first: the figures are the start's, not the writeback's.
                sync
                timed_start "$idle" "$port" "$limit" "$mode" --miss-ok
                idle_ms=$WALL_MS idle_cpu=$CPU_MS
                bench_stop "$NEMCACHE_PID"

                dir="$work/$mode-$count-$stop"
                rm -rf "$dir"
                cp -a "$filled" "$dir"
                sync
                timed_start "$dir" "$port" "$limit" "$mode"
                first=$WALL_MS cpu=$CPU_MS
                items=$(bench_stat "$port" curr_items)
                bench_stop "$NEMCACHE_PID"
                NEMCACHE_PID=
                all=$first
                [ "$items" = "$count" ] || all=NA

                restore_ms=$((first - idle_ms))
                restore_cpu=$((cpu - idle_cpu))
                row="$mode,$count,$stop,$run,$first,$all,$cpu,$idle_ms,$idle_cpu,$restore_ms,$restore_cpu,$(per_item_us "$restore_ms" "$count"),$(per_item_us "$restore_cpu" "$count"),$items,$bytes"
                rows+=("$row")
                echo "$row" >> "$csv"
                # shellcheck disable=SC2086,SC2059
                printf "$row_format" ${row//,/ }
            done

            # The median of each measured column (5 to 13) over the runs; all_keys_ms only when every run had every key.
            median=("$mode" "$count" "$stop" median)
            for column in $(seq 5 13); do
                if [ "$column" = 6 ] && printf '%s\n' "${rows[@]}" | cut -d, -f6 | grep -q NA; then
                    median+=(NA)
                else
                    median+=("$(printf '%s\n' "${rows[@]}" | cut -d, -f"$column" | bench_median)")
                fi
            done
            median+=("$items" "$bytes")
            row=$(IFS=,; echo "${median[*]}")
            echo "$row" >> "$csv"
            # shellcheck disable=SC2086,SC2059
            printf "$row_format" ${row//,/ }
            rm -rf "$filled" "$dir" "$idle"
        done
    done
done
echo "(written to $csv)"
