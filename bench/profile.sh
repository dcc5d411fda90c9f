#!/usr/bin/env bash
# A CPU profile of Nemcache under one named load, as plain text a doc can quote. Over one window of the load it
# records, against the one server process:
#
#   perf record      CPU samples of every thread (cpu-clock, 499 Hz, call graphs), kernel and native code included;
#                    JIT-compiled methods are named through the runtime's perf map (DOTNET_PerfMapEnabled=1, with
#                    W^X off so perf can place the code: DOTNET_EnableWriteXorExecute=0; both change the server a
#                    little: say so beside a figure)
#   dotnet-trace     managed stacks of every thread at ~100 Hz, running or waiting (dotnet-sampled-thread-time), and
#                    the GC's events (gc-collect), for PerfView or `dotnet-trace report`
#   dotnet-counters  System.Runtime each second: GC collections, pause time, allocation, lock contentions
#   /proc/PID/stat   the process's user and system CPU time at the window's start and end
#
# then bench/profile_summary.py prints: CPU (cores, user vs system), the share of CPU samples in the kernel, the
# runtime (GC, stubs), the JIT compiler, other native code and managed code, the top functions by exclusive and
# inclusive CPU samples, the top managed methods by thread time, and the GC's counts and pauses.
#
#   bench/profile.sh                                        (stream, memaslap 10/90 at 4096 B for 30 s)
#   MODE=bitcask MIX=10/90 SIZE=4096 bench/profile.sh
#   LOAD=restart ITEMS=1000000 bench/profile.sh             (the window: process start until the first get answers)
#   NEMCACHE_DLL=/path/to/Nemcache.Service.dll bench/profile.sh       (profile a prebuilt server)
#
# Settings (environment):
#   MODE         Nemcache persistence mode (bench_mode_environment in lib.sh)                  (default: stream)
#   LOAD         memaslap: memaslap drives MIX and SIZE over CONNECTIONS for WARMUP seconds unprofiled, then for
#                DURATION seconds profiled; restart: the server is filled with ITEMS keys of SIZE bytes
#                (bench/fill.py), stopped with SIGTERM and started again under the profilers, until the first
#                `get` answers (every key is back by then)                                      (default: memaslap)
#   MIX          get/set mix, "10/90" = 10% gets                                                (default: 10/90)
#   SIZE         value bytes                                               (default: 4096; 100 for LOAD=restart)
#   CONNECTIONS  memaslap connections                                                           (default: 32)
#   DURATION     profiled seconds of memaslap                                                   (default: 30)
#   WARMUP       unprofiled seconds of memaslap first, so the JIT's tiering is done             (default: 5)
#   MEMORY_MB    NEMCACHE_MEMORY_LIMIT_MB for LOAD=memaslap, as throughput.sh                   (default: 64)
#   ITEMS        keys for LOAD=restart                                                          (default: 1000000)
#   TOP          functions per list                                                             (default: 15)
#   NAME         the profile's name             (default: memaslap-MODE-MIX-SIZE or restart-MODE-ITEMS)
#   BENCH_PORTS  port range for the servers (lib.sh)
#
# Writes bench/results/profiles/NAME.txt (the summary, also printed) and bench/results/profiles/NAME/ (the raw
# trace.nettrace, perf.data with the perf map it needs, counters.csv, window.txt; kept out of git). To look again:
#   perf report -i bench/results/profiles/NAME/perf.data   (after copying NAME/perf-*.map to /tmp)
#   dotnet-trace report bench/results/profiles/NAME/trace.nettrace topN -n 30 --inclusive
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

MODE=${MODE:-stream}
LOAD=${LOAD:-memaslap}
MIX=${MIX:-10/90}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
MEMORY_MB=${MEMORY_MB:-64}
ITEMS=${ITEMS:-1000000}
TOP=${TOP:-15}
DOTNET_TOOLS_VERSION=10.0.750501
case "$LOAD" in
    memaslap) SIZE=${SIZE:-4096}; NAME=${NAME:-memaslap-$MODE-${MIX/\//-}-$SIZE} ;;
    restart) SIZE=${SIZE:-100}; NAME=${NAME:-restart-$MODE-$ITEMS} ;;
    *) echo "profile: unknown LOAD '$LOAD' (memaslap, restart)" >&2; exit 2 ;;
