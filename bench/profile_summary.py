#!/usr/bin/env python3
"""Prints the plain-text summary of one profile bench/profile.sh recorded.

    profile_summary.py DIR [TOP]

DIR holds window.txt (the load, the window's wall time and the process's user and system clock ticks over it),
perf.data (CPU samples of every thread, with call graphs), trace.nettrace (managed thread-time samples) and
counters.csv (System.Runtime each second). The summary has, in this order:

  CPU            cores busy over the window, user vs system, from /proc/PID/stat
  where          the CPU samples by shared object: kernel, runtime (libcoreclr: GC, allocation, stubs, type
                 system), JIT compiler, other native code (libc, System.Native), managed code (JIT-compiled or
                 precompiled methods)
  exclusive      the functions the CPU samples were in (perf, self)
  kernel entries the system calls, page faults and interrupts on the stack of the CPU samples (perf, children)
  inclusive      the user-space functions on the stack of the CPU samples (perf, children); unnamed frames (the
                 runtime ships without symbols) and the entry and dispatch frames every thread passes are left out
  thread time    managed methods by dotnet-trace's samples of every thread ~100 times a second, running or not:
                 waits (WaitHandle, Monitor.Wait, LowLevelLifoSemaphore, the socket event loop) are idle threads,
                 Lock.TryEnterSlow is a thread queued on a lock
  GC             collections per generation, pause time and allocation over the seconds dotnet-counters saw
"""
import os
import bisect
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from counters_summary import ALLOCATED, COLLECTIONS, CONTENTIONS, PAUSE, read_counters  # noqa: E402

NAME_WIDTH = 100
DOTNET_TRACE = shutil.which("dotnet-trace") or os.path.expanduser("~/.dotnet/tools/dotnet-trace")
# Frames nearly every sample passes through on its way in: they say nothing about where the time goes.
ENTRY_FRAMES = {
    "[k] do_syscall_64", "[k] entry_SYSCALL_64_after_hwframe", "[k] entry_SYSCALL_64", "[.] start_thread",
    "[.] clone3", "[.] __clone3", "[.] thread_start", "[.] main", "[.] __libc_start_main",
    "[.] __libc_start_call_main", "[.] _start",
}
# Where the kernel is entered: a system call by name, a page fault, an interrupt.
KERNEL_ENTRY = re.compile(r"^\[k\] (?:__x64_sys_(\w+)|(asm_exc_page_fault)|(asm_sysvec_\w+|asm_common_interrupt))$")
UNNAMED = re.compile(r"^\[[.k]\] (0x)?[0-9a-f]+$")
# The thread pool's and async machinery's frames, on the stack of every piece of work the pool runs.
# The host's frames, under which the restore runs before the port opens.
DISPATCH_FRAMES = re.compile(r"ExecutionContext::Run|AsyncTaskMethodBuilder|AsyncStateMachineBox|Task::Execute|"
                             r"ThreadPoolWorkQueue::Dispatch|PortableThreadPool|ThreadPoolWorkQueueThreadLocals|"
                             r"StartCallback|AsyncMethodBuilderCore::Start|^\[\.\] (Program|Host)[:+]|"
                             r"HostingAbstractionsHostExtensions|coreclr_execute_assembly|corehost|hostfxr|"
                             r"exe_start|run_app_for_context")
# A method as the runtime's perf map names it: "instance bool [Assembly] Namespace.Type+Nested::Method(args)[Tier]".
# The same frames as dotnet-trace names them, and its two roots.
THREAD_TIME_DISPATCH = re.compile(r"^(\(Non-Activities\)|Threads|Thread\.StartCallback|PortableThreadPool|"
                                  r"ExecutionContext\.Run|ThreadPoolWorkQueue\.Dispatch|Task\.Execute|"
                                  r"AsyncMethodBuilderCore\.Start|AsyncTaskMethodBuilder|\w+\]\.Start\(|"
                                  r"Service!Program|HostingAbstractionsHostExtensions|Host\.|Host\+)")
MANAGED_NAME = re.compile(r"\[[\w.]+\] (\S+?)::([^(]+)\(")


def read_window(path):
    with open(path) as file:
        return dict(line.rstrip("\n").split("=", 1) for line in file if "=" in line)


def perf_report(data, *options):
    """[(percent columns..., name columns...)] from `perf report` with tabs between fields (names hold '|')."""
    output = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none", "-t", "\t", *options],
                            capture_output=True, text=True, check=True).stdout
    rows, samples = [], "?"
    for line in output.splitlines():
        if line.startswith("# Samples:"):
            samples = line.split(":", 1)[1].split(" of ")[0].strip()
        if line.startswith("#") or "\t" not in line:
            continue
        rows.append([field.strip() for field in line.split("\t")])
    return rows, samples


