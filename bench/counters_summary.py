#!/usr/bin/env python3
"""Summarizes the runtime counters bench/latency.sh records with COUNTERS=1, one block per load run.

    counters_summary.py [RUN ...]     (default: every bench/results/counters-<run>.csv)

For each run (counters-<run>.csv from `dotnet-counters collect`, its load runs in counters-<run>-runs.csv, each with
its second-by-second latencies in a timeline file) and each load run, over the seconds of that load run: GC count per
generation, total GC pause and the largest pause in one second, lock contentions per second (mean and max),
allocation rate, CPU (cores busy, user + system), compactions or merges, and the WORST seconds by max latency beside
the counters of the same seconds, so that a stall can be told GC, lock or compaction. dotnet-counters stamps each
rate with the end of its one-second interval, in local time, at second resolution: a counter line stamped T is
counted for second T - 1, so the alignment is within a second.
"""
import csv
import glob
import os
import sys
import time
from collections import defaultdict

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
WORST_SECONDS = 3

PAUSE = "dotnet.gc.pause.time (s / 1 sec)"
COLLECTIONS = "dotnet.gc.collections ({collection} / 1 sec)[gc.heap.generation=%s]"
CONTENTIONS = "dotnet.monitor.lock_contentions ({contention} / 1 sec)"
ALLOCATED = "dotnet.gc.heap.total_allocated (By / 1 sec)"
CPU = "dotnet.process.cpu.time (s / 1 sec)[cpu.mode=%s]"
COMPACTIONS = "nemcache.persistence.compactions (Count / 1 sec)"


def read_counters(path):
    """{epoch second: {counter name: value}}; the plugin tag of the Nemcache counters is dropped."""
    seconds = defaultdict(dict)
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            try:
                stamp = time.mktime(time.strptime(row["Timestamp"], "%m/%d/%Y %H:%M:%S"))
                value = float(row["Mean/Increment"])
            except (ValueError, KeyError):
                continue
            name = row["Counter Name"]
            if name.startswith("nemcache.persistence.") and "[plugin=" in name:
                name = name[:name.index("[plugin=")]
            second = int(stamp) - (1 if row.get("Counter Type") == "Rate" else 0)
            seconds[second][name] = value
    return seconds


def read_timeline(path):
    with open(path, newline="") as file:
        return [{key: int(value) for key, value in row.items()} for row in csv.DictReader(file)]


def summarize(run):
    counters_file = os.path.join(RESULTS, "counters-%s.csv" % run)
    runs_file = os.path.join(RESULTS, "counters-%s-runs.csv" % run)
    if not os.path.exists(counters_file):
        print("%s: no %s (the collector did not finish?)" % (run, counters_file))
        return
    counters = read_counters(counters_file)
    print("== %s" % run)
    if not os.path.exists(runs_file):
        print("   no load runs listed in %s" % runs_file)
        return
    with open(runs_file, newline="") as file:
        load_runs = list(csv.DictReader(file))
    for load_run in load_runs:
        timeline_path = load_run["timeline"]
        if not os.path.isabs(timeline_path):
            timeline_path = os.path.join(os.path.dirname(RESULTS), "..", timeline_path)
        if not os.path.exists(timeline_path):
            print("-- %s: no timeline %s" % (load_run["label"], load_run["timeline"]))
            continue
        timeline = read_timeline(timeline_path)
        window = [row["epoch_second"] for row in timeline]
        per_second = [counters.get(second, {}) for second in window]
        measured = [c for c in per_second if c]

        def total(name):
            return sum(c.get(name, 0.0) for c in per_second)

        def peak(name):
            return max((c.get(name, 0.0) for c in per_second), default=0.0)

        seconds = max(len(measured), 1)
        print("-- %s (%d s, counters for %d of them)" % (load_run["label"], len(window), len(measured)))
        print("   GC collections: gen0 %d, gen1 %d, gen2 %d" %
              tuple(total(COLLECTIONS % g) for g in ("gen0", "gen1", "gen2")))
        print("   GC pause: total %.1f ms, max in one second %.1f ms" % (total(PAUSE) * 1000, peak(PAUSE) * 1000))
        print("   lock contentions/s: mean %.0f, max %.0f" % (total(CONTENTIONS) / seconds, peak(CONTENTIONS)))
        print("   allocation: %.1f MB/s" % (total(ALLOCATED) / seconds / 1e6))
        print("   CPU: %.2f cores (user %.2f, system %.2f); compactions or merges: %d" % (
            (total(CPU % "user") + total(CPU % "system")) / seconds,
            total(CPU % "user") / seconds, total(CPU % "system") / seconds, total(COMPACTIONS)))
        worst = sorted(zip(timeline, per_second), key=lambda pair: -pair[0]["max_us"])[:WORST_SECONDS]
        for row, c in worst:
            print("   second %3d: max %8.1f ms, p99 %8.1f ms, %6d replies | GC pause %6.1f ms, gen2 %d, "
                  "contentions %5.0f, compactions %d, CPU %.2f" % (
                      row["second"], row["max_us"] / 1000, row["p99_us"] / 1000, row["replies"],
                      c.get(PAUSE, 0.0) * 1000, c.get(COLLECTIONS % "gen2", 0), c.get(CONTENTIONS, 0.0),
                      c.get(COMPACTIONS, 0), c.get(CPU % "user", 0.0) + c.get(CPU % "system", 0.0)))


if __name__ == "__main__":
    runs = sys.argv[1:] or sorted(
        os.path.basename(path)[len("counters-"):-len(".csv")]
        for path in glob.glob(os.path.join(RESULTS, "counters-*.csv")) if not path.endswith("-runs.csv"))
    if not runs:
        sys.exit("counters_summary: no bench/results/counters-*.csv (run bench/latency.sh with COUNTERS=1)")
    for run in runs:
        summarize(run)
