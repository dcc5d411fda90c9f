#!/usr/bin/env python3
"""Corruption: damage copies of a real data directory and check that the server starts, reports what it skipped, and
serves everything else.

For each mode, a server writes a workload (sets, overwrites, appends, incr, touch, deletes, a flush) and is stopped;
its data directory is the original. Each trial copies it, applies one corruption, starts the server on the copy and
reads every key back. The corruptions: flip bytes; truncate at every offset of the last record; zero-fill a region;
add stray files; delete hint files and delete one data file (only where the format has them: the files present
decide).

The check is exact for the stream log: this script parses cachelog.bin itself, drops the records inside the byte
ranges the server's warnings name, replays the rest, and the server must serve exactly that; every damaged byte must
lie in a range it named. For any other format the check is by history: every value served is one the key really held
(never torn, never another key's), and a corruption that loses no data (stray file, deleted hints) must lose no key.

    tests/corrupt.py [--modes stream,bitcask] [--flips 150] [--zero-fills 40] [--seed 2]

Prints one summary line per mode; exits 1 on any failed trial.
"""

import os
import random
import re
import shutil
import struct
import sys

import nemlib

LOG = "cachelog.bin"
SKIPPED = re.compile(r"skipped a damaged record, (\d+) bytes at offset (\d+)")
DROPPED = re.compile(r"dropped (\d+) bytes from offset (\d+)")


def write_workload(server, rng):
    """Returns {key: [every state it had, oldest first]}; the last is its final state, None when absent."""
    history = {}
    client = server.connect()

    def store(verb, key, flags, value, expect=b"STORED"):
        assert client.store(verb, key, flags, value) == expect, (verb, key)

    def record(key, state):
        history.setdefault(key, [None]).append(state)

    for i in range(60):
        key = b"early%d" % i
        store(b"set", key, i, b"before the flush %d" % i)
        record(key, (i, b"before the flush %d" % i))
    assert client.call(b"flush_all\r\n") == b"OK"
    for key in list(history):
        record(key, None)
    for i in range(600):
        key = b"key%d" % rng.randrange(300)
        state = history.get(key, [None])[-1]
        op = rng.random()
        if state and op < 0.1:
            assert client.call(b"delete %s\r\n" % key) == b"DELETED"
            record(key, None)
        elif state and op < 0.25:
            store(b"append", key, 0, b"+tail")
            record(key, (state[0], state[1] + b"+tail"))
        elif state and op < 0.35:
            assert client.call(b"touch %s 0\r\n" % key) == b"TOUCHED"
        elif op < 0.45:
            store(b"set", key, 7, b"100")
            assert client.call(b"incr %s 23\r\n" % key) == b"123"
            record(key, (7, b"100"))
            record(key, (7, b"123"))
        else:
            flags = rng.getrandbits(32)
            value = (b"%s=%d:" % (key, i)).ljust(rng.randrange(10, 600), b"x")
            store(b"set", key, flags, value)
            record(key, (flags, value))
    # A short last record, so that truncating it at every offset takes few restarts.
    store(b"set", b"last", 1, b"z")
    record(b"last", (1, b"z"))
    client.close()
    return history


def read_all(server, keys):
    client = server.connect()
    found = {}
    for start in range(0, len(keys), 100):
        found.update(client.get_many(keys[start:start + 100]))
    client.close()
    return found


def stream_frames(path):
    """[(offset, end, record)] for each frame of cachelog.bin; record is (kind, key, flags, value)."""
    data = open(path, "rb").read()
    frames, offset = [], 8
    while offset + 8 <= len(data):
        length = struct.unpack_from("<I", data, offset + 4)[0]
        end = offset + 8 + length
        frames.append((offset, end, parse_record(data[offset + 8:end])))
        offset = end
    assert offset == len(data), "the original log must be whole"
    return frames


