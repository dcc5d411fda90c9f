#!/usr/bin/env python3
"""Disk bound: the data directory's size must follow the live data, not the write rate.

Writers set large values as fast as the server takes them, over a key set larger than the cache (-m), for a few
seconds; a sampler reads the data directory's size every few milliseconds. For the stream log the peak must stay
within the bound docs/persistence.md states ("Disk use"): with T = max(NEMCACHE_STREAM_COMPACT_BYTES, 2 x live) and
live at most the memory limit, the directory holds at most 4T + live, plus two batches per connection. For Bitcask
the bound of docs/bitcask-format.md ("Disk use"): with live L at most the memory limit, F the file size, f the merge
fragmentation, T = max(merge min dead bytes, f / (1 - f) x L) and d = min(1 MiB, F), the data files hold at most
2 (L + 2T + d) + F, plus 1 MiB for hints and the small files.

    tests/disk_bound.py [--modes stream,bitcask] [--seconds 5] [--writers 4] [--value-kb 1024] [--memory-mb 64]

Prints one line per mode; exits 1 if a directory passed its bound.
"""

import os
import sys
import threading
import time

import nemlib

COMPACT_BYTES = 64 << 20  # the default of NEMCACHE_STREAM_COMPACT_BYTES


def directory_bytes(path):
    total = 0
    for name in os.listdir(path):
        try:
            total += os.path.getsize(os.path.join(path, name))
        except OSError:
            pass  # renamed or deleted between the listing and the stat
    return total


def run(mode, args):
    data_dir = nemlib.new_data_dir(f"disk-bound-{mode}")
    memory = args.memory_mb << 20
    value_size = args.value_kb << 10
    env = {"NEMCACHE_STREAM_COMPACT_BYTES": str(COMPACT_BYTES)} if mode == "stream" else None
    server = nemlib.Server(data_dir, mode, env=env,
                           args=("-m", str(args.memory_mb), "-I", str(max(value_size * 2, 1 << 20))))
    stop = time.time() + args.seconds
    peak = [0]
    written = [0] * args.writers
    failures = []

    def sample():
        while time.time() < stop:
            peak[0] = max(peak[0], directory_bytes(data_dir))
            time.sleep(0.005)

    def churn(writer):
        try:
            client = server.connect(timeout=60)
            value = os.urandom(value_size)
            keys = 2 * memory // value_size + 1  # together the writers' keys are several times the cache
            i = 0
            while time.time() < stop:
                reply = client.store(b"set", b"w%d-%d" % (writer, i % keys), 0, value)
                if reply != b"STORED":
                    failures.append(reply)
                    return
                written[writer] += value_size
                i += 1
            client.close()
        except OSError as error:
            failures.append(repr(error))

    threads = [threading.Thread(target=churn, args=(w,)) for w in range(args.writers)]
    threads.append(threading.Thread(target=sample))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    code = server.terminate()

    problems = [f"a writer failed: {f!r}" for f in failures[:3]]
    if code != 0:
        problems.append(f"exited with {code}")
    if mode == "stream":
        compact_at = max(COMPACT_BYTES, 2 * memory)
        limit = 4 * compact_at + memory + 2 * args.writers * (value_size + 1024)
    else:
        settings = nemlib.MODES[mode]
        files = int(settings["NEMCACHE_BITCASK_MAX_FILE_BYTES"])
        fragmentation = float(settings["NEMCACHE_BITCASK_MERGE_FRAGMENTATION"])
        trigger = max(int(settings["NEMCACHE_BITCASK_MERGE_MIN_DEAD_BYTES"]), fragmentation / (1 - fragmentation) * memory)
        limit = int(2 * (memory + 2 * trigger + min(1 << 20, files)) + files) + (1 << 20)
    if peak[0] > limit:
        problems.append(f"the directory reached {peak[0]} bytes, past its bound of {limit}")
    bound = f" bound={limit >> 20} MiB"
    print(f"disk-bound {mode}: {'FAIL' if problems else 'ok'} written={sum(written) >> 20} MiB in {args.seconds} s "
          f"peak={peak[0] >> 20} MiB{bound} memory={args.memory_mb} MiB values={args.value_kb} KiB "
          f"writers={args.writers}", flush=True)
    nemlib.report(problems, data_dir)
    return not problems


def main():
    parser = nemlib.arguments(__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--value-kb", type=int, default=1024)
    parser.add_argument("--memory-mb", type=int, default=64)
    args = parser.parse_args()
    ok = True
    for mode in nemlib.available_modes(args, "disk-bound"):
        ok &= run(mode, args)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
