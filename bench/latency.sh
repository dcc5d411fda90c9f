#!/usr/bin/env bash
# Tail latency of Nemcache against memcached 1.6, side by side in the same run, with an open-loop load generator
# (bench/Nemcache.LoadGenerator): requests leave on a fixed schedule whatever the replies do, and each latency is
# measured from the time its request was due, into an HdrHistogram. So a stall shows in full instead of hiding by
# holding back the requests behind it.
#
#   bench/latency.sh [rates] [connections] [compaction] [restart]     (default: all four)
#
#   rates        for each mix and value size: memcached's peak (closed loop), then both servers open loop at
#                FRACTIONS of that peak, alternating server by server; p50, p99, p99.9 and max
#   connections  closed loop at 1, 32, 256 and 1,000 connections, 90/10 at 100 B: throughput and p99 of both
#   compaction   Nemcache alone for 60 s, 10/90 at half of memcached's peak, with a compaction or merge asked for
#                (SIGUSR1) at 22 s and 42 s: the worst latencies while it runs, and second by second
#                (bench/results/timeline-compaction-MODE.csv)
#   restart      Nemcache filled with RESTART_ITEMS items, restarted, then 90/10 open loop over those keys for the first
#                10 s after the port opens: the latencies while the collector first meets the restored heap, and
#                second by second (bench/results/timeline-restart-MODE.csv)
#
# Settings (environment):
#   MODES        Nemcache persistence modes (bench_mode_environment in lib.sh)      (default: stream bitcask)
#   MIXES        get/set mixes                                                         (default: 90/10 10/90)
#   VALUE_SIZES  value sizes in bytes                                                  (default: 100 4096)
#   FRACTIONS    shares of memcached's peak to drive at, in percent                    (default: 25 50 75)
#   DURATION     seconds per open-loop run, the first WARMUP of them not recorded       (default: 12)
#   WARMUP       seconds                                                               (default: 2)
#   CONCURRENCY  connections for the rate runs                                         (default: 32)
#   KEYS         key space of the rate runs, preloaded                                 (default: 100000)
#   RESTART_ITEMS items for the restart run                                            (default: 1000000)
#   COUNTERS     1: evidence for stalls. Each Nemcache server of a section (run = rates-MODE-MIX-SIZE,
#                connections-MODE, compaction-MODE, restart-MODE; in the restart section the restarted server) has
#                its runtime counters (System.Runtime: GC, pauses, lock contentions, allocation, CPU) and the server's
#                own (Nemcache meter: commands, evictions, compactions, fsyncs) recorded every second by
#                `dotnet-counters collect` into bench/results/counters-<run>.csv, installed as a global dotnet tool
#                when missing; each load run against it also writes its latencies second by second
#                (bench/results/timeline-<run>-<n>.csv) and a line in bench/results/counters-<run>-runs.csv.
#                bench/counters_summary.py then prints, per load run, GC counts and pauses, lock contentions,
#                allocation and CPU, and its worst seconds beside the counters of the same seconds. The collector
#                attaches a second or so after the server starts, and costs the server a little CPU: leave it off
#                for the figures themselves                                                 (default: 0)
#
# Writes bench/results/latency-<section>.csv; bench/charts.sh draws them.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

MODES=${MODES:-stream bitcask}
MIXES=${MIXES:-90/10 10/90}
VALUE_SIZES=${VALUE_SIZES:-100 4096}
FRACTIONS=${FRACTIONS:-25 50 75}
DURATION=${DURATION:-12}
WARMUP=${WARMUP:-2}
CONCURRENCY=${CONCURRENCY:-32}
KEYS=${KEYS:-100000}
RESTART_ITEMS=${RESTART_ITEMS:-1000000}
COUNTERS=${COUNTERS:-0}
SECTIONS=${*:-rates connections compaction restart}
DOTNET_COUNTERS_VERSION=10.0.750501

bench_require_tools
bench_build
dotnet build bench/Nemcache.LoadGenerator -c Release -v quiet -nologo >/dev/null
GENERATOR="$PWD/bench/Nemcache.LoadGenerator/bin/Release/net10.0/Nemcache.LoadGenerator.dll"
HEADER=$(dotnet "$GENERATOR" --csv-header)
work=$(mktemp -d)
trap 'bench_stop ${MEMCACHED_PID:-} ${NEMCACHE_PID:-} ${COUNTERS_PID:-}; rm -rf "$work"' EXIT
mkdir -p bench/results

