#!/usr/bin/env python3
"""Crash torture: concurrent writers, SIGKILL at random moments (some timed to land mid-compaction or mid-merge),
restart, and check every key against what the writers were told.

Each writer owns its keys, so the expected state of a key is exact: the state its last acknowledged write left, or,
for the one write in flight at the kill (sent, no reply), either that state or the one the write would make. A key
holding anything else is counted: "lost" when an acknowledged value is missing, "wrong" when the value (or its flags)
is one that no acknowledged or in-flight write made: torn, another key's, stale, or back after its delete.

    tests/crash_torture.py [--modes stream,bitcask] [--syncs always,interval] [--kills 50] [--budget 600]

Prints one summary line per mode and sync; exits 1 if any write was lost or wrong or the server failed to start.
"""

import os
import random
import sys
import threading
import time

import nemlib

ABSENT = None
MAX_VALUE = 3000


class Writer(threading.Thread):
    """Runs random writes on its own keys until the connection breaks; keeps each key's set of allowed states."""

    def __init__(self, index, port, keys, model, rng):
        super().__init__(daemon=True)
        self.port, self.keys, self.model, self.rng = port, keys, model, rng
        self.index = index
        self.acknowledged = 0
        self.anomalies = []

    def run(self):
        try:
            client = nemlib.Client(self.port, timeout=30)
        except OSError:
            return
        try:
            while True:
                key = self.rng.choice(self.keys)
                self.step(client, key)
        except (OSError, ConnectionError, ValueError):
            pass
        finally:
            client.close()

    def step(self, client, key):
        (old,) = self.model[key]
        op = self.rng.random()
        flags = self.rng.getrandbits(32)
        if old is not ABSENT and op < 0.15:
            new, request, ok = ABSENT, b"delete %s\r\n" % key, b"DELETED"
        elif old is not ABSENT and op < 0.35 and len(old[1]) < MAX_VALUE:
            suffix = b"+%s" % self.token()
            new, request, ok = (old[0], old[1] + suffix), b"append %s 0 0 %d\r\n%s\r\n" % (key, len(suffix), suffix), b"STORED"
        elif old is not ABSENT and op < 0.5 and old[1].isdigit():
            delta = self.rng.randrange(1, 1000)
            total = (int(old[1]) + delta) % 2 ** 64
            new, request, ok = (old[0], b"%d" % total), b"incr %s %d\r\n" % (key, delta), b"%d" % total
        elif op < 0.6:
            value = b"%d" % self.rng.randrange(10 ** 6)
            new, request, ok = (flags, value), b"set %s %d 0 %d\r\n%s\r\n" % (key, flags, len(value), value), b"STORED"
        else:
            # The value names its key and a fresh token, so a value from another key or an old write cannot pass.
            value = (b"%s|%s|" % (key, self.token())).ljust(self.rng.randrange(40, 1500), b"v")
            new, request, ok = (flags, value), b"set %s %d 0 %d\r\n%s\r\n" % (key, flags, len(value), value), b"STORED"

        # In flight: either outcome is allowed until the reply says which.
        self.model[key] = (old, new)
        client.send(request)
        reply = client.line()
        if reply == ok:
            self.model[key] = (new,)
            self.acknowledged += 1
        else:
            self.anomalies.append(f"{key.decode()}: {request[:60]!r} got {reply!r}, expected {ok!r}")
            self.model[key] = (old,)

    def token(self):
        return b"%d.%x" % (self.index, self.rng.getrandbits(48))


def compaction_in_progress(data_dir):
    """A compaction or merge leaves these files only while it runs (or when a crash stopped it)."""
    return any(name.endswith(".compacting") or name.startswith("merge.") or name == "MERGE"
               for name in os.listdir(data_dir))


