#!/usr/bin/env python3
"""Corruption: damage copies of a real data directory and check that the server starts, reports exactly what it
skipped, and serves everything else.

For each mode, a server writes a workload (sets, overwrites, appends, incr, touch, deletes, a flush) and is stopped;
its data directory is the original. Each trial copies it, applies one corruption, starts the server on the copy and
reads every key back. The corruptions: flip bytes; truncate at every offset of the last record; zero-fill a region;
add stray files; delete the hint files, and delete each data file in turn (only where the format has them: the files present
decide). For the stream log, also mid-log damage with many records after it: one flipped bit in a length field, and a
zero-fill across a record boundary; only the records in the damaged stretch may be lost. For Bitcask, flips and
zero-fills hit a data file or a hint file, and half of those in a data file also delete its hint, so that both the hint
path and the scan path meet the damage; and more: a flipped byte in a key size or a value size field of a record in
the middle of the newest data file (the scan must find the next intact record rather than take the rest for a torn
tail), with and without its hint, and the newest data file emptied with its hint intact (its keys must be dropped,
never served with older values).

The check is exact for both formats. The script parses the original files itself (cachelog.bin; Bitcask's data.N,
docs/bitcask-format.md) and takes from the server's warnings the byte ranges it skipped, cut, or (Bitcask) found
damaged when loading a value. The server must serve exactly what replaying the records outside those ranges gives,
resolved as the server resolves them. Every byte the corruption changed must lie in a range the server named, or be
provably harmless: Bitcask reads a data file through its hint when the hint is intact, so damage to a record the load
never reads changes nothing, and a damaged hint must be reported as ignored and its data file scanned. Every range the
server names must hold damage (or follow a range that does: a damaged size misframes what comes after it), and for
Bitcask no reported stretch may swallow an intact record (the scan resumes at the next one). Bitcask's
first merge after a start waits for the values to be loaded, so it does not change what that start serves.

The stream log never destroys a damaged byte: the bytes a cut drops must be kept in a cachelog.bin.damaged-* file,
and a log with skipped damage must be kept whole under such a name before the compaction rewrites it.

Then each trial compacts the damaged directory (SIGUSR1: Bitcask merges every immutable file, the stream log is
rewritten), deletes every fifth key served and overwrites the next, stops the server and starts it again: it must
serve exactly what the first start served, changed by those writes. So a compaction that meets the damage loses
nothing more, and leaves the engine's state right for the writes after it.

    tests/corrupt.py [--modes stream,bitcask] [--flips 150] [--zero-fills 40] [--mid-log 40] [--size-flips 20] [--seed 2]

Prints the trials per corruption and one summary line per mode; exits 1 on any failed trial.
"""

import collections
import os
import random
import re
import shutil
import signal
import struct
import sys
import time

import nemlib

LOG = "cachelog.bin"
DAMAGED_PREFIX = LOG + ".damaged-"
# The server's warnings, worded alike by both plugins. FILE is a name (stream) or a path (Bitcask).
SKIPPED = re.compile(r"(\S+): skipped a damaged record, (\d+) bytes at offset (\d+)")
DROPPED = re.compile(r"(\S+): dropped (\d+) bytes from offset (\d+)")
# Bitcask: the put a key resolved to failed its check when its value was loaded, so the key is not served.
VALUE_DROPPED = re.compile(r"(\S+): damaged value record, (\d+) bytes at offset (\d+)[^\n]*; its key is dropped")
HINT_IGNORED = re.compile(r"(\S+): ignored, it is damaged or does not describe")
HINT_ORPHANED = re.compile(r"(\S+): removed, its data file is missing")
# Bitcask: a data file missing or emptied whose hint is intact: its records count as tombstones (docs/bitcask-format.md).
LOST = re.compile(r"(\S+): lost \(missing or empty\); its intact hint names")
COMPACTED = re.compile(r"compaction (finished|failed)")

# Bitcask: smaller files than nemlib's, so that the directory has several (and one can be deleted).
BITCASK_FILES = {"NEMCACHE_BITCASK_MAX_FILE_BYTES": "32768"}