if [ "$COUNTERS" = 1 ]; then
    PATH=$PATH:$HOME/.dotnet/tools
    command -v dotnet-counters >/dev/null \
        || dotnet tool install -g dotnet-counters --version "$DOTNET_COUNTERS_VERSION" >/dev/null
fi

# counters_start RUN: with COUNTERS=1, records the counters of the Nemcache server NEMCACHE_PID as run RUN until it
# exits (the collector ends by itself then, and writes its file whole; stopped by a signal it would not).
counters_start() {
    COUNTERS_RUN=
    [ "$COUNTERS" = 1 ] || return 0
    COUNTERS_RUN=$1
    echo "label,timeline" > "bench/results/counters-$COUNTERS_RUN-runs.csv"
    dotnet-counters collect -p "$NEMCACHE_PID" --counters System.Runtime,Nemcache --refresh-interval 1 --format csv \
        -o "bench/results/counters-$COUNTERS_RUN.csv" --duration 01:00:00:00 < /dev/null > "$work/counters-$COUNTERS_RUN.log" 2>&1 &
    COUNTERS_PID=$!
}

# counters_stop: after the server stopped, waits for its collector to write its file.
counters_stop() {
    [ -n "${COUNTERS_PID:-}" ] || return 0
    for _ in $(seq 1 300); do
        kill -0 "$COUNTERS_PID" 2>/dev/null || break
        sleep 0.1
    done
    bench_stop "$COUNTERS_PID"
    COUNTERS_PID= COUNTERS_RUN=
}

