#!/usr/bin/env bash
# Durability cost: acknowledged sets per second under NEMCACHE_SYNC=always and interval, with 1, 8 and 32 concurrent
# clients (memaslap, sets only), next to the disk's own single-stream fsync rate (`dd oflag=dsync` on the same
# filesystem). Under `always` every acknowledged set is fsynced, so more than one set per fsync can only come from group
# commit; the server's own counters give the sets per fsync directly.
#
# The disk's rate swings several-fold within minutes when other work shares it, so it is measured again right before
# each row, and for each client count the modes run back to back: rows that are compared are measured close together.
#
#   bench/durability.sh
#
# Settings (environment): MODES (default: "stream-always stream"), CLIENTS (default: "1 8 32"), DURATION (default: 5s),
# VALUE_SIZE (default: 100). Writes bench/results/durability.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

MODES=${MODES:-stream-always stream}
CLIENTS=${CLIENTS:-1 8 32}
DURATION=${DURATION:-5s}
VALUE_SIZE=${VALUE_SIZE:-100}

bench_require_tools
bench_build
mkdir -p bench/results
work=$(mktemp -d -p "$PWD/bench/results")
trap 'bench_stop ${NEMCACHE_PID:-}; rm -rf "$work"' EXIT

# The disk's single-stream fsync rate: 1000 synchronous 512-byte writes, one after another.
disk_fsync_rate() {
    local seconds
    seconds=$(dd if=/dev/zero of="$work/dsync.bin" bs=512 count=1000 oflag=dsync 2>&1 | awk '/copied/ { print $(NF-3) }')
    awk "BEGIN { printf \"%.0f\", 1000 / $seconds }"
}

config="$work/sets.cfg"
printf 'key\n16 16 1\nvalue\n%s %s 1\ncmd\n0 1\n1 0\n' "$VALUE_SIZE" "$VALUE_SIZE" > "$config"
csv=bench/results/durability.csv
echo "mode,clients,acked_sets_per_s,disk_fsyncs_per_s,ratio_to_fsync_rate,sets_per_fsync" > "$csv"
printf '%-15s %8s %18s %14s %14s %14s\n' mode clients acked_sets_per_s disk_fsyncs/s x_fsync_rate sets_per_fsync
for clients in $CLIENTS; do
    for mode in $MODES; do
        fsync_rate=$(disk_fsync_rate)
        port=$(bench_free_port)
        # shellcheck disable=SC2046
        bench_start_nemcache "$port" "$work/data-$mode-$clients" $(bench_mode_environment "$mode")
        threads=$(( clients < 2 ? 1 : 2 ))
        tps=$(memcaslap -s "127.0.0.1:$port" -T "$threads" -c "$clients" -t "$DURATION" -F "$config" 2>&1 \
            | awk '/^Run time:/ { for (i = 1; i <= NF; i++) if ($i == "TPS:") print $(i + 1) }')
        # The plugin's fsync counter: stream_fsyncs or bitcask_fsyncs.
        fsyncs=$(bench_stat "$port" "${mode%%-*}_fsyncs")
        sets=$(bench_stat "$port" cmd_set)
        bench_stop "$NEMCACHE_PID"
        NEMCACHE_PID=
        ratio=$(awk "BEGIN { printf \"%.1f\", $tps / $fsync_rate }")
        per_fsync=$(awk "BEGIN { printf \"%.1f\", $sets / ($fsyncs > 0 ? $fsyncs : 1) }")
        printf '%-15s %8s %18s %14s %14s %14s\n' "$mode" "$clients" "$tps" "$fsync_rate" "$ratio" "$per_fsync"
        echo "$mode,$clients,$tps,$fsync_rate,$ratio,$per_fsync" >> "$csv"
    done
done
echo "(written to $csv)"