class PerfMap:
    """The runtime's perf map (start, size, name per JIT-compiled method or stub). perf cannot name code in regions
    the runtime reserved before perf attached and made executable later (at a restart it attaches while the runtime
    starts), so the summary looks those addresses up itself."""

    def __init__(self, path):
        self.starts, self.ends, self.names = [], [], []
        if not os.path.exists(path):
            return
        with open(path, errors="replace") as file:
            entries = []
            for line in file:
                parts = line.rstrip("\n").split(" ", 2)
                if len(parts) == 3:
                    entries.append((int(parts[0], 16), int(parts[1], 16), parts[2]))
        for start, size, name in sorted(entries):
            self.starts.append(start)
            self.ends.append(start + size)
            self.names.append(name)

    def name(self, symbol):
        """The map's name for an unnamed "[.] 0x..." symbol, or None."""
        match = re.match(r"^\[\.\] (0x[0-9a-f]+)$", symbol)
        if not match:
            return None
        address = int(match.group(1), 16)
        index = bisect.bisect_right(self.starts, address) - 1
        if index >= 0 and address < self.ends[index]:
            return "[.] " + self.names[index]
        return None


def resolved(rows, perf_map, name_column, combine):
    """The rows with unnamed managed addresses named from the perf map and every name shortened; rows of one short
    name (one method's JIT bodies at several tiers or addresses, or overloads) combined by combine: exclusive samples
    add up; inclusive ones may hold each other (an overload calling another; frame chains through a tier-0 body
    and its on-stack replacement), so the largest stands for them."""
    merged = {}
    for row in rows:
        name = perf_map.name(row[name_column])
        if name and len(row) > name_column + 1:
            row = row[:name_column + 1] + ["managed"] + row[name_column + 2:]
        key = short(name or row[name_column])
        if key in merged:
            merged[key] = [("%.2f%%" % combine(percent(a), percent(b))) if i < name_column else a
                           for i, (a, b) in enumerate(zip(merged[key], row))]
        else:
            merged[key] = row[:name_column] + [key] + row[name_column + 1:]
    return sorted(merged.values(), key=lambda row: -percent(row[0]))


def percent(text):
    return float(text.rstrip("%"))


def category(dso):
    if dso.startswith("[kernel") or dso.startswith("[k"):
        return "kernel"
    if dso.startswith("libcoreclr") or dso.startswith("libclrgc"):
        return "runtime (libcoreclr: GC, allocation, stubs)"
    if dso.startswith("libclrjit"):
        return "JIT compiler"
    if (dso.endswith(".dll") or dso.startswith("perf-") or dso.startswith("memfd:doublemapper")
            or dso.startswith("[JIT]") or dso in ("[unknown]", "managed")):
        return "managed code"
    return "other native (libc, System.Native, ...)"


def short(name):
    """A managed method as Type::Method, without its signature; other names as they are, cut to NAME_WIDTH."""
    match = MANAGED_NAME.search(name)
    if match:
        type_name = match.group(1)
        while "[" in type_name:
            type_name, generic = re.subn(r"\[[^\[\]]*\]", "", type_name)
            if not generic:
                break
        name = "[.] %s::%s" % (type_name.rsplit(".", 1)[-1], match.group(2))
    return name if len(name) <= NAME_WIDTH else name[:NAME_WIDTH - 3] + "..."


def cpu_section(window):
    wall = int(window["wall_ms"]) / 1000
    tick = int(window["ticks_per_second"])
    user, system = int(window["user_ticks"]) / tick, int(window["system_ticks"]) / tick
    total = user + system
    print("CPU of the server over the window (/proc/PID/stat): %.2f s user + %.2f s system = %.2f cores busy; "
          "system %.0f%% of it" % (user, system, total / wall if wall else 0, 100 * system / total if total else 0))


