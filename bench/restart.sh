#!/usr/bin/env bash
# Restart time: fill Nemcache with N keys of 100 B, stop it (SIGTERM, or SIGKILL), start it again on the same data
# directory, and time from process start until the first `get` answers and until every key is back.
#
#   bench/restart.sh
#
# Settings (environment):
#   MODES     stream, bitcask, bitcask-nohint (Bitcask with its hint files deleted before the restart)   (default: stream)
#   COUNTS    key counts                                                                               (default: 100000 1000000)
#   STOPS     sigterm, sigkill                                                                         (default: sigterm sigkill)
#   VALUE_SIZE                                                                                         (default: 100)
#
# Nemcache restores the whole cache before it opens its port, so the first answered get already sees every key; the
# script checks that `stats` reports all N items at that moment. Writes bench/results/restart.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

MODES=${MODES:-stream}
COUNTS=${COUNTS:-100000 1000000}
STOPS=${STOPS:-sigterm sigkill}
VALUE_SIZE=${VALUE_SIZE:-100}

mode_environment() {
    case "$1" in
        stream) echo "NEMCACHE_USE_BITCASK=0" ;;
        bitcask|bitcask-nohint) echo "NEMCACHE_USE_BITCASK=1" ;;
        *) echo "restart: unknown mode '$1'" >&2; exit 2 ;;
    esac
}

now_ms() { date +%s%3N; }

bench_build
mkdir -p bench/results
csv=bench/results/restart.csv
echo "mode,keys,stop,first_get_ms,all_keys_ms,items_back,data_bytes" > "$csv"
printf '%-15s %9s %8s %13s %12s %11s %12s\n' mode keys stop first_get_ms all_keys_ms items_back data_bytes
work=$(mktemp -d)
trap 'bench_stop ${NEMCACHE_PID:-}; rm -rf "$work"' EXIT

for mode in $MODES; do
    for count in $COUNTS; do
        for stop in $STOPS; do
            dir="$work/$mode-$count-$stop"
            port=$(bench_free_port)
            # shellcheck disable=SC2046
            bench_start_nemcache "$port" "$dir" NEMCACHE_MEMORY_LIMIT_MB=1024 $(mode_environment "$mode")
            python3 bench/fill.py "$port" "$count" "$VALUE_SIZE"
            if [ "$stop" = sigkill ]; then
                kill -KILL "$NEMCACHE_PID"; wait "$NEMCACHE_PID" 2>/dev/null || true
            else
                bench_stop "$NEMCACHE_PID"
            fi
            [ "$mode" = bitcask-nohint ] && rm -f "$dir"/*.hint
            bytes=$(du -sb "$dir" | cut -f1)
            # Let the kernel write back the fill's dirty pages first: the figure is the restore's, not the writeback's.
            sync

            started=$(now_ms)
            # shellcheck disable=SC2046
            env NEMCACHE_MEMORY_LIMIT_MB=1024 $(mode_environment "$mode") dotnet "$NEMCACHE_DLL" -p "$port" --data-dir "$dir" > "$dir.restart.log" 2>&1 &
            NEMCACHE_PID=$!
            first=$(python3 bench/first_get.py "$port" "$started")
            items=$(bench_stat "$port" curr_items)
            all=$first
            if [ "$items" != "$count" ]; then
                all=NA
            fi
            printf '%-15s %9s %8s %13s %12s %11s %12s\n' "$mode" "$count" "$stop" "$first" "$all" "$items" "$bytes"
            echo "$mode,$count,$stop,$first,$all,$items,$bytes" >> "$csv"
            bench_stop "$NEMCACHE_PID"
            NEMCACHE_PID=
            rm -rf "$dir"
        done
    done
done
echo "(written to $csv)"