# Bitcask layout (docs/bitcask-format.md).
FILE_HEADER = 16
MAGIC_AND_VERSION = 6  # a data file whose magic or version is damaged is refused as foreign, by design
RECORD_HEADER = struct.Struct("<IqqIHiBQ")  # format version 2: the CAS follows the type
KEY_SIZE_FIELD, VALUE_SIZE_FIELD = 24, 26
PUT, TOMBSTONE, FLUSH, DELAYED_FLUSH, TOUCH = 1, 2, 3, 4, 5
HINT_TRAILER = 20


def crc32c_table():
    table = []
    for n in range(256):
        for _ in range(8):
            n = (n >> 1) ^ 0x82F63B78 if n & 1 else n >> 1
        table.append(n)
    return table


CRC32C_TABLE = crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


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


# A record of either format: the bytes it spans in its file, and what it says. Stream records use kind, key, flags
# and value ("store", "remove", "touch", "flush"); Bitcask records use the data record's fields.
Record = collections.namedtuple("Record", "start end kind seq expiry flags key value")


def stream_records(path):
    """[Record] for each frame of cachelog.bin."""
    data = open(path, "rb").read()
    records, offset = [], 8
    while offset + 8 <= len(data):
        length = struct.unpack_from("<I", data, offset + 4)[0]
        end = offset + 8 + length
        kind, key, flags, value = parse_stream_record(data[offset + 8:end])
        records.append(Record(offset, end, kind, 0, 0, flags, key, value))
        offset = end
    assert offset == len(data), "the original log must be whole"
    return records


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


def parse_stream_record(payload):
    fields = parse_fields(payload)
    if 2 in fields:
        store = parse_fields(fields[2])
        return "store", store.get(1, b""), store.get(3, 0), store.get(2, b"")
    if 3 in fields:
        return "remove", parse_fields(fields[3]).get(1, b""), None, None
    if 4 in fields:
        return "touch", None, None, None
    return "flush", None, None, None


def bitcask_records(path):
    """[Record] for each record of a whole, undamaged data.N."""
    data = open(path, "rb").read()
    assert data[:4] == b"NCBD", path
    records, offset = [], FILE_HEADER
    while offset < len(data):
        crc, seq, expiry, flags, key_size, value_size, kind, _cas = RECORD_HEADER.unpack_from(data, offset)
        key_end = offset + RECORD_HEADER.size + key_size
        end = key_end + value_size
        assert crc == crc32c(data[offset + 4:end]), f"{path}: the original must be whole (offset {offset})"
        records.append(Record(offset, end, kind, seq, expiry, flags, data[offset + RECORD_HEADER.size:key_end],
                              data[key_end:end]))
        offset = end
    return records


def hint_usable(directory, data_name):
    """Whether the server reads data_name through its hint: the rule of docs/bitcask-format.md, "Hint file"."""
    hint_path = os.path.join(directory, data_name + ".hint")
    if not os.path.exists(hint_path):
        return False
    hint = open(hint_path, "rb").read()
    with open(os.path.join(directory, data_name), "rb") as data:
        stamp = data.read(FILE_HEADER)[8:]
        data_length = os.fstat(data.fileno()).st_size
    return (len(hint) >= FILE_HEADER + HINT_TRAILER and hint[:4] == b"NCBH"
            and struct.unpack_from("<H", hint, 4)[0] in (1, 2) and hint[8:16] == stamp
            and struct.unpack_from("<I", hint, len(hint) - 4)[0] == crc32c(hint[:-4])
            and struct.unpack_from("<q", hint, len(hint) - 12)[0] == data_length)


def replay_stream(records):
    """{key: ((flags, value), where)} after replaying records [(file, Record)] in order."""
    state = {}
    for name, r in records:
        if r.kind == "store":
            state[r.key] = ((r.flags, r.value), (name, r.start, r.end))
        elif r.kind == "remove":
            state.pop(r.key, None)
        elif r.kind == "flush":
            state.clear()
    return state