esac
mode_environment=$(bench_mode_environment "$MODE")

PATH=$PATH:$HOME/.dotnet/tools
for tool in dotnet-trace dotnet-counters; do
    command -v "$tool" >/dev/null || dotnet tool install -g "$tool" --version "$DOTNET_TOOLS_VERSION" >/dev/null
done
command -v perf >/dev/null || { echo "profile: install perf first (apt-get install -y linux-perf)" >&2; exit 1; }
bench_require_tools
bench_build

raw=bench/results/profiles/$NAME
summary=bench/results/profiles/$NAME.txt
rm -rf "$raw"
mkdir -p "$raw"
work=$(mktemp -d)
trap 'bench_stop ${NEMCACHE_PID:-} ${TRACE_PID:-} ${COUNTERS_PID:-} ${PERF_PID:-}; rm -rf "$work"' EXIT
port=$(bench_free_port)
profiled_environment=(DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0)

# cpu_ticks PID: "utime stime" of the process, in clock ticks.
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }

now_ms() { date +%s%3N; }

# wait_exit PID...: waits for processes that end by themselves (the tools write their files whole then).
wait_exit() {
    for pid in "$@"; do
        for _ in $(seq 1 600); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        bench_stop "$pid"
    done
}

profile_memaslap() {
    local config=$work/memaslap.cfg
    bench_memaslap_config "$config" "$MIX" "$SIZE"
    # shellcheck disable=SC2086
    bench_start_nemcache "$port" "$work/data" $mode_environment NEMCACHE_MEMORY_LIMIT_MB="$MEMORY_MB" "${profiled_environment[@]}"
    PROFILED_PID=$NEMCACHE_PID
    bench_memaslap_run "$port" "$config" "${WARMUP}s" "$CONNECTIONS" > /dev/null
    local span
    span=$(printf '00:00:%02d:%02d' $((DURATION / 60)) $((DURATION % 60)))
    dotnet-trace collect -p "$NEMCACHE_PID" --profile dotnet-sampled-thread-time,gc-collect --duration "$span" \
        -o "$raw/trace.nettrace" < /dev/null > "$raw/trace.log" 2>&1 &
    TRACE_PID=$!
    dotnet-counters collect -p "$NEMCACHE_PID" --counters System.Runtime --refresh-interval 1 --format csv \
        -o "$raw/counters.csv" --duration "$span" < /dev/null > "$raw/counters.log" 2>&1 &
    COUNTERS_PID=$!
    perf record -e cpu-clock -F 499 -g -p "$NEMCACHE_PID" -o "$raw/perf.data" -- sleep "$DURATION" > "$raw/perf.log" 2>&1 &
    PERF_PID=$!
    local started before result after ended
    started=$(now_ms) before=$(cpu_ticks "$NEMCACHE_PID")
    result=$(bench_memaslap_run "$port" "$config" "${DURATION}s" "$CONNECTIONS")
    after=$(cpu_ticks "$NEMCACHE_PID") ended=$(now_ms)
    wait_exit "$PERF_PID" "$TRACE_PID" "$COUNTERS_PID"
    PERF_PID= TRACE_PID= COUNTERS_PID=
    write_window "memaslap $MIX at $SIZE B over $CONNECTIONS connections for $DURATION s (after $WARMUP s unprofiled): $result" \
        "$started" "$ended" "$before" "$after"
}