def parse_fields(data):
    """Protobuf wire format: {field number: value} (varints as int, length-delimited as bytes)."""
    fields, i = {}, 0
    while i < len(data):
        tag, i = varint(data, i)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            fields[number], i = varint(data, i)
        elif wire == 2:
            length, i = varint(data, i)
            fields[number], i = data[i:i + length], i + length
        else:
            raise ValueError(f"wire type {wire}")
    return fields


def varint(data, i):
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def parse_record(payload):
    fields = parse_fields(payload)
    if 2 in fields:
        store = parse_fields(fields[2])
        return "store", store.get(1, b""), store.get(3, 0), store.get(2, b"")
    if 3 in fields:
        return "remove", parse_fields(fields[3]).get(1, b""), None, None
    if 4 in fields:
        return "touch", None, None, None
    return "flush", None, None, None


def stream_expectation(frames, ranges):
    """What replaying every frame outside the reported damaged ranges gives."""
    state = {}
    for start, end, (kind, key, flags, value) in frames:
        if any(start < r_end and r_start < end for r_start, r_end in ranges):
            continue
        if kind == "store":
            state[key] = (flags, value)
        elif kind == "remove":
            state.pop(key, None)
        elif kind == "flush":
            state.clear()
    return state


def reported_ranges(output):
    ranges = [(int(o), int(o) + int(n)) for n, o in SKIPPED.findall(output)]
    ranges += [(int(o), int(o) + int(n)) for n, o in DROPPED.findall(output)]
    return ranges


class Trials:
    def __init__(self, mode, original, history, frames):
        self.mode, self.original, self.history, self.frames = mode, original, history, frames
        self.keys = sorted(history)
        self.count = self.failures = 0
        self.skipped_records = 0
        self.lost_keys = 0

    def run(self, name, corrupt, damaged=(), lossless=False, frames=None):
        """Copies the data dir, applies corrupt(dir), restarts and checks. damaged: byte ranges of cachelog.bin the
        corruption touched, which the server must report; frames: those left in the file, when not all are."""
        copy = self.original + ".trial"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(self.original, copy)
        corrupt(copy)
        self.count += 1
        problems = []
        try:
            server = nemlib.Server(copy, self.mode)
        except nemlib.StartFailed as failure:
            problems.append(f"did not start: {failure}")
        else:
            try:
                found = read_all(server, self.keys)
                output = server.output()
            finally:
                server.kill()
            problems += self.check(found, output, damaged, lossless, frames or self.frames)
        if problems:
            self.failures += 1
            print(f"  FAIL {self.mode} {name}: " + "; ".join(problems[:5]))
            shutil.copytree(copy, f"{self.original}.failed-{self.failures}")
        shutil.rmtree(copy, ignore_errors=True)
        if os.path.exists(copy + ".log"):
            os.remove(copy + ".log")

    def check(self, found, output, damaged, lossless, frames):
        problems = []
        for key in self.keys:
            actual = found.get(key)
            if actual is not None and actual not in self.history[key]:
                problems.append(f"{key!r} holds {actual[1][:30]!r}, a value it never had")
            elif actual != self.history[key][-1]:
                self.lost_keys += 1
                if lossless:
                    problems.append(f"{key!r} lost")
        if frames is None:
            return problems
        ranges = reported_ranges(output)
        self.skipped_records += len(SKIPPED.findall(output))
        for d_start, d_end in damaged:
            if not any(r_start <= d_start and d_end <= r_end for r_start, r_end in ranges):
                problems.append(f"bytes {d_start}..{d_end} were damaged but not reported (reported {ranges})")
        expected = stream_expectation(frames, ranges)
        served = {key: value for key, value in found.items()}
        if served != expected:
            diff = sorted(set(expected.items()) ^ set(served.items()))[:3]
            problems.append(f"served state differs from the replay of the unreported records: {diff}")
        return problems


def flip(path, offsets):
    with open(path, "r+b") as f:
        for offset in offsets:
            f.seek(offset)
            byte = f.read(1)[0]
            f.seek(offset)
            f.write(bytes([byte ^ 0xFF]))


