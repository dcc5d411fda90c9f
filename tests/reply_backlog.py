#!/usr/bin/env python3
"""Reply backlog: small requests whose replies are large, from a client that does not read them, must not make the
server hold those replies in memory. The same script runs against memcached for comparison.

1. Start the server (Nemcache, or memcached with --server memcached), store one VALUE_BYTES value under `b`, read it
   back once (warm-up), and take the idle RSS.
2. For each scenario, a new connection sends every request at once and reads nothing for --hold seconds, while the
   server's VmRSS is sampled every 20 ms:
   - text-multiget:   one `get b b b …` of --keys keys;
   - text-gats-multi: one `gats 0 b b …` of --keys keys;
   - text-pipelined:  --keys pipelined `get b`;
   - meta-pipelined:  --keys pipelined `mg b v`, then `mn`;
   - binary-getkq:    --keys pipelined binary getkq packets, then a noop.
3. The client then reads every reply and checks it byte for byte (value, flags, key, one CAS for all): the replies
   must be complete and correct once the client reads.
4. A scenario passes when its peak RSS stays within --bound-mb of the idle RSS.

    tests/reply_backlog.py [--server nemcache|memcached] [--keys 1000] [--hold 3] [--bound-mb 32]
"""

import os
import socket
import struct
import subprocess
import sys
import threading
import time

import nemlib

VALUE_BYTES = 1_000_000  # memcached's default -I of 1 MiB holds a 1,000,000-byte value with its item header
VALUE = bytes((i * 7 + 13) % 251 for i in range(VALUE_BYTES))
KEY = b"b"


def rss_kib(pid):
    return nemlib.proc_resources(pid)[0]


class Memcached:
    """memcached 1.6 on a free port, as the reference."""

    def __init__(self):
        self.port = nemlib.free_port()
        # memcached refuses to run as root unless told which user to be.
        user = ["-u", "root"] if os.geteuid() == 0 else []
        self.process = subprocess.Popen(["memcached", "-p", str(self.port), "-U", "0", "-l", "127.0.0.1", "-m", "64",
                                         *user], stdout=subprocess.DEVNULL)
        self.pid = self.process.pid
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.time() > deadline:
                    raise
                time.sleep(0.05)

    def terminate(self):
        self.process.terminate()
        return self.process.wait(30)


def text_reply_reader(header_fields, cas_at=None):
    """Checks `count` VALUE blocks for KEY and then END, reading from a file object."""

    def check(reader, count):
        cas = None
        for i in range(count):
            line = reader.readline(1024)
            parts = line.rstrip(b"\r\n").split(b" ")
            if parts[:4] != [b"VALUE", KEY, b"0", str(VALUE_BYTES).encode()] or len(parts) != header_fields:
                return f"value {i}: header {line[:80]!r}"
            if cas_at is not None:
                cas = cas or parts[cas_at]
                if parts[cas_at] != cas:
                    return f"value {i}: CAS {parts[cas_at]!r}, earlier {cas!r}"
            if reader.read(VALUE_BYTES + 2) != VALUE + b"\r\n":
                return f"value {i}: wrong bytes"
        end = reader.readline(1024)
        return None if end == b"END\r\n" else f"after the values: {end[:80]!r}"

    return check


def check_text_pipelined(reader, count):
    for i in range(count):
        line = reader.readline(1024)
        if line != b"VALUE b 0 %d\r\n" % VALUE_BYTES:
            return f"reply {i}: header {line[:80]!r}"
        if reader.read(VALUE_BYTES + 2) != VALUE + b"\r\n":
            return f"reply {i}: wrong bytes"
        end = reader.readline(1024)
        if end != b"END\r\n":
            return f"reply {i}: {end[:80]!r} where END was due"
    return None


def check_meta(reader, count):
    for i in range(count):
        line = reader.readline(1024)
        if line != b"VA %d\r\n" % VALUE_BYTES:
            return f"reply {i}: header {line[:80]!r}"
        if reader.read(VALUE_BYTES + 2) != VALUE + b"\r\n":
            return f"reply {i}: wrong bytes"
    end = reader.readline(1024)
    return None if end == b"MN\r\n" else f"after the values: {end[:80]!r}"


GETKQ, NOOP = 0x0D, 0x0A


def binary_request(opcode, key=b"", opaque=0):
    return struct.pack(">BBHBBHIIQ", 0x80, opcode, len(key), 0, 0, 0, len(key), opaque, 0) + key