profile_restart() {
    local dir=$work/data
    # shellcheck disable=SC2086
    bench_start_nemcache "$port" "$dir" $mode_environment NEMCACHE_MEMORY_LIMIT_MB="$(bench_fill_memory_limit_mb "$ITEMS" "$SIZE")"
    python3 bench/fill.py "$port" "$ITEMS" "$SIZE"
    bench_stop "$NEMCACHE_PID"
    NEMCACHE_PID=
    sync
    # The tools listen and the runtime connects to them at its start: the trace's connection holds the runtime
    # suspended until the trace runs, so the restore is recorded whole; the counters' does not hold it.
    local trace_port=$work/trace.socket counters_port=$work/counters.socket
    dotnet-trace collect --diagnostic-port "$trace_port" --profile dotnet-sampled-thread-time,gc-collect \
        -o "$raw/trace.nettrace" < /dev/null > "$raw/trace.log" 2>&1 &
    TRACE_PID=$!
    dotnet-counters collect --diagnostic-port "$counters_port" --counters System.Runtime --refresh-interval 1 \
        --format csv -o "$raw/counters.csv" < /dev/null > "$raw/counters.log" 2>&1 &
    COUNTERS_PID=$!
    for _ in $(seq 1 100); do
        [ -S "$trace_port" ] && [ -S "$counters_port" ] && break
        sleep 0.1
    done
    if ! [ -S "$trace_port" ] || ! [ -S "$counters_port" ]; then
        echo "profile: dotnet-trace or dotnet-counters did not open its diagnostic port (see $raw/*.log)" >&2
        exit 1
    fi
    local started
    started=$(now_ms)
    # shellcheck disable=SC2086
    env $mode_environment NEMCACHE_MEMORY_LIMIT_MB="$(bench_fill_memory_limit_mb "$ITEMS" "$SIZE")" "${profiled_environment[@]}" \
        DOTNET_DiagnosticPorts="$trace_port;$counters_port,nosuspend" \
        dotnet "$NEMCACHE_DLL" -p "$port" --data-dir "$dir" > "$dir.log" 2>&1 &
    NEMCACHE_PID=$! PROFILED_PID=$!
    perf record -e cpu-clock -F 499 -g -p "$NEMCACHE_PID" -o "$raw/perf.data" > "$raw/perf.log" 2>&1 &
    PERF_PID=$!
    local first after ended items
    first=$(python3 bench/first_get.py "$port" "$started" --pid "$NEMCACHE_PID")
    after=$(cpu_ticks "$NEMCACHE_PID") ended=$(now_ms)
    items=$(bench_stat "$port" curr_items)
    # The tools end with the process; perf would record on after the window, so it stops first.
    kill -INT "$PERF_PID"
    wait_exit "$PERF_PID"
    bench_stop "$NEMCACHE_PID"
    NEMCACHE_PID=
    wait_exit "$TRACE_PID" "$COUNTERS_PID"
    PERF_PID= TRACE_PID= COUNTERS_PID=
    write_window "restart of $ITEMS items of $SIZE B ($(du -sh "$dir" | cut -f1) on disk), process start until the first get answered: ${first%% *} ms, $items items back" \
        "$started" "$ended" "0 0" "$after"
}

# server_build: the commit the profiled server was built from, or the path of a prebuilt one (NEMCACHE_DLL).
server_build() {
    if [ "$NEMCACHE_DLL" = "$PWD/Nemcache.Service/bin/Release/net10.0/Nemcache.Service.dll" ]; then
        echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench' || echo ' (with uncommitted changes)')"
    else
        echo "prebuilt $NEMCACHE_DLL"
    fi
}

# write_window DESCRIPTION STARTED_MS ENDED_MS "UTIME STIME" "UTIME STIME": the window's facts for the summary.
write_window() {
    local before=($4) after=($5)
    cat > "$raw/window.txt" <<WINDOW
name=$NAME
pid=$PROFILED_PID
mode=$MODE ($mode_environment)
load=$1
wall_ms=$(($3 - $2))
user_ticks=$((after[0] - before[0]))
system_ticks=$((after[1] - before[1]))
ticks_per_second=$(getconf CLK_TCK)
commit=$(server_build)
server=$NEMCACHE_DLL
date=$(date -u '+%Y-%m-%d %H:%M UTC')
machine=$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end
WINDOW
}

"profile_$LOAD"
python3 bench/profile_summary.py "$raw" "$TOP" | tee "$summary"
rm -f "$raw/trace.nettrace.etlx"
# perf names JIT-compiled code from the runtime's map in /tmp; it goes with the data it names.
mv -f "/tmp/perf-$PROFILED_PID.map" "/tmp/perfinfo-$PROFILED_PID.map" "$raw/" 2>/dev/null || true
echo "(written to $summary; raw data in $raw/)"