def zero_fill(path, start, length):
    with open(path, "r+b") as f:
        f.seek(start)
        f.write(b"\0" * length)


def torture_mode(mode, args, rng):
    original = nemlib.new_data_dir(f"corrupt-{mode}")
    server = nemlib.Server(original, mode)
    history = write_workload(server, rng)
    assert server.terminate() == 0
    os.remove(original + ".log")
    files = sorted(os.listdir(original))
    log_path = os.path.join(original, LOG)
    # Both formats keep a LOCK file (the data directory's lock); the stream format is the one whose data is one log.
    frames = stream_frames(log_path) if [name for name in files if name != "LOCK"] == [LOG] else None
    trials = Trials(mode, original, history, frames)
    data_files = [name for name in files if re.fullmatch(r"data\.\d+", name)]
    main_file = LOG if frames is not None else data_files[-1]
    size = os.path.getsize(os.path.join(original, main_file))
    header = 8 if frames is not None else 0

    def frame_of(offset):
        return next(((s, e) for s, e, _ in frames if s <= offset < e), (offset, offset + 1)) if frames else None

    for _ in range(args.flips):
        offsets = sorted(rng.sample(range(header, size), rng.randint(1, 4)))
        damaged = [frame_of(o) for o in offsets] if frames else ()
        trials.run(f"flip {offsets}", lambda d, o=offsets: flip(os.path.join(d, main_file), o), damaged)

    last_start = frames[-1][0] if frames else max(header, size - 40)
    for cut in range(last_start, size):
        damaged = [(last_start, cut)] if frames and cut > last_start else ()
        trials.run(f"truncate at {cut}", lambda d, c=cut: os.truncate(os.path.join(d, main_file), c), damaged,
                   frames=frames[:-1] if frames else None)

    for _ in range(args.zero_fills):
        length = rng.choice([1, 16, 200, 4096])
        start = rng.randrange(header, size - 1)
        length = min(length, size - start)
        damaged = ()
        if frames:
            # Zeros over a byte that already was zero change nothing there; only frames whose bytes changed count.
            data = open(log_path, "rb").read()
            damaged = sorted({frame_of(o) for o in range(start, start + length) if data[o] != 0})
        trials.run(f"zero-fill {length} bytes at {start}", lambda d, s=start, n=length: zero_fill(os.path.join(d, main_file), s, n), damaged)

    def add_strays(d):
        with open(os.path.join(d, "stray.tmp"), "wb") as f:
            f.write(os.urandom(1000))
        with open(os.path.join(d, LOG + ".compacting"), "wb") as f:
            f.write(os.urandom(300))
        os.mkdir(os.path.join(d, "stray-dir"))
    trials.run("stray files", add_strays, lossless=True)

    hints = [name for name in files if name.endswith(".hint")]
    if hints:
        trials.run("delete hint files", lambda d: [os.remove(os.path.join(d, h)) for h in hints], lossless=True)
    else:
        print(f"  {mode}: no hint files in this format; that corruption does not apply")
    if len(data_files) > 1:
        victim = data_files[len(data_files) // 2]
        trials.run(f"delete {victim}", lambda d: os.remove(os.path.join(d, victim)))
    else:
        print(f"  {mode}: one data file ({', '.join(files)}); deleting one data file does not apply")

    shutil.rmtree(original, ignore_errors=True)
    return trials


def main():
    parser = nemlib.arguments(__doc__, seed=2)
    parser.add_argument("--flips", type=int, default=150)
    parser.add_argument("--zero-fills", type=int, default=40)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    failed = False
    for mode in nemlib.available_modes(args, "corrupt"):
        trials = torture_mode(mode, args, rng)
        failed |= trials.failures > 0
        print(f"corrupt {mode}: {'FAIL' if trials.failures else 'ok'} corruptions-tried={trials.count} "
              f"failed={trials.failures} damaged-records-reported={trials.skipped_records} "
              f"keys-lost-to-damage={trials.lost_keys} (of {len(trials.keys)} keys x {trials.count} trials)", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
