#!/usr/bin/env python3
"""Switch torture: switch the persistence plugin back and forth on one data directory, SIGKILL the server at random
moments of the switching start (before, during and after the import), and check every key after each start.

Each round writes to the cache through the plugin that owns the directory (sets, overwrites, deletes, and now and
then a flush_all), stops it with SIGTERM or SIGKILL, then starts the other plugin and kills it after a random delay,
which lands before the import began, while the new plugin writes its copy, or after the switch. The next start picks
either plugin at random, so a new owner and a change of mind are both tried. Every start must serve exactly the
acknowledged state: "lost" counts a value missing, "wrong" a value, flags or deleted key that no acknowledged write
left there.

    tests/switch_torture.py [--rounds 40] [--keys 6000] [--kill-window 0.3,0.8] [--seed 11]

Prints one summary line; exits 1 if any key was lost or wrong or a start failed.
"""

import os
import random
import signal
import subprocess
import sys
import time

import nemlib

OTHER = {"stream": "bitcask", "bitcask": "stream"}


def owner(data_dir):
    try:
        with open(os.path.join(data_dir, "PLUGIN")) as marker:
            return marker.read().strip()
    except FileNotFoundError:
        return None


def files_of(data_dir, plugin):
    """{name: size} of the files a plugin writes its copy into during an import."""
    def ours(name):
        if plugin == "stream":
            return name in ("cachelog.bin", "cachelog.bin.compacting")
        return name.startswith("data.") and not name.endswith(".imported")
    return {n: os.path.getsize(os.path.join(data_dir, n)) for n in os.listdir(data_dir) if ours(n)}


def write_round(server, model, keys, rng):
    client = server.connect()
    try:
        if rng.random() < 0.15:
            assert client.call(b"flush_all\r\n") == b"OK"
            model.clear()
        for _ in range(rng.randint(len(keys) // 4, len(keys))):
            key = rng.choice(keys)
            if rng.random() < 0.2:
                reply = client.call(b"delete " + key + b"\r\n")
                assert reply == (b"DELETED" if key in model else b"NOT_FOUND"), (key, reply)
                model.pop(key, None)
            else:
                flags = rng.randrange(1 << 16)
                value = b"%x." % rng.getrandbits(32) + bytes([97 + rng.randrange(26)]) * rng.randint(0, 2000)
                assert client.store(b"set", key, flags, value) == b"STORED"
                model[key] = (flags, value)
    finally:
        client.close()


def verify(server, model, keys):
    """(lost, wrong) keys against the model."""
    lost = wrong = 0
    client = server.connect()
    try:
        for start in range(0, len(keys), 200):
            chunk = keys[start:start + 200]
            found = client.get_many(chunk)
            for key in chunk:
                if key in model and key not in found:
                    lost += 1
                elif found.get(key) != model.get(key):
                    wrong += 1
    finally:
        client.close()
    return lost, wrong


def spawn(data_dir, plugin):
    """Starts the server without waiting for it to listen, so that it can be killed in the middle of its start."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEMCACHE_")}
    environment.update(nemlib.MODES[plugin])
    log = open(data_dir.rstrip("/") + ".log", "ab")
    process = subprocess.Popen(["dotnet", nemlib.DLL, "-p", str(nemlib.free_port()), "--data-dir", data_dir],
                               env=environment, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return process


def main():
    parser = nemlib.arguments(__doc__, seed=11)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--keys", type=int, default=6000)
    parser.add_argument("--kill-window", default="0.3,0.8",
                        help="seconds after the switching start is spawned, from,to: the import should fall inside it "
                             "(a start takes 0.5 s with 6 MB to import on a quiet 2-core machine)")
    args = parser.parse_args()
    if not args.no_build:
        nemlib.build()
    rng = random.Random(args.seed)
    keys = [b"key%05d" % i for i in range(args.keys)]
    data_dir = nemlib.new_data_dir("switch")
    model = {}
    plugin = "stream"
    problems = []
    kills = {"before the import": 0, "during the import": 0, "after the switch": 0}
    lost = wrong = 0
    started = time.time()
    rounds_done = 0
    for round_number in range(args.rounds):
        try:
            server = nemlib.Server(data_dir, plugin)
        except nemlib.StartFailed as failure:
            problems.append(f"round {round_number}: {plugin} did not start: {failure}")
            break
        round_lost, round_wrong = verify(server, model, keys)
        lost += round_lost
        wrong += round_wrong
        if round_lost or round_wrong:
            problems.append(f"round {round_number}: {plugin} started with {round_lost} lost, {round_wrong} wrong")
            server.kill()
            break
        write_round(server, model, keys, rng)
        if rng.random() < 0.5:
            server.kill()
        elif server.terminate() != 0:
            problems.append(f"round {round_number}: {plugin} did not stop cleanly")

        # The switching start, killed at a random moment.
        target = OTHER[plugin]
        before = files_of(data_dir, target)
        process = spawn(data_dir, target)
        time.sleep(rng.uniform(*map(float, args.kill_window.split(","))))
        process.send_signal(signal.SIGKILL)
        process.wait()
        if owner(data_dir) == target:
            kills["after the switch"] += 1
        elif files_of(data_dir, target) != before:
            kills["during the import"] += 1
        else:
            kills["before the import"] += 1
        plugin = rng.choice([plugin, target])
        rounds_done += 1

    if not problems:
        server = nemlib.Server(data_dir, plugin)
        final_lost, final_wrong = verify(server, model, keys)
        lost += final_lost
        wrong += final_wrong
        if final_lost or final_wrong:
            problems.append(f"final start ({plugin}): {final_lost} lost, {final_wrong} wrong")
        server.terminate()
    status = "ok" if not problems else "FAILED"
    print(f"switch torture: {status} rounds={rounds_done} keys={args.keys} live-at-end={len(model)} "
          + " ".join(f"killed-{k.replace(' ', '-')}={v}" for k, v in kills.items())
          + f" lost={lost} wrong={wrong} in {time.time() - started:.0f} s", flush=True)
    nemlib.report(problems, data_dir)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
