#!/usr/bin/env bash
# Write amplification: the bytes Nemcache writes to disk per acknowledged set, under memaslap's set-heavy load with
# the cache at `-m 64` (so that most sets evict), beside the disk's sequential write bandwidth measured in the same
# run, which bounds the persisted sets per second.
#
#   bench/write_amplification.sh
#
# Settings (environment):
#   MODES        Nemcache persistence modes (bench_mode_environment in lib.sh)                  (default: stream bitcask)
#   VALUE_SIZES  value sizes in bytes; keys are 16 bytes                                          (default: 100 4096)
#   MIX          memaslap's get/set mix                                                           (default: 10/90)
#   DURATION     memaslap run time per combination                                                (default: 30s)
#   CONCURRENCY  memaslap connections                                                             (default: 32)
#   MEMORY_MB    NEMCACHE_MEMORY_LIMIT_MB                                                         (default: 64)
#   DD_MIB       size of the sequential write that measures the disk, in MiB (0 skips it)         (default: 1024)
#   SETTLE_S     after the load, wait up to this long for the server to stop writing (a merge or compaction that the
#                load started finishes and is counted)                                         (default: 30)
#
# For each mode and value size, on a fresh data directory:
#   acked_sets           the server's `stats` cmd_set after the load minus before (memaslap waits for every reply)
#   write_bytes          /proc/PID/io write_bytes of the server after the load (and settling) minus before, less
#                        cancelled_write_bytes (dirty pages of files deleted or truncated before writeback, never
#                        written): the bytes the process caused to be written to the storage layer, counted when a
#                        page turns dirty, so a page appended to again after the interval fsync wrote it counts again,
#                        as it is written again on disk
#   bytes_per_set        write_bytes / acked_sets
#   write_amplification  bytes_per_set / (16 + value size), the logical size of a set
#   dir_bytes            the data directory's size at the end (while the server runs), and per kind of file
#   ceiling_sets_per_s   the disk's bandwidth / bytes_per_set: the most sets per second this disk can persist at this
#                        amplification, beside sets_per_s, what the load achieved
# and the deltas of the plugin's own counters that say where the bytes go. What the plugins report: the stream log
# stream_records_written, stream_compactions, stream_fsyncs (and stream_log/live/dead_bytes at the end); Bitcask
# bitcask_merges, bitcask_fsyncs, bitcask_files (and bitcask_live/dead_bytes). What no plugin reports: bytes written
# by kind (records, tombstones, eviction records, merge or compaction rewrites, hint files), Bitcask's records
# written, and tombstone or eviction-record counts (the cache's `evictions` is beside them).
#
# The disk's bandwidth: dd of DD_MIB MiB with oflag=direct (conv=fdatasync where direct I/O is refused) into the
# filesystem of the data directories (TMPDIR). Writes bench/results/write-amplification.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

MODES=${MODES:-stream bitcask}
VALUE_SIZES=${VALUE_SIZES:-100 4096}
MIX=${MIX:-10/90}
DURATION=${DURATION:-30s}
CONCURRENCY=${CONCURRENCY:-32}
MEMORY_MB=${MEMORY_MB:-64}
DD_MIB=${DD_MIB:-1024}
SETTLE_S=${SETTLE_S:-30}

# io_bytes PID FIELD: one field of /proc/PID/io (write_bytes, cancelled_write_bytes).
io_bytes() { awk -v field="$2:" '$1 == field { print $2 }' "/proc/$1/io"; }

# stats_snapshot PORT FILE: every `stats` line of the server on PORT, as "name value".
stats_snapshot() {
    exec 3<>"/dev/tcp/127.0.0.1/$1"
    printf 'stats\r\nquit\r\n' >&3
    timeout 5 cat <&3 | tr -d '\r' | awk '$1 == "STAT" { print $2, $3 }' > "$2"
    exec 3<&-
}

# stat_of FILE NAME: NAME's value in a snapshot, or NA when the server does not report it.
stat_of() { awk -v name="$2" '$1 == name { print $2; found = 1 } END { if (!found) print "NA" }' "$1"; }

# stat_delta BEFORE AFTER NAME
stat_delta() {
    local before after
    before=$(stat_of "$1" "$3")
    after=$(stat_of "$2" "$3")
    if [ "$before" = NA ] || [ "$after" = NA ]; then echo NA; else echo $((after - before)); fi
}

# disk_bytes_per_s FILE MIB: sequential write bandwidth of FILE's filesystem, bypassing or flushing the page cache.
disk_bytes_per_s() {
    local out
    out=$(dd if=/dev/zero of="$1" bs=1M count="$2" oflag=direct 2>&1) \
        || out=$(dd if=/dev/zero of="$1" bs=1M count="$2" conv=fdatasync 2>&1)
    rm -f "$1"
    # "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 2.5 s, 430 MB/s": bytes over seconds.
    echo "$out" | awk -F', ' '/copied/ { split($0, b, " "); sub(/ s$/, "", $3); printf "%.0f\n", b[1] / $3 }'
}

