#!/usr/bin/env python3
"""Fills a memcached-protocol server with COUNT keys (key0..keyN-1) of SIZE-byte values, pipelined, and checks replies.

    fill.py PORT COUNT SIZE
"""
import socket
import sys

port, count, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
value = b"v" * size
batch = 1000
with socket.create_connection(("127.0.0.1", port)) as sock:
    for start in range(0, count, batch):
        end = min(start + batch, count)
        sock.sendall(b"".join(b"set key%d 0 0 %d noreply\r\n%s\r\n" % (i, size, value) for i in range(start, end)))
    sock.sendall(b"version\r\n")
    reply = b""
    while not reply.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            sys.exit("fill: connection closed")
        reply += chunk
    if not reply.startswith(b"VERSION"):
        sys.exit("fill: unexpected reply %r" % reply[:200])
