#!/usr/bin/env python3
"""Protocol fuzzing: a seeded, bounded fuzzer, random and mutation-based, against the real server.

Each input goes on its own connection, then the connection is half-closed and read to its end, or dropped at once
(mid-command, sometimes with a reset). Inputs: malformed commands, huge and negative numbers, over-long keys and lines,
partial data blocks, binary garbage, thousands of pipelined commands, and mutations (flips, insertions, deletions,
splices, numbers swapped for extremes) of valid exchanges. flush_all is left out: it would rightly empty the
bystander's keys too (TextProtocolGoldenTests covers its bad arguments). Meanwhile a bystander connection sets and
reads its own keys and checks every reply, and the server's RSS is sampled.

Fails when the server dies, an input's connection neither answers nor closes within the timeout, a bystander reply
is wrong, or the peak RSS passes --rss-limit-mb. An input that kills the server is written to fuzz-crash-SEED-N.bin.

    tests/fuzz.py [--inputs 30000] [--seconds 300] [--seed 4] [--threads 4]
"""

import random
import socket
import struct
import sys
import threading
import time

import nemlib

VERBS = [b"get", b"gets", b"gat", b"gats", b"set", b"add", b"replace", b"append", b"prepend", b"cas", b"delete",
         b"incr", b"decr", b"touch", b"stats", b"version", b"verbosity", b"quit", b"shutdown", b"mg",
         b"ms", b"stats settings", b"stats reset", b"stats detail"]
EXTREMES = [b"-1", b"-9223372036854775808", b"9223372036854775807", b"18446744073709551615",
            b"18446744073709551616", b"99999999999999999999999", b"4294967296", b"2147483648", b"0", b"-0", b"+5",
            b"0x10", b"1e9", b"", b" ", b"\0", b"1048577", b"1073741824"]
VALID = [
    b"set k 0 0 5\r\nhello\r\n", b"get k\r\n", b"gets k k k\r\n", b"add a 1 0 1\r\nx\r\n",
    b"append k 0 0 3\r\nabc\r\n", b"prepend k 0 0 1\r\n_\r\n", b"cas k 0 0 1 1\r\ny\r\n", b"incr n 1\r\n",
    b"set n 0 0 2\r\n10\r\ndecr n 3\r\n", b"touch k 100\r\n", b"gat 100 k\r\n", b"delete k\r\n", b"delete k 0 noreply\r\n",
    b"stats\r\n", b"version\r\n", b"verbosity 1\r\n", b"set k 0 0 3 noreply\r\nabc\r\n",
]


def random_key(rng):
    length = rng.choice([1, 5, 250, 251, 300, 1000])
    return bytes(rng.choice(b"abcxyz\x10\x7f\xff-_") for _ in range(length))