def resolve_bitcask(records, now):
    """{key: ((flags, value), where)} as Recovery resolves records [(file, Record)] read in file-number order: highest
    sequence number per key, flush markers, then touches, then expiry."""
    latest, touches = {}, {}
    max_seq = last_flush = 0
    pending = (0, 0)
    for name, r in records:
        max_seq = max(max_seq, r.seq)
        if r.kind in (PUT, TOMBSTONE):
            if r.key not in latest or r.seq > latest[r.key][0]:
                latest[r.key] = (r.seq, r.expiry, name, r if r.kind == PUT else None)
        elif r.kind == TOUCH:
            if r.key not in touches or r.seq > touches[r.key][0]:
                touches[r.key] = (r.seq, r.expiry)
        elif r.kind == FLUSH:
            last_flush = max(last_flush, r.seq)
        elif r.kind == DELAYED_FLUSH and r.seq > pending[0]:
            pending = (r.seq, r.expiry)
    kill_below = last_flush
    if pending[0] > last_flush and pending[1] <= now:
        kill_below = max_seq + 1
    state = {}
    for key, (seq, expiry, name, put) in latest.items():
        if put is None or seq < kill_below:
            continue
        touch = touches.get(key)
        if touch and touch[0] > seq:
            expiry = touch[1]
        if expiry == 0 or expiry > now:
            state[key] = ((put.flags, put.value), (name, put.start, put.end))
    return state


def overlaps(start, end, ranges):
    return any(start < r_end and r_start < end for r_start, r_end in ranges)


def inside(offset, ranges):
    return any(r_start <= offset < r_end for r_start, r_end in ranges)


class Reports:
    """What the server's warnings name: {file name: [(start, end)]} per kind, and the hint files it gave up on."""

    def __init__(self, output):
        def ranges(pattern):
            found = collections.defaultdict(list)
            for path, length, offset in pattern.findall(output):
                found[os.path.basename(path)].append((int(offset), int(offset) + int(length)))
            return found
        self.skipped = ranges(SKIPPED)
        self.dropped = ranges(DROPPED)
        self.values = ranges(VALUE_DROPPED)
        self.hints_ignored = {os.path.basename(path) for path in HINT_IGNORED.findall(output)}
        self.hints_orphaned = {os.path.basename(path) for path in HINT_ORPHANED.findall(output)}
        self.lost = {os.path.basename(path) for path in LOST.findall(output)}

    def unusable(self, name):
        """The ranges whose records recovery treats as never written."""
        return self.skipped.get(name, []) + self.dropped.get(name, [])

    def all(self, name):
        return self.unusable(name) + self.values.get(name, [])


def changed_bytes(original, copy, records):
    """{file: [offsets]} of the bytes of each original file that the corruption changed, and {file: length} of what is
    left of each. The bytes left of a record that a truncation cut count as changed: the record is torn."""
    changed, lengths = {}, {}
    for name in records:
        path = os.path.join(copy, name)
        if not os.path.exists(path):
            continue
        before, after = open(os.path.join(original, name), "rb").read(), open(path, "rb").read()
        lengths[name] = len(after)
        offsets = [i for i in range(min(len(before), len(after))) if before[i] != after[i]]
        torn = next((r for r in records[name] if r.start < len(after) < r.end), None)
        if torn:
            offsets += range(torn.start, len(after))
        changed[name] = sorted(set(offsets))
    return changed, lengths


