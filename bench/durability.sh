#!/usr/bin/env bash
# Durability cost: acknowledged sets per second under NEMCACHE_SYNC=always and interval, with 1, 8 and 32 concurrent
# clients (memaslap, sets only), next to the disk's own single-stream fsync rate measured in the same run with
# `dd oflag=dsync` on the same filesystem. Under `always` every acknowledged set is fsynced, so more than one set per
# fsync can only come from group commit.
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
dd_seconds=$(dd if=/dev/zero of="$work/dsync.bin" bs=512 count=1000 oflag=dsync 2>&1 | awk '/copied/ { print $(NF-3) }')
fsync_rate=$(awk "BEGIN { printf \"%.0f\", 1000 / $dd_seconds }")
echo "disk: $fsync_rate fsyncs/s single-stream (dd oflag=dsync, 1000 x 512 B)"

config="$work/sets.cfg"
printf 'key\n16 16 1\nvalue\n%s %s 1\ncmd\n0 1\n1 0\n' "$VALUE_SIZE" "$VALUE_SIZE" > "$config"
csv=bench/results/durability.csv
echo "mode,clients,acked_sets_per_s,disk_fsyncs_per_s,ratio_to_fsync_rate" > "$csv"
printf '%-15s %8s %18s %14s\n' mode clients acked_sets_per_s x_fsync_rate
for mode in $MODES; do
    for clients in $CLIENTS; do
        port=$(bench_free_port)
        # shellcheck disable=SC2046
        bench_start_nemcache "$port" "$work/data-$mode-$clients" $(bench_mode_environment "$mode")
        threads=$(( clients < 2 ? 1 : 2 ))
        tps=$(memcaslap -s "127.0.0.1:$port" -T "$threads" -c "$clients" -t "$DURATION" -F "$config" 2>&1 \
            | awk '/^Run time:/ { for (i = 1; i <= NF; i++) if ($i == "TPS:") print $(i + 1) }')
        bench_stop "$NEMCACHE_PID"
        NEMCACHE_PID=
        ratio=$(awk "BEGIN { printf \"%.1f\", $tps / $fsync_rate }")
        printf '%-15s %8s %18s %14s\n' "$mode" "$clients" "$tps" "$ratio"
        echo "$mode,$clients,$tps,$fsync_rate,$ratio" >> "$csv"
    done
done
echo "(written to $csv)"