def verify(server, model):
    """Reads every key back; returns (checked, lost, wrong, problems) and sets the model to what the server holds."""
    checked = lost = wrong = 0
    problems = []
    client = server.connect()
    try:
        keys = list(model)
        for start in range(0, len(keys), 100):
            batch = keys[start:start + 100]
            found = client.get_many(batch)
            for key in batch:
                actual = found.get(key, ABSENT)
                allowed = model[key]
                checked += 1
                if actual not in allowed:
                    if actual is ABSENT:
                        lost += 1
                    else:
                        wrong += 1
                    if len(problems) < 10:
                        problems.append(f"{key.decode()}: got {short(actual)}, allowed {[short(a) for a in allowed]}")
                model[key] = (actual,)
    finally:
        client.close()
    return checked, lost, wrong, problems


def short(state):
    return "absent" if state is ABSENT else f"flags {state[0]} {state[1][:40]!r}..({len(state[1])})"


def torture(mode, sync, args, rng):
    data_dir = nemlib.new_data_dir(f"torture-{mode}-{sync}")
    env = {"NEMCACHE_SYNC": sync, "NEMCACHE_SYNC_INTERVAL_MS": "200"}
    keys_per_writer = args.keys
    model = {b"w%dk%d" % (w, k): (ABSENT,) for w in range(args.writers) for k in range(keys_per_writer)}
    totals = dict(kills=0, mid_compaction=0, checked=0, lost=0, wrong=0, acknowledged=0, anomalies=0)
    problems = []
    started = time.time()
    server = nemlib.Server(data_dir, mode, env)
    try:
        while totals["kills"] < args.kills and time.time() - started < args.budget:
            writers = [Writer(w, server.port, [b"w%dk%d" % (w, k) for k in range(keys_per_writer)], model,
                              random.Random(rng.getrandbits(64))) for w in range(args.writers)]
            for writer in writers:
                writer.start()
            # Every third kill waits for a compaction or merge to be running; the others land at random.
            if totals["kills"] % 3 == 2:
                deadline = time.time() + 3
                while time.time() < deadline and not compaction_in_progress(data_dir):
                    time.sleep(0.001)
            else:
                time.sleep(rng.uniform(0.05, 1.2))
            server.kill()
            totals["kills"] += 1
            totals["mid_compaction"] += compaction_in_progress(data_dir)
            for writer in writers:
                writer.join(30)
                totals["acknowledged"] += writer.acknowledged
                totals["anomalies"] += len(writer.anomalies)
                problems.extend(writer.anomalies[:3])

            try:
                server = nemlib.Server(data_dir, mode, env)
            except nemlib.StartFailed as failure:
                problems.append(f"restart after kill {totals['kills']} failed: {failure}")
                totals["start_failures"] = 1
                break
            checked, lost, wrong, found = verify(server, model)
            totals["checked"] += checked
            totals["lost"] += lost
            totals["wrong"] += wrong
            problems.extend(f"after kill {totals['kills']}: {p}" for p in found)
    finally:
        server.kill()
    totals["seconds"] = round(time.time() - started)
    nemlib.report(problems, data_dir)
    return totals, problems


def main():
    parser = nemlib.arguments(__doc__, seed=6)
    parser.add_argument("--syncs", default="always,interval")
    parser.add_argument("--kills", type=int, default=50, help="kills per mode and sync")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--keys", type=int, default=150, help="keys per writer")
    parser.add_argument("--budget", type=float, default=600, help="seconds per mode and sync at most")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    failed = False
    for mode in nemlib.available_modes(args, "crash-torture"):
        for sync in args.syncs.split(","):
            totals, problems = torture(mode, sync, args, rng)
            bad = totals["lost"] or totals["wrong"] or totals["anomalies"] or "start_failures" in totals \
                or totals["kills"] < args.kills
            failed |= bool(bad)
            print(f"crash-torture {mode} sync={sync}: {'FAIL' if bad else 'ok'} kills={totals['kills']} "
                  f"(mid-compaction {totals['mid_compaction']}) writes-acknowledged={totals['acknowledged']} "
                  f"writes-checked={totals['checked']} lost={totals['lost']} wrong={totals['wrong']} "
                  f"seconds={totals['seconds']}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
