#!/usr/bin/env python3
"""Load soak: many concurrent connections run mixed operations for a bounded time while the server's RSS, threads and
open descriptors are sampled every second; connections past -c must be refused as memcached refuses them.

1. Start the server with -c CONNECTIONS and open that many connections; each answers a first command.
2. Open --extra more: each must read exactly "ERROR Too many open connections" and then be closed by the server.
3. Every connection runs random sets, gets, multi-gets, appends, incrs and deletes for --seconds, and now and then
   closes and reconnects (churn, the usual source of leaks). Every reply must be a well-formed memcached reply.
4. Close everything and check: RSS and threads in the last quarter of the soak are no higher than in its first
   quarter (after warm-up) beyond a small margin, and the descriptors fall back to where they started.

    tests/soak.py [--connections 1000] [--seconds 120] [--extra 50] [--seed 5]
"""

import asyncio
import random
import statistics
import sys
import time

import nemlib

REFUSED = b"ERROR Too many open connections\r\n"


class Soak:
    def __init__(self, port, args):
        self.port, self.args = port, args
        self.operations = self.reconnects = self.refused_reconnects = 0
        self.errors = []
        self.deadline = 0.0

    async def connect(self):
        return await asyncio.open_connection("127.0.0.1", self.port, limit=4 * 1024 * 1024)

    async def first_command(self, reader, writer):
        writer.write(b"version\r\n")
        await writer.drain()
        return await reader.readline()

    async def run_connection(self, index, reader, writer):
        rng = random.Random(self.args.seed * 100000 + index)
        while time.time() < self.deadline:
            try:
                for _ in range(rng.randrange(50, 400)):
                    if time.time() >= self.deadline:
                        break
                    await self.operation(rng, reader, writer)
                    self.operations += 1
            except (OSError, ConnectionError, asyncio.IncompleteReadError) as error:
                self.error(f"connection {index}: {error!r}")
                return
            writer.close()
            reader, writer = await self.reconnect()
            self.reconnects += 1
        writer.close()

    async def reconnect(self):
        """The server frees a closed connection's slot a moment after the close, so a connection that comes straight
        back may find every slot taken, as with memcached: it is refused cleanly and retries."""
        while True:
            reader, writer = await self.connect()
            try:
                reply = await self.first_command(reader, writer)
            except ConnectionError:
                reply = REFUSED
            if reply != REFUSED:
                return reader, writer
            self.refused_reconnects += 1
            writer.close()
            await asyncio.sleep(0.05)

    async def operation(self, rng, reader, writer):
        key = b"soak%d" % rng.randrange(20000)
        op = rng.random()
        if op < 0.3:
            value = rng.randbytes(rng.randrange(1, 1500)).replace(b"\n", b"_")
            await self.expect(reader, writer, b"set %s 0 0 %d\r\n%s\r\n" % (key, len(value), value), {b"STORED"})
        elif op < 0.6:
            writer.write(b"get %s\r\n" % key)
            await self.read_values(reader)
        elif op < 0.7:
            writer.write(b"gets " + b" ".join(b"soak%d" % rng.randrange(20000) for _ in range(20)) + b"\r\n")
            await self.read_values(reader)
        elif op < 0.8:
            await self.expect(reader, writer, b"append %s 0 0 2\r\n+a\r\n" % key, {b"STORED", b"NOT_STORED"})
        elif op < 0.9:
            writer.write(b"incr %s 3\r\n" % key)
            line = await reader.readuntil(b"\r\n")
            if not (line[:-2].isdigit() or line in (b"NOT_FOUND\r\n",
                    b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")):
                self.error(f"incr: {line!r}")
        else:
            await self.expect(reader, writer, b"delete %s\r\n" % key, {b"DELETED", b"NOT_FOUND"})

    async def expect(self, reader, writer, request, replies):
        writer.write(request)
        line = (await reader.readuntil(b"\r\n"))[:-2]
        if line not in replies:
            self.error(f"{request[:40]!r}: {line!r}")

    async def read_values(self, reader):
        while (line := await reader.readuntil(b"\r\n")) != b"END\r\n":
            parts = line.split()
            if parts[0] != b"VALUE" or len(parts) not in (4, 5):
                self.error(f"get: {line!r}")
                return
            await reader.readexactly(int(parts[3]) + 2)

    def error(self, text):
        if len(self.errors) < 20:
            self.errors.append(text)


async def refused(port):
    """True when the server answers a connection over the limit with memcached's line and closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        data = await asyncio.wait_for(reader.read(), 10)
        return data == REFUSED
    finally:
        writer.close()


async def soak(server, args, samples):
    state = Soak(server.port, args)
    connections = []
    for i in range(args.connections):
        reader, writer = await state.connect()
        if not (await state.first_command(reader, writer)).startswith(b"VERSION 1.6.18-nemcache-"):
            state.error(f"connection {i} was not served")
        connections.append((reader, writer))
    refusals = sum(await asyncio.gather(*(refused(server.port) for _ in range(args.extra))))

    async def sample():
        while time.time() < state.deadline:
            samples.append(nemlib.proc_resources(server.pid))
            await asyncio.sleep(1)

    state.deadline = time.time() + args.seconds
    await asyncio.gather(sample(), *(state.run_connection(i, r, w) for i, (r, w) in enumerate(connections)))
    return state, refusals


def soak_mode(mode, args):
    """Runs the soak against a server in this persistence mode; prints its summary line and returns True if it failed."""
    data_dir = nemlib.new_data_dir("soak")
    server = nemlib.Server(data_dir, mode, args=["-c", str(args.connections), "-m", "64"])
    baseline = nemlib.proc_resources(server.pid)
    samples = []
    state, refusals = asyncio.run(soak(server, args, samples))
    time.sleep(2)
    after = nemlib.proc_resources(server.pid)
    server.terminate()

    problems = list(state.errors)
    if refusals != args.extra:
        problems.append(f"{args.extra - refusals} of {args.extra} connections past -c were not refused cleanly")
    steady = samples[len(samples) // 5:]
    quarter = max(1, len(steady) // 4)
    first, last = steady[:quarter], steady[-quarter:]
    rss_first, rss_last = (statistics.median(s[0] for s in part) for part in (first, last))
    threads_first, threads_last = (max(s[1] for s in part) for part in (first, last))
    if rss_last > rss_first * 1.15 + 16 * 1024:
        problems.append(f"RSS grew from {rss_first // 1024} MB to {rss_last // 1024} MB")
    if threads_last > threads_first + 8:
        problems.append(f"threads grew from {threads_first} to {threads_last}")
    if after[2] > baseline[2] + 5:
        problems.append(f"descriptors: {baseline[2]} before, {after[2]} after every connection closed")
    curve = " ".join(str(s[0] // 1024) for s in samples[::max(1, len(samples) // 12)])
    print(f"  RSS MB over the soak: {curve}")
    nemlib.report(problems, data_dir)
    peak = max(s[0] for s in samples)
    print(f"soak {mode} connections={args.connections}: {'FAIL' if problems else 'ok'} seconds={args.seconds:g} "
          f"operations={state.operations} reconnects={state.reconnects} (refused and retried {state.refused_reconnects}) "
          f"refused-past-limit={refusals}/{args.extra} "
          f"peak-rss-mb={peak // 1024} rss-mb first/last quarter={rss_first // 1024}/{rss_last // 1024} "
          f"threads first/last={threads_first}/{threads_last} "
          f"fds before/peak/after={baseline[2]}/{max(s[2] for s in samples)}/{after[2]}", flush=True)
    return bool(problems)


def main():
    # The connection handling is the same whatever the plugin; one mode is enough unless asked for more.
    parser = nemlib.arguments(__doc__, seed=5, modes="stream")
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--extra", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    failed = [soak_mode(mode, args) for mode in nemlib.available_modes(args, "soak")]
    sys.exit(1 if any(failed) else 0)


if __name__ == "__main__":
    main()