class Trials:
    def __init__(self, mode, original, history, records):
        self.mode, self.original, self.history, self.records = mode, original, history, records
        self.bitcask = mode == "bitcask"
        self.keys = sorted(history)
        self.count = self.failures = 0
        self.kinds = collections.Counter()
        self.reported = collections.Counter()
        self.lost_keys = 0

    def run(self, kind, name, corrupt):
        """Copies the data dir, applies corrupt(dir), restarts on the copy and checks what it serves."""
        copy = self.original + ".trial"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(self.original, copy)
        corrupt(copy)
        damaged_log = open(os.path.join(copy, LOG), "rb").read() if not self.bitcask else None
        self.count += 1
        self.kinds[kind] += 1
        changed, lengths = changed_bytes(self.original, copy, self.records)
        # Decided before the server starts: it rewrites the hints of the files it scanned.
        hinted = {n for n in self.records if n in lengths and hint_usable(copy, n)} if self.bitcask else set()
        hints_present = {n + ".hint" for n in self.records if os.path.exists(os.path.join(copy, n + ".hint"))}
        problems = []
        try:
            server = nemlib.Server(copy, self.mode, env=BITCASK_FILES if self.bitcask else None)
        except nemlib.StartFailed as failure:
            problems.append(f"did not start: {failure}")
        else:
            after = None
            try:
                found = read_all(server, self.keys)
                reports = Reports(server.output())
                problems += self.check(found, reports, changed, lengths, hinted, hints_present)
                if damaged_log is not None:
                    problems += self.kept_aside(copy, damaged_log, reports)
                problems += self.compact(server)
                after = self.change_some(server, found)
                code = server.terminate()
                if code != 0:
                    problems.append(f"exited with {code} after the compaction")
            except (OSError, AssertionError, ValueError) as failure:
                problems.append(f"{type(failure).__name__} while talking to the server: {failure}")
            finally:
                server.kill()
            if after is not None:
                problems += self.restart(copy, after)
        if problems:
            self.failures += 1
            print(f"  FAIL {self.mode} {name}: " + "; ".join(problems[:5]))
            shutil.copytree(copy, f"{self.original}.failed-{self.failures}")
        shutil.rmtree(copy, ignore_errors=True)
        if os.path.exists(copy + ".log"):
            os.remove(copy + ".log")

    @staticmethod
    def kept_aside(copy, damaged_log, reports):
        """The stream log destroys no damaged byte: a cut's bytes are copied out before the log is truncated, and a log
        with skipped damage is kept whole (cut bytes excepted) before a compaction can rewrite it."""
        aside = [open(os.path.join(copy, n), "rb").read() for n in os.listdir(copy) if n.startswith(DAMAGED_PREFIX)]
        problems = []
        cuts = reports.dropped.get(LOG, [])
        end = len(damaged_log)
        for start, _ in cuts:
            end = start
            if damaged_log[start:] not in aside:
                problems.append(f"the {len(damaged_log) - start} bytes cut at {start} were not kept")
        if reports.skipped.get(LOG) and not any(a[:end] == damaged_log[:end] and len(a) >= end for a in aside):
            problems.append("the log with skipped damage was not kept before its compaction")
        return problems

    def compact(self, server):
        """Compacts the damaged directory: SIGUSR1, a merge of every immutable Bitcask file, or the stream log
        rewritten."""
        server.process.send_signal(signal.SIGUSR1)
        deadline = time.time() + 30
        while not (done := COMPACTED.search(server.output())):
            if time.time() > deadline:
                return ["compaction did not finish within 30 s"]
            time.sleep(0.02)
        return [] if done.group(1) == "finished" else [f"compaction failed: {server.output()[-300:]}"]

    @staticmethod
    def change_some(server, served):
        """Deletes every fifth served key and overwrites the next one, so that the engine's state after the
        compaction is exercised too; returns what the server should then hold."""
        client = server.connect()
        after = dict(served)
        for i, key in enumerate(sorted(served)):
            if i % 5 == 0:
                assert client.call(b"delete %s\r\n" % key) == b"DELETED", key
                del after[key]
            elif i % 5 == 1:
                assert client.store(b"set", key, 5, b"after the compaction") == b"STORED", key
                after[key] = (5, b"after the compaction")
        client.close()
        return after

    def restart(self, copy, expected):
        """The next start must serve what the first one served, changed as change_some changed it: the compaction
        loses nothing the first start served, and leaves the engine's state right for the writes after it."""
        try:
            server = nemlib.Server(copy, self.mode, env=BITCASK_FILES if self.bitcask else None)
        except nemlib.StartFailed as failure:
            return [f"did not start after the compaction: {failure}"]
        try:
            found = read_all(server, self.keys)
        finally:
            server.kill()
        if found == expected:
            return []
        differ = sorted(k for k in set(expected) | set(found) if expected.get(k) != found.get(k))
        return [f"after the compaction and a restart, {len(differ)} keys differ: " + ", ".join(
            f"{k.decode()} expected {brief(expected.get(k))} served {brief(found.get(k))}" for k in differ[:3])]

    def check(self, found, reports, changed, lengths, hinted, hints_present):
        problems = []
        kept = []
        # A data file missing or emptied with its hint intact: its puts and touches count as tombstones, the rest as
        # they were (the original hints are intact; a trial that damages one also keeps its data file).
        lost = {n for n in self.records if lengths.get(n, 0) < FILE_HEADER and n + ".hint" in hints_present}
        for name in sorted(self.records, key=file_order):
            if name in lost:
                kept += [(name, r._replace(kind=TOMBSTONE) if r.kind in (PUT, TOUCH) else r) for r in self.records[name]]
                continue
            if name not in lengths:
                continue
            for r in self.records[name]:
                if name in hinted or (r.end <= lengths[name] and not overlaps(r.start, r.end, reports.unusable(name))):
                    kept.append((name, r))
        if self.bitcask:
            state = resolve_bitcask(kept, int(time.time()))
            # A value that fails its check at load drops its key; only a hint's file can hold one (a scan checks all).
            expected = {key: item for key, (item, (name, start, end)) in state.items()
                        if not overlaps(start, end, reports.values.get(name, []))}
        else:
            state = replay_stream(kept)
            expected = {key: item for key, (item, _) in state.items()}

        if self.bitcask and reports.lost != lost:
            problems.append(f"data files reported lost {sorted(reports.lost)}, expected {sorted(lost)}")
        for name, offsets in changed.items():
            if name in lost:
                continue
            named = reports.all(name)
            # With its hint intact, only the values the keydir points at are read from a data file.
            read_by_load = [(start, end) for item, (n, start, end) in state.values() if n == name]
            for offset in offsets:
                if inside(offset, named):
                    continue
                if self.bitcask and offset < FILE_HEADER:
                    continue  # reserved or stamp: a stamp that no longer matches its hint is reported as the hint's
                if name in hinted and not inside(offset, read_by_load):
                    continue
                problems.append(f"{name} byte {offset} was damaged but not reported (reported {named})")
                break
            if self.bitcask:
                # Damage costs only the damaged bytes: a reported stretch never swallows an intact record.
                damaged = set(offsets)
                swallowed = [r.start for start, end in reports.unusable(name) for r in self.records[name]
                             if start <= r.start and r.end <= end and not damaged.intersection(range(r.start, r.end))]
                if swallowed:
                    problems.append(f"{name}: intact records at {swallowed[:3]} lie inside a reported stretch")
            # A damaged size can make the server frame the bytes after a damaged record wrongly; what it skips then
            # begins where the damaged record's range ends, so each reported range holds damage or follows one.
            justified_ends = set()
            for start, end in sorted(named):
                if start in justified_ends or any(start <= offset < end for offset in offsets):
                    justified_ends.add(end)
                else:
                    problems.append(f"{name} bytes {start}..{end} were reported damaged but are not")
        for name in set(reports.skipped) | set(reports.dropped) | set(reports.values):
            if name not in changed:
                problems.append(f"{name} was reported damaged but is not a damaged data file")

        if self.bitcask:
            should_ignore = {n + ".hint" for n in lengths
                             if n + ".hint" in hints_present and n not in hinted and n not in lost}
            if reports.hints_ignored != should_ignore:
                problems.append(f"hints reported ignored {sorted(reports.hints_ignored)}, expected {sorted(should_ignore)}")
            orphans = {n + ".hint" for n in lost}
            if reports.hints_orphaned != orphans:
                problems.append(f"hints reported orphaned {sorted(reports.hints_orphaned)}, expected {sorted(orphans)}")

        if found != expected:
            differ = sorted(k for k in set(expected) | set(found) if expected.get(k) != found.get(k))
            shown = [f"{k.decode()} expected {brief(expected.get(k))} served {brief(found.get(k))}" for k in differ[:3]]
            problems.append(f"served state differs from the replay of the unreported records in {len(differ)} keys: "
                            + ", ".join(shown))
        for key in self.keys:
            if found.get(key) != self.history[key][-1]:
                self.lost_keys += 1
        self.reported["records skipped or cut"] += sum(map(len, reports.skipped.values())) + sum(
            map(len, reports.dropped.values()))
        self.reported["values dropped at load"] += sum(map(len, reports.values.values()))
        self.reported["hints ignored"] += len(reports.hints_ignored)
        return problems


