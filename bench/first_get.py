#!/usr/bin/env python3
"""Waits until `get KEY` answers on 127.0.0.1:PORT; prints the milliseconds since START_MS (epoch ms).

    first_get.py PORT START_MS [KEY] [--pid PID] [--miss-ok]

KEY defaults to key0, and the answer must carry its value; with --miss-ok any answer counts (END for a missing key),
for a server started on an empty directory. With --pid, also prints the CPU time (user + system, ms) that process
has used by the moment the get answered, from utime + stime in /proc/PID/stat (whole process, every thread, exited
ones too; resolution one clock tick, 10 ms), separated by a space.

One process polls every 5 ms, so the wait costs the restarting server next to no CPU (a shell loop forking per try
would compete with it on a small machine).
"""
import argparse
import os
import socket
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("started", type=int)
parser.add_argument("key", nargs="?", default="key0")
parser.add_argument("--pid", type=int)
parser.add_argument("--miss-ok", action="store_true")
args = parser.parse_args()
request = b"get " + args.key.encode() + b"\r\n"
answers = (b"VALUE", b"END\r\n") if args.miss_ok else (b"VALUE",)
ticks_per_second = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid):
    with open("/proc/%d/stat" % pid) as stat:
        # The command name (field 2) may hold spaces; the fields after its closing parenthesis start at field 3.
        fields = stat.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) * 1000 // ticks_per_second


def exited(pid):
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


deadline = time.time() + 600
while time.time() < deadline:
    if args.pid is not None and exited(args.pid):
        sys.exit("first_get: process %d exited before a get answered" % args.pid)
    try:
        with socket.create_connection(("127.0.0.1", args.port), timeout=5) as sock:
            sock.sendall(request)
            if sock.recv(5).startswith(answers):
                elapsed = int(time.time() * 1000) - args.started
                print(elapsed if args.pid is None else "%d %d" % (elapsed, cpu_ms(args.pid)))
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.005)
sys.exit("first_get: no get answered")