def check_binary(reader, count):
    cas = None
    for i in range(count):
        header = reader.read(24)
        if len(header) != 24:
            return f"reply {i}: connection closed"
        magic, opcode, key_length, extras_length, _, status, body_length, opaque, item_cas = \
            struct.unpack(">BBHBBHIIQ", header)
        if (magic, opcode, key_length, extras_length, status, body_length, opaque) != \
                (0x81, GETKQ, len(KEY), 4, 0, 4 + len(KEY) + VALUE_BYTES, i):
            return f"reply {i}: header {header.hex()}"
        cas = cas or item_cas
        if item_cas != cas:
            return f"reply {i}: CAS {item_cas}, earlier {cas}"
        if reader.read(4 + len(KEY) + VALUE_BYTES) != b"\0\0\0\0" + KEY + VALUE:
            return f"reply {i}: wrong bytes"
    noop = reader.read(24)
    return None if noop[:2] == bytes([0x81, NOOP]) and len(noop) == 24 else f"after the values: {noop.hex()}"


def scenarios(keys):
    """name -> (request bytes, reply checker)."""
    many = b" ".join([KEY] * keys)
    return {
        "text-multiget": (b"get " + many + b"\r\n", text_reply_reader(4)),
        "text-gats-multi": (b"gats 0 " + many + b"\r\n", text_reply_reader(5, cas_at=4)),
        "text-pipelined": (b"get b\r\n" * keys, check_text_pipelined),
        "meta-pipelined": (b"mg b v\r\n" * keys + b"mn\r\n", check_meta),
        "binary-getkq": (b"".join(binary_request(GETKQ, KEY, i) for i in range(keys)) + binary_request(NOOP),
                         check_binary),
    }


def run_scenario(server, name, request, check, keys, hold, idle):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    # Sent from a thread: a server that stops reading this connection once its replies back up may not take all of a
    # long pipeline until the client reads.
    sender = threading.Thread(target=sock.sendall, args=(request,), daemon=True)
    sender.start()
    peak = idle
    deadline = time.time() + hold
    while time.time() < deadline:
        peak = max(peak, rss_kib(server.pid))
        time.sleep(0.02)
    reader = sock.makefile("rb")
    problem = check(reader, keys)
    sender.join(10)
    reader.close()
    sock.close()
    return peak, problem


def main():
    parser = nemlib.arguments(__doc__, modes="stream")
    parser.add_argument("--server", choices=["nemcache", "memcached"], default="nemcache")
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=3.0, help="seconds the client reads nothing")
    parser.add_argument("--bound-mb", type=int, default=32, help="allowed peak RSS above idle")
    args = parser.parse_args()

    if args.server == "memcached":
        runs = [("memcached", Memcached(), None)]
    else:
        runs = []
        for mode in nemlib.available_modes(args, "reply_backlog"):
            data_dir = nemlib.new_data_dir("backlog")
            runs.append((f"nemcache {mode}", nemlib.Server(data_dir, mode), data_dir))

    failed = False
    for label, server, data_dir in runs:
        problems = []
        try:
            client = nemlib.Client(server.port, timeout=60)
            if client.store(b"set", KEY, 0, VALUE) != b"STORED":
                raise SystemExit("could not store the value")
            if client.get_many([KEY]) != {KEY: (0, VALUE)}:
                raise SystemExit("could not read the value back")
            client.close()
            time.sleep(0.5)
            idle = rss_kib(server.pid)
            figures = []
            for name, (request, check) in scenarios(args.keys).items():
                peak, problem = run_scenario(server, name, request, check, args.keys, args.hold, idle)
                figures.append(f"{name}={(peak - idle) // 1024}")
                if problem:
                    problems.append(f"{name}: {problem}")
                if peak - idle > args.bound_mb * 1024:
                    problems.append(f"{name}: peak RSS {peak // 1024} MB, idle {idle // 1024} MB")
            after = rss_kib(server.pid)
            status = "ok" if not problems else "FAILED"
            print(f"reply_backlog {label}: {status} keys={args.keys} value-bytes={VALUE_BYTES} "
                  f"idle-rss-mb={idle // 1024} after-rss-mb={after // 1024} peak-above-idle-mb: {' '.join(figures)}",
                  flush=True)
        finally:
            server.terminate()
        if data_dir:
            nemlib.report(problems, data_dir)
        else:
            for problem in problems:
                print("  " + problem)
        failed |= bool(problems)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