# by_kind DIR: the directory's bytes per kind of file, its name with each number as N ("bitcask.N.hint=123;...").
by_kind() {
    find "$1" -type f -printf '%s %f\n' | awk '
        { kind = $2; gsub(/[0-9]+/, "N", kind); bytes[kind] += $1 }
        END { for (k in bytes) printf "%s%s=%d", (n++ ? ";" : ""), k, bytes[k]; print "" }'
}

bench_require_tools
bench_build
work=$(mktemp -d)
trap 'bench_stop ${NEMCACHE_PID:-}; rm -rf "$work"' EXIT
mkdir -p bench/results
csv=bench/results/write-amplification.csv

disk=NA
if [ "$DD_MIB" -gt 0 ]; then
    disk=$(disk_bytes_per_s "$work/dd.test" "$DD_MIB")
    echo "disk: sequential write $(awk -v b="$disk" 'BEGIN { printf "%.1f", b / 1048576 }') MiB/s ($DD_MIB MiB, $(df --output=source "$work" | tail -1))"
fi

plugin_counters="evictions stream_records_written stream_compactions stream_fsyncs bitcask_merges bitcask_fsyncs bitcask_files"
plugin_state="stream_log_bytes stream_live_bytes stream_dead_bytes bitcask_live_bytes bitcask_dead_bytes"
columns="mode,mix,value_bytes,seconds,acked_sets,sets_per_s,write_bytes,cancelled_write_bytes,bytes_per_set,logical_set_bytes,write_amplification,dir_bytes,dir_by_kind,disk_bytes_per_s,ceiling_sets_per_s"
echo "$columns,${plugin_counters// /,},${plugin_state// /,}" > "$csv"
printf '%-15s %-6s %6s %11s %10s %14s %13s %10s %12s %18s\n' \
    mode mix value acked_sets sets_per_s write_bytes bytes_per_set amplif dir_bytes ceiling_sets_per_s

for mode in $MODES; do
    for size in $VALUE_SIZES; do
        config="$work/memaslap-$size.cfg"
        bench_memaslap_config "$config" "$MIX" "$size"
        port=$(bench_free_port)
        dir="$work/data-$mode-$size"
        # shellcheck disable=SC2046
        bench_start_nemcache "$port" "$dir" $(bench_mode_environment "$mode") NEMCACHE_MEMORY_LIMIT_MB="$MEMORY_MB"

        stats_snapshot "$port" "$work/before"
        written_before=$(io_bytes "$NEMCACHE_PID" write_bytes)
        cancelled_before=$(io_bytes "$NEMCACHE_PID" cancelled_write_bytes)
        # memaslap's own run time, "Run time: 30.0s ...", without its start.
        seconds=$(bench_memaslap_run "$port" "$config" "$DURATION" "$CONCURRENCY" | awk '{ sub(/s$/, "", $3); print $3 }')
        stats_snapshot "$port" "$work/after"

        # Settled: write_bytes unchanged over two successive seconds.
        written=$(io_bytes "$NEMCACHE_PID" write_bytes)
        for _ in $(seq 1 "$SETTLE_S"); do
            sleep 1
            now=$(io_bytes "$NEMCACHE_PID" write_bytes)
            [ "$now" = "$written" ] && break
            written=$now
        done
        stats_snapshot "$port" "$work/settled"
        cancelled=$(( $(io_bytes "$NEMCACHE_PID" cancelled_write_bytes) - cancelled_before ))
        write_bytes=$((written - written_before - cancelled))
        dir_bytes=$(du -sb "$dir" | cut -f1)
        kinds=$(by_kind "$dir")
        bench_stop "$NEMCACHE_PID"
        NEMCACHE_PID=

        sets=$(stat_delta "$work/before" "$work/after" cmd_set)
        logical=$((BENCH_MEMASLAP_KEY_BYTES + size))
        read -r sets_per_s per_set amplification ceiling < <(awk -v s="$sets" -v t="$seconds" -v w="$write_bytes" \
            -v l="$logical" -v d="$disk" 'BEGIN {
                per = s > 0 ? w / s : 0
                printf "%.0f %.1f %.2f %s\n", s / t, per, per / l, (d == "NA" || per == 0) ? "NA" : sprintf("%.0f", d / per) }')
        counters=()
        for name in $plugin_counters; do counters+=("$(stat_delta "$work/before" "$work/settled" "$name")"); done
        for name in $plugin_state; do counters+=("$(stat_of "$work/settled" "$name")"); done
        echo "$mode,$MIX,$size,$seconds,$sets,$sets_per_s,$write_bytes,$cancelled,$per_set,$logical,$amplification,$dir_bytes,$kinds,$disk,$ceiling,$(IFS=,; echo "${counters[*]}")" >> "$csv"
        printf '%-15s %-6s %6s %11s %10s %14s %13s %10s %12s %18s\n' \
            "$mode" "$MIX" "$size" "$sets" "$sets_per_s" "$write_bytes" "$per_set" "$amplification" "$dir_bytes" "$ceiling"
        line=""
        index=0
        for name in $plugin_counters $plugin_state; do
            [ "${counters[$index]}" = NA ] || line+=" $name=${counters[$index]}"
            index=$((index + 1))
        done
        echo "    files: $kinds; cancelled_write_bytes=$cancelled;$line"
    done
done
echo "(written to $csv)"