def brief(item):
    return "nothing" if item is None else f"{item[0]}:{item[1][:16]!r}({len(item[1])} bytes)"


def file_order(name):
    """Data files in number order, as Bitcask's recovery reads them."""
    number = name.rpartition(".")[2]
    return int(number) if number.isdigit() else 0


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


def remove_if_present(path):
    if os.path.exists(path):
        os.remove(path)


def torture_mode(mode, args, rng):
    original = nemlib.new_data_dir(f"corrupt-{mode}")
    server = nemlib.Server(original, mode, env=BITCASK_FILES if mode == "bitcask" else None)
    history = write_workload(server, rng)
    assert server.terminate() == 0
    os.remove(original + ".log")
    files = sorted(os.listdir(original))
    if LOG in files:
        records = {LOG: stream_records(os.path.join(original, LOG))}
    else:
        records = {n: bitcask_records(os.path.join(original, n)) for n in files if re.fullmatch(r"data\.\d+", n)}
    trials = Trials(mode, original, history, records)
    data_files = sorted((n for n in records if records[n]), key=file_order)
    hints = [n for n in files if n.endswith(".hint")]
    print(f"  {mode}: {', '.join(files)}", flush=True)

    def damage_target():
        """(kind, file, first offset that may be damaged, whether to delete the file's hint as well)."""
        if trials.bitcask and hints and rng.random() < 0.25:
            return "hint", rng.choice(hints), 0, False
        name = rng.choice(data_files)
        if not trials.bitcask:
            return "log", name, 8, False
        drop_hint = rng.random() < 0.5
        return ("data, hint deleted" if drop_hint else "data"), name, MAGIC_AND_VERSION, drop_hint

    for _ in range(args.flips):
        kind, name, first, drop_hint = damage_target()
        size = os.path.getsize(os.path.join(original, name))
        offsets = sorted(rng.sample(range(first, size), min(rng.randint(1, 4), size - first)))

        def corrupt(d, n=name, o=offsets, h=drop_hint):
            flip(os.path.join(d, n), o)
            if h:
                remove_if_present(os.path.join(d, n + ".hint"))
        trials.run(f"flip 1-4 bytes ({kind})", f"flip {name} {offsets}{' hint deleted' if drop_hint else ''}", corrupt)

    # The last record written (a merge output may have a higher file number than the file written last).
    newest = max(data_files, key=lambda n: (records[n][-1].seq, file_order(n)))
    last = records[newest][-1]
    for cut in range(last.start, last.end):
        trials.run("truncate the last record", f"truncate {newest} at {cut}",
                   lambda d, c=cut: os.truncate(os.path.join(d, newest), c))

    for _ in range(args.zero_fills):
        kind, name, first, drop_hint = damage_target()
        size = os.path.getsize(os.path.join(original, name))
        start = rng.randrange(first, size)
        length = min(rng.choice([1, 16, 200, 4096]), size - start)

        def corrupt(d, n=name, s=start, k=length, h=drop_hint):
            zero_fill(os.path.join(d, n), s, k)
            if h:
                remove_if_present(os.path.join(d, n + ".hint"))
        trials.run(f"zero-fill ({kind})", f"zero-fill {length} bytes of {name} at {start}", corrupt)

    if trials.bitcask:
        # A damaged size in the middle of the newest data file: only what lies between it and the next intact record
        # may be lost, never the records after it.
        last_file = max(data_files, key=file_order)
        middle = records[last_file][1:-1]
        for r in rng.sample(middle, min(len(middle), args.size_flips)):
            field = r.start + rng.choice([KEY_SIZE_FIELD + 1, VALUE_SIZE_FIELD + 2, VALUE_SIZE_FIELD + 3])
            drop_hint = rng.random() < 0.5

            def corrupt(d, o=field, h=drop_hint):
                flip(os.path.join(d, last_file), [o])
                if h:
                    remove_if_present(os.path.join(d, last_file + ".hint"))
            trials.run(f"flip a size field mid-file{', hint deleted' if drop_hint else ''}",
                       f"flip {last_file} [{field}]{' hint deleted' if drop_hint else ''}", corrupt)
        trials.run("empty the newest data file, its hint intact", f"empty {last_file}",
                   lambda d: open(os.path.join(d, last_file), "wb").close())

    if not trials.bitcask:
        frames = records[LOG]
        for _ in range(args.mid_log):
            # A record in the first half, so that hundreds of records follow the damage.
            victim = frames[rng.randrange(len(frames) // 2)]
            if rng.random() < 0.5:
                offset = victim.start + 4 + rng.randrange(4)
                bit = 1 << rng.randrange(8)

                def corrupt(d, o=offset, b=bit):
                    with open(os.path.join(d, LOG), "r+b") as f:
                        f.seek(o)
                        byte = f.read(1)[0]
                        f.seek(o)
                        f.write(bytes([byte ^ b]))
                trials.run("flip one bit of a length mid-log", f"flip bit {bit:#x} at {offset}", corrupt)
            else:
                start = rng.randrange(victim.start, victim.end)
                length = rng.choice([16, 200, 4096])
                trials.run("zero-fill mid-log", f"zero-fill {length} bytes of {LOG} at {start}",
                           lambda d, s=start, k=length: zero_fill(os.path.join(d, LOG), s, k))

    def add_strays(d):
        with open(os.path.join(d, "stray.tmp"), "wb") as f:
            f.write(os.urandom(1000))
        with open(os.path.join(d, LOG + ".compacting"), "wb") as f:
            f.write(os.urandom(300))
        os.mkdir(os.path.join(d, "stray-dir"))
    trials.run("add stray files", "stray files", add_strays)

    if hints:
        trials.run("delete the hint files", "delete hint files",
                   lambda d: [os.remove(os.path.join(d, h)) for h in hints])
    else:
        print(f"  {mode}: no hint files in this format; that corruption does not apply")
    if len(data_files) > 1:
        for victim in data_files:
            trials.run("delete one data file", f"delete {victim}", lambda d, v=victim: os.remove(os.path.join(d, v)))
    else:
        print(f"  {mode}: one data file; deleting one data file does not apply")

    shutil.rmtree(original, ignore_errors=True)
    return trials


def main():
    parser = nemlib.arguments(__doc__, seed=2)
    parser.add_argument("--flips", type=int, default=150)
    parser.add_argument("--zero-fills", type=int, default=40)
    parser.add_argument("--mid-log", type=int, default=40, help="stream only: length-field flips and zero-fills mid-log")
    parser.add_argument("--size-flips", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    failed = False
    for mode in nemlib.available_modes(args, "corrupt"):
        started = time.time()
        trials = torture_mode(mode, args, rng)
        failed |= trials.failures > 0
        for kind, count in sorted(trials.kinds.items()):
            print(f"  {mode}: {count:4d} x {kind}")
        reported = " ".join(f"{k.replace(' ', '-')}={v}" for k, v in trials.reported.items())
        print(f"corrupt {mode}: {'FAIL' if trials.failures else 'ok'} corruptions-tried={trials.count} "
              f"failed={trials.failures} {reported} keys-lost-to-damage={trials.lost_keys} "
              f"(of {len(trials.keys)} keys x {trials.count} trials) in {time.time() - started:.0f} s", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
