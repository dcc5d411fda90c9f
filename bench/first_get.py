#!/usr/bin/env python3
"""Waits until `get KEY` answers with a value on 127.0.0.1:PORT; prints the milliseconds since START_MS (epoch ms).

    first_get.py PORT START_MS [KEY]

One process polls every 5 ms, so the wait costs the restarting server next to no CPU (a shell loop forking per try
would compete with it on a small machine).
"""
import socket
import sys
import time

port, started = int(sys.argv[1]), int(sys.argv[2])
key = (sys.argv[3] if len(sys.argv) > 3 else "key0").encode()
deadline = time.time() + 600
while time.time() < deadline:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"get " + key + b"\r\n")
            if sock.recv(5) == b"VALUE":
                print(int(time.time() * 1000) - started)
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.005)
sys.exit("first_get: no get answered")
