#!/usr/bin/env python3
"""Fills a memcached-protocol server with COUNT keys (key0..keyN-1) of SIZE-byte values, pipelined, and checks replies.

    fill.py PORT COUNT SIZE [CONNECTIONS]

The sets are `noreply` in batches of 1000, so the fill runs as fast as the server reads. CONNECTIONS (default 4)
connections each fill one contiguous range of the keys in parallel, so that a server that reads each connection on
one thread can use every core: one connection fills about 130k sets/s here, which makes 10M keys a minute or more.
Each connection ends with `version` and waits for its reply, so every set has been read when the script returns.
"""
import socket
import sys
import threading

port, count, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
connections = int(sys.argv[4]) if len(sys.argv) > 4 else 4
value = b"v" * size
batch = 1000
failures = []


def fill(first, last):
    try:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            for start in range(first, last, batch):
                end = min(start + batch, last)
                sock.sendall(b"".join(b"set key%d 0 0 %d noreply\r\n%s\r\n" % (i, size, value) for i in range(start, end)))
            sock.sendall(b"version\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    raise OSError("connection closed")
                reply += chunk
            if not reply.startswith(b"VERSION"):
                raise OSError("unexpected reply %r" % reply[:200])
    except OSError as error:
        failures.append("keys %d..%d: %s" % (first, last - 1, error))


share = max(1, -(-count // connections))
threads = [threading.Thread(target=fill, args=(start, min(start + share, count)))
           for start in range(0, count, share)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
if failures:
    sys.exit("fill: " + "; ".join(failures))