def random_input(rng):
    kind = rng.randrange(9)
    if kind == 0:
        return rng.randbytes(rng.choice([1, 10, 100, 5000, 70000]))
    if kind == 1:
        tokens = [rng.choice(VERBS)] + [rng.choice(EXTREMES + [random_key(rng)]) for _ in range(rng.randrange(7))]
        return b" ".join(tokens) + rng.choice([b"\r\n", b"\n", b"\r", b""])
    if kind == 2:
        # A data block shorter, longer or otherwise than declared.
        declared = rng.choice([0, 1, 10, 1000, 1048576, 2000000])
        sent = max(0, declared + rng.choice([-5, -1, 0, 1, 7]))
        return b"set %s 0 0 %d\r\n" % (random_key(rng), declared) + b"v" * min(sent, 3000000) + rng.choice([b"\r\n", b"", b"\n"])
    if kind == 3:
        return b"set k 0 0 " + rng.choice(EXTREMES) + b"\r\n" + b"x" * rng.randrange(20) + b"\r\n"
    if kind == 4:
        return rng.choice([b"get ", b"set ", b"", b"gats 1 "]) + b"k" * rng.choice([16383, 16385, 20000, 1048577, 2000000])
    if kind == 5:
        # Thousands of pipelined commands in one send.
        return b"".join(rng.choice(VALID) for _ in range(rng.choice([1000, 5000])))
    if kind == 6:
        return b"get " + b" ".join(b"k%d" % i for i in range(rng.choice([10, 5000, 100000]))) + b"\r\n"
    if kind == 7:
        return b"incr n " + rng.choice(EXTREMES) + b"\r\ndecr n " + rng.choice(EXTREMES) + b"\r\n"
    return bytes(rng.choice(b" \r\n\0\t") for _ in range(rng.randrange(1, 200)))


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(7)
        position = rng.randrange(len(data) + 1)
        if kind == 0 and data:
            data[min(position, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 1:
            data[position:position] = bytes([rng.randrange(256)])
        elif kind == 2 and data:
            del data[position:position + rng.randint(1, 8)]
        elif kind == 3:
            data[position:position] = rng.choice(VALID)
        elif kind == 4:
            digits = [i for i, b in enumerate(data) if 48 <= b <= 57]
            if digits:
                at = rng.choice(digits)
                data[at:at + 1] = rng.choice(EXTREMES)
        elif kind == 5:
            data = data[:position]
        else:
            data[position:position] = data[position:position + rng.randint(1, 64)] * rng.randint(2, 50)
    return bytes(data)


def next_input(rng):
    if rng.random() < 0.5:
        return random_input(rng)
    return mutate(rng, b"".join(rng.choice(VALID) for _ in range(rng.randint(1, 5))))


def send_one(port, data, rng, timeout):
    """Sends one input. Returns None, or a description of a hang."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        drop = rng.random() < 0.2
        try:
            sock.sendall(data[:rng.randrange(len(data) + 1)] if drop else data)
        except OSError:
            return None  # the server closed it (an over-long line): that is an answer
        if drop:
            if rng.random() < 0.5:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return None
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass
        return None
    except socket.timeout:
        return f"no end within {timeout}s"
    except OSError:
        return None
    finally:
        sock.close()


class Bystander(threading.Thread):
    """A well-behaved client alongside the fuzzer: its own keys, every reply checked."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.checks = 0
        self.errors = []

    def run(self):
        rng = random.Random(99)
        client = nemlib.Client(self.port, timeout=10)
        try:
            while not self.stop.is_set():
                key = b"bystander%d" % rng.randrange(50)
                value = rng.randbytes(rng.randrange(1, 2000)).replace(b"\r\n", b"..")
                flags = rng.getrandbits(32)
                reply = client.store(b"set", key, flags, value)
                found = client.get_many([key])
                if reply != b"STORED" or found.get(key) != (flags, value):
                    self.errors.append(f"{key!r}: set replied {reply!r}, get gave {str(found.get(key))[:60]}")
                self.checks += 1
        except (OSError, ConnectionError, ValueError) as error:
            self.errors.append(f"bystander connection failed: {error!r}")
        finally:
            client.close()


def fuzz_mode(mode, args):
    """Runs the fuzz against a server in this persistence mode; prints its summary line and returns True if it failed."""
    data_dir = nemlib.new_data_dir("fuzz")
    server = nemlib.Server(data_dir, mode, args=["-m", "64"])
    bystander = Bystander(server.port)
    bystander.start()
    started = time.time()
    counter = iter(range(args.inputs))
    lock = threading.Lock()
    sent = [0]
    failures = []
    peak_rss = [0]

    def fuzz(thread):
        rng = random.Random(args.seed * 1000 + thread)
        while time.time() - started < args.seconds and not failures:
            with lock:
                if next(counter, None) is None:
                    return
            data = next_input(rng)
            hang = send_one(server.port, data, rng, args.timeout)
            with lock:
                sent[0] += 1
            if not server.alive():
                path = f"fuzz-crash-{args.seed}-{sent[0]}.bin"
                with open(path, "wb") as f:
                    f.write(data)
                failures.append(f"the server died; the last input is in {path}")
            elif hang:
                failures.append(f"{hang} for input {data[:80]!r}...({len(data)} bytes)")

    def sample():
        while any(t.is_alive() for t in threads) and server.alive():
            peak_rss[0] = max(peak_rss[0], nemlib.proc_resources(server.pid)[0])
            time.sleep(0.2)

    threads = [threading.Thread(target=fuzz, args=(t,), daemon=True) for t in range(args.threads)]
    for t in threads:
        t.start()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for t in threads:
        t.join()
    sampler.join()
    bystander.stop.set()
    bystander.join(15)
    alive = server.alive()
    if alive:
        # The server must still answer a fresh connection correctly after all that.
        client = server.connect()
        if not client.call(b"version\r\n").startswith(b"VERSION 1.6.18-nemcache-"):
            failures.append("a fresh connection got a wrong version reply")
        client.close()
        server.kill()
    if peak_rss[0] > args.rss_limit_mb * 1024:
        failures.append(f"peak RSS {peak_rss[0] // 1024} MB is over the limit of {args.rss_limit_mb} MB")
    failures += bystander.errors[:5]
    nemlib.report(failures, data_dir)
    print(f"fuzz {mode} seed={args.seed}: {'FAIL' if failures else 'ok'} inputs-sent={sent[0]} "
          f"bystander-checks={bystander.checks} bystander-errors={len(bystander.errors)} server-alive={alive} "
          f"peak-rss-mb={peak_rss[0] // 1024} seconds={round(time.time() - started)}", flush=True)
    return bool(failures)


def main():
    # The protocol is the same whatever the plugin; one mode is enough unless asked for more.
    parser = nemlib.arguments(__doc__, seed=4, modes="stream")
    parser.add_argument("--inputs", type=int, default=30000)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--rss-limit-mb", type=int, default=512)
    args = parser.parse_args()
    failed = [fuzz_mode(mode, args) for mode in nemlib.available_modes(args, "fuzz")]
    sys.exit(1 if any(failed) else 0)


if __name__ == "__main__":
    main()