# load PORT LABEL RATE MIX SIZE [extra generator options]: one generator run; prints its CSV line. A run against the
# Nemcache server whose counters are recorded also writes its timeline (where --timeline says, if given) and a line in
# the run's list.
load() {
    local port=$1 label=$2 rate=$3 mix=$4 size=$5
    shift 5
    if [ -n "${COUNTERS_RUN:-}" ] && [ "$port" = "$NEMCACHE_PORT" ]; then
        local runs="bench/results/counters-$COUNTERS_RUN-runs.csv"
        local timeline= previous=
        for option in "$@"; do
            [ "$previous" = --timeline ] && timeline=$option
            previous=$option
        done
        if [ -z "$timeline" ]; then
            timeline="bench/results/timeline-$COUNTERS_RUN-$(wc -l < "$runs").csv"
            set -- "$@" --timeline "$timeline"
        fi
        echo "$label rate=$rate mix=$mix value=$size connections=$CONCURRENCY,$timeline" >> "$runs"
    fi
    dotnet "$GENERATOR" --port "$port" --label "$label" --rate "$rate" --duration "$DURATION" --warmup "$WARMUP" \
        --connections "$CONCURRENCY" --get-share "$(awk "BEGIN { print ${mix%/*} / 100 }")" --value-size "$size" \
        --keys "$KEYS" "$@"
}

# start_pair MODE [RUN]: memcached and Nemcache in MODE on fresh ports and a fresh data directory; with RUN, the
# Nemcache server's counters are recorded under that name (COUNTERS=1).
start_pair() {
    MEMCACHED_PORT=$(bench_free_port)
    NEMCACHE_PORT=$(bench_free_port)
    bench_start_memcached "$MEMCACHED_PORT"
    # shellcheck disable=SC2046
    bench_start_nemcache "$NEMCACHE_PORT" "$work/data-$1-$RANDOM" $(bench_mode_environment "$1")
    if [ -n "${2:-}" ]; then
        counters_start "$2"
    fi
}

section_rates() {
    local csv=bench/results/latency-rates.csv
    echo "mode,mix,value_bytes,fraction,$HEADER" > "$csv"
    for mode in $MODES; do
        for mix in $MIXES; do
            for size in $VALUE_SIZES; do
                start_pair "$mode" "rates-$mode-${mix/\//-}-$size"
                local peak
                peak=$(load "$MEMCACHED_PORT" memcached 0 "$mix" "$size" | cut -d, -f4)
                load "$NEMCACHE_PORT" nemcache 0 "$mix" "$size" --preload true >/dev/null
                for fraction in $FRACTIONS; do
                    local rate=$((peak * fraction / 100))
                    for server in memcached nemcache; do
                        local port=$MEMCACHED_PORT
                        [ "$server" = nemcache ] && port=$NEMCACHE_PORT
                        local line
                        line=$(load "$port" "$server" "$rate" "$mix" "$size" --preload false)
                        echo "$mode,$mix,$size,$fraction,$line" | tee -a "$csv"
                    done
                done
                bench_stop "$MEMCACHED_PID" "$NEMCACHE_PID"
                MEMCACHED_PID= NEMCACHE_PID=
                counters_stop
            done
        done
    done
}

section_connections() {
    local csv=bench/results/latency-connections.csv
    echo "mode,connections,$HEADER" > "$csv"
    for mode in $MODES; do
        start_pair "$mode" "connections-$mode"
        for connections in 1 32 256 1000; do
            for server in memcached nemcache; do
                local port=$MEMCACHED_PORT
                [ "$server" = nemcache ] && port=$NEMCACHE_PORT
                local line
                line=$(CONCURRENCY=$connections load "$port" "$server" 0 90/10 100)
                echo "$mode,$connections,$line" | tee -a "$csv"
            done
        done
        bench_stop "$MEMCACHED_PID" "$NEMCACHE_PID"
        MEMCACHED_PID= NEMCACHE_PID=
        counters_stop
    done
}

section_compaction() {
    local csv=bench/results/latency-compaction.csv
    echo "mode,$HEADER" > "$csv"
    for mode in $MODES; do
        start_pair "$mode" "compaction-$mode"
        local peak
        peak=$(load "$MEMCACHED_PORT" memcached 0 10/90 4096 | cut -d, -f4)
        bench_stop "$MEMCACHED_PID"
        MEMCACHED_PID=
        ( sleep 22; kill -USR1 "$NEMCACHE_PID"; sleep 20; kill -USR1 "$NEMCACHE_PID" ) &
        local signaller=$!
        local line
        line=$(DURATION=62 load "$NEMCACHE_PORT" "nemcache-$mode" $((peak / 2)) 10/90 4096 --histogram "bench/results/latency-compaction-$mode.hgrm" \
            --timeline "bench/results/timeline-compaction-$mode.csv")
        wait "$signaller"
        echo "$mode,$line" | tee -a "$csv"
        bench_stop "$NEMCACHE_PID"
        NEMCACHE_PID=
        counters_stop
    done
}

section_restart() {
    local csv=bench/results/latency-restart.csv
    echo "mode,$HEADER" > "$csv"
    for mode in $MODES; do
        start_pair "$mode"
        local peak
        peak=$(KEYS=$RESTART_ITEMS load "$MEMCACHED_PORT" memcached 0 90/10 100 | cut -d, -f4)
        bench_stop "$MEMCACHED_PID"
        MEMCACHED_PID=
        local dir=$work/restart-$mode
        bench_stop "$NEMCACHE_PID"
        # shellcheck disable=SC2046
        bench_start_nemcache "$NEMCACHE_PORT" "$dir" $(bench_mode_environment "$mode") NEMCACHE_MEMORY_LIMIT_MB=1024
        KEYS=$RESTART_ITEMS load "$NEMCACHE_PORT" fill 1 90/10 100 --duration 1 --warmup 0.5 >/dev/null
        bench_stop "$NEMCACHE_PID"
        # shellcheck disable=SC2046
        bench_start_nemcache "$NEMCACHE_PORT" "$dir" $(bench_mode_environment "$mode") NEMCACHE_MEMORY_LIMIT_MB=1024
        counters_start "restart-$mode"
        local line
        line=$(DURATION=10 WARMUP=0.001 KEYS=$RESTART_ITEMS load "$NEMCACHE_PORT" "nemcache-$mode" $((peak / 2)) 90/10 100 \
            --preload false --histogram "bench/results/latency-restart-$mode.hgrm" \
            --timeline "bench/results/timeline-restart-$mode.csv")
        echo "$mode,$line" | tee -a "$csv"
        bench_stop "$NEMCACHE_PID"
        NEMCACHE_PID=
        counters_stop
    done
}

for section in $SECTIONS; do
    "section_$section"
done