def perf_sections(data, perf_map, top):
    by_dso, samples = perf_report(data, "--no-children", "--sort", "dso")
    shares = {}
    for row in by_dso:
        shares[category(row[1])] = shares.get(category(row[1]), 0.0) + percent(row[0])
    print()
    print("CPU samples (perf, cpu-clock at 499 Hz, every thread; %s samples) by where the CPU was:" % samples)
    for name, share in sorted(shares.items(), key=lambda pair: -pair[1]):
        print("  %5.1f%%  %s" % (share, name))

    exclusive = resolved(perf_report(data, "--no-children", "--sort", "sym,dso")[0], perf_map, 1,
                         lambda a, b: a + b)
    print()
    print("Top %d functions by exclusive CPU samples (perf):" % top)
    for row in exclusive[:top]:
        dso = "managed" if category(row[2]) == "managed code" else row[2]
        print("  %5.1f%%  %s  (%s)" % (percent(row[0]), row[1], dso))

    inclusive = resolved(perf_report(data, "--children", "--sort", "sym")[0], perf_map, 2, max)
    kernel_entries = [row for row in inclusive if KERNEL_ENTRY.match(row[2])]
    print()
    print("Kernel entries by inclusive CPU samples (perf: each system call, page faults, interrupts):")
    for row in kernel_entries[:top]:
        call, fault, interrupt = KERNEL_ENTRY.match(row[2]).groups()
        print("  %5.1f%%  %s" % (percent(row[0]), call or "page faults" if not interrupt else "interrupt " + interrupt))

    named = [row for row in inclusive
             if row[2].startswith("[.]") and row[2] not in ENTRY_FRAMES and not UNNAMED.match(row[2]) and not DISPATCH_FRAMES.search(row[2])]
    print()
    print("Top %d user-space functions by inclusive CPU samples (perf; unnamed, entry and thread-pool dispatch "
          "frames left out; a method compiled more than once counts at its largest body):" % top)
    print("  incl.    self")
    for row in named[:top]:
        print("  %5.1f%%  %5.1f%%  %s" % (percent(row[0]), percent(row[1]), row[2]))


def thread_time_sections(trace, top):
    for flags, title in (([], "exclusive"), (["--inclusive"], "inclusive")):
        output = subprocess.run([DOTNET_TRACE, "report", trace, "topN", "-n", str(top + 25), *flags],
                                capture_output=True, text=True).stdout.splitlines()
        start = next((i for i, line in enumerate(output) if line.startswith("Top ")), None)
        print()
        print("Top %d managed methods by %s thread time (dotnet-trace; waiting threads count too; roots and "
              "thread-pool dispatch frames left out):" % (top, title))
        if start is None:
            print("  (no report: %s)" % (output[-1] if output else "dotnet-trace printed nothing"))
            continue
        print("    incl.   excl.")
        rows = [re.match(r"^\s*\d+\.\s+(.*?)\s+([\d.]+%)\s+([\d.]+%)\s*$", line) for line in output[start + 1:]]
        rows = [row for row in rows if row and not THREAD_TIME_DISPATCH.match(row.group(1))]
        for row in rows[:top]:
            print("  %7s %7s  %s" % (row.group(2), row.group(3), row.group(1)))


def gc_section(counters):
    print()
    seconds = read_counters(counters) if os.path.exists(counters) else {}
    if not seconds:
        print("GC: no counters (dotnet-counters did not attach or write %s)" % counters)
        return
    values = list(seconds.values())

    def total(name):
        return sum(c.get(name, 0.0) for c in values)

    print("GC over the %d seconds dotnet-counters saw: collections gen0 %d, gen1 %d, gen2 %d; pause %.1f ms in all, "
          "at most %.1f ms in one second; allocation %.1f MB/s; lock contentions %.0f/s" % (
              (len(values),) + tuple(total(COLLECTIONS % g) for g in ("gen0", "gen1", "gen2"))
              + (total(PAUSE) * 1000, max(c.get(PAUSE, 0.0) for c in values) * 1000,
                 total(ALLOCATED) / len(values) / 1e6, total(CONTENTIONS) / len(values))))


def main():
    directory = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    window = read_window(os.path.join(directory, "window.txt"))
    print("Profile %s: Nemcache %s, %s" % (window["name"], window["mode"], window["load"]))
    print("Build %s; %s; %s" % (window["commit"], window["date"], window["machine"]))
    print("Window %.1f s (the load's start to its end). Profiled with the perf map on and W^X off (DOTNET_PerfMapEnabled=1, "
          "DOTNET_EnableWriteXorExecute=0) and three tools attached: proportions, not speeds." % (
              int(window["wall_ms"]) / 1000))
    print()
    cpu_section(window)
    map_name = "perf-%s.map" % window["pid"]
    perf_map = PerfMap(os.path.join(directory, map_name) if os.path.exists(os.path.join(directory, map_name))
                       else os.path.join("/tmp", map_name))
    perf_sections(os.path.join(directory, "perf.data"), perf_map, top)
    thread_time_sections(os.path.join(directory, "trace.nettrace"), top)
    gc_section(os.path.join(directory, "counters.csv"))


main()
