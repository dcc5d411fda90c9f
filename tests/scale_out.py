#!/usr/bin/env python3
"""Scale-out behind twemproxy: three cache instances behind nutcracker (ketama), keys loaded through the proxy, one
instance restarted (after SIGTERM, then after SIGKILL), and every key read back through the proxy.

Each engine gets the same run: Nemcache with each persistence plugin, and memcached 1.6.18 for comparison. For each
restart the script counts the restarted instance's keys (found by asking each instance directly which keys it holds)
that the proxy serves again once the instance is back, the other instances' keys, and what a client saw while the
instance was down.

    tests/scale_out.py [--modes stream,bitcask] [--keys 3000] [--base-port 0] [--no-memcached]

--base-port N puts everything on loopback ports N, N+1, ... (the instances, nutcracker, its stats port) instead of
free ports. Needs nutcracker and memcached (Debian: apt-get install -y nutcracker memcached). Prints one line per
engine and signal; exits 1 when a Nemcache instance came back without all its keys, or when nutcracker does not route
to every instance. memcached losing the restarted instance's keys is what this compares with, not a failure.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import nemlib

INSTANCES = 3
RESTARTED = 1
BATCH = 100


class Ports:
    """Fixed consecutive ports from --base-port, or free ones."""

    def __init__(self, base):
        self.next = base

    def take(self):
        if self.next == 0:
            return nemlib.free_port()
        self.next += 1
        return self.next - 1


class Memcached:
    """memcached itself on a loopback port; the same start, stop and kill as nemlib.Server."""

    def __init__(self, port):
        self.port = port
        # memcached refuses to run as root without -u.
        user = ["-u", "root"] if os.getuid() == 0 else []
        self.process = subprocess.Popen(["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", *user],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port, self.process)

    def terminate(self):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)


class Nemcache:
    """One Nemcache instance whose data directory outlives its restarts."""

    def __init__(self, port, mode, data_dir):
        self.port, self.mode, self.data_dir = port, mode, data_dir
        self.server = nemlib.Server(data_dir, mode, port=port)

    def terminate(self):
        return self.server.terminate()

    def kill(self):
        self.server.kill()


def wait_for_port(port, process, timeout=30):
    deadline = time.time() + timeout
    while True:
        try:
            nemlib.Client(port, timeout=2).close()
            return
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"nothing listens on port {port}")
            time.sleep(0.05)


def start_nutcracker(work, port, stats_port, backends):
    """nutcracker with one memcache pool over the backends: ketama on the servers' names, so that an instance keeps
    its slice of the ring even if it comes back on another address (md5 spreads sequential keys evenly; fnv1a_64 put them in runs of ten
    here), and no ejection, so that its keys are not sent to another instance while
    it is down (they would be cold there, and stale once it is back)."""
    config = os.path.join(work, "nutcracker.yml")
    servers = "".join(f"    - 127.0.0.1:{p}:1 cache{i}\n" for i, p in enumerate(backends))
    with open(config, "w") as out:
        out.write(f"""pool:
  listen: 127.0.0.1:{port}
  hash: md5
  distribution: ketama
  timeout: 2000
  auto_eject_hosts: false
  server_connections: 1
  servers:
{servers}""")
    process = subprocess.Popen(["nutcracker", "-c", config, "-s", str(stats_port), "-a", "127.0.0.1",
                                "-o", os.path.join(work, "nutcracker.log"), "-p", os.path.join(work, "nutcracker.pid")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process)
    return process


def batches(keys):
    for i in range(0, len(keys), BATCH):
        yield keys[i:i + BATCH]


def get_each(port, keys):
    """Reads every key through its own get, as a client would while an instance is down: (hits, misses, errors, the
    first error line)."""
    hits = misses = errors = 0
    first_error = None
    client = nemlib.Client(port)
    try:
        for key in keys:
            client.send(b"get %s\r\n" % key)
            line = client.line()
            if line.startswith(b"VALUE "):
                client.reader.read(int(line.split()[3]) + 2)
                client.line()  # END
                hits += 1
            elif line == b"END":
                misses += 1
            else:
                errors += 1
                first_error = first_error or line.decode(errors="replace")
    finally:
        client.close()
    return hits, misses, errors, first_error


def held(port, keys):
    """The keys, of those given, that an instance answers for when asked directly."""
    client = nemlib.Client(port)
    try:
        found = set()
        for batch in batches(keys):
            found.update(client.get_many(batch))
        return found
    finally:
        client.close()


def until_routed(proxy_port, key, timeout=15):
    """Waits until the proxy answers for a key of the restarted instance without an error: nutcracker reconnects to
    a server on the next request after it was refused."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if get_each(proxy_port, [key])[2] == 0:
            return True
        time.sleep(0.2)
    return False


def run_engine(name, start, args, ports, work):
    """Starts the instances and nutcracker, and runs the SIGTERM and SIGKILL restarts; returns the problems found."""
    backend_ports = [ports.take() for _ in range(INSTANCES)]
    proxy_port, stats_port = ports.take(), ports.take()
    instances = []
    proxy = None
    problems = []
    try:
        for i, port in enumerate(backend_ports):
            instances.append(start(i, port))
        proxy = start_nutcracker(work, proxy_port, stats_port, backend_ports)
        for signal_name in ("SIGTERM", "SIGKILL"):
            keys = [b"scale-%s-%d" % (signal_name.encode(), i) for i in range(args.keys)]
            client = nemlib.Client(proxy_port)
            for i, key in enumerate(keys):
                reply = client.store(b"set", key, i, b"value-%d" % i)
                if reply != b"STORED":
                    problems.append(f"{name}: set {key!r} through nutcracker answered {reply!r}")
                    break
            client.close()
            owners = [held(p, keys) for p in backend_ports]
            if any(len(o) == 0 for o in owners) or sum(len(o) for o in owners) != len(keys):
                problems.append(f"{name}: nutcracker spread {len(keys)} keys as {[len(o) for o in owners]}")
            mine = sorted(owners[RESTARTED])
            others = [k for k in keys if k not in owners[RESTARTED]]

            instance = instances[RESTARTED]
            if signal_name == "SIGTERM":
                instance.terminate()
            else:
                instance.kill()
            down = get_each(proxy_port, mine)
            others_while_down = get_each(proxy_port, others)
            instances[RESTARTED] = start(RESTARTED, backend_ports[RESTARTED])
            if not until_routed(proxy_port, mine[0]):
                problems.append(f"{name}: nutcracker did not route to the restarted instance again")
            back = get_each(proxy_port, mine)
            others_after = get_each(proxy_port, others)
            print(f"scale_out {name} {signal_name}: {len(keys)} keys through nutcracker, spread "
                  f"{'/'.join(str(len(o)) for o in owners)}, instance {RESTARTED} held {len(mine)}; "
                  f"while it was down: its keys {down[2]} errors ({down[3]}) {down[1]} misses {down[0]} hits, "
                  f"the others' {others_while_down[0]}/{len(others)} hits; "
                  f"after its restart: its keys {back[0]}/{len(mine)} hits, the others' {others_after[0]}/{len(others)} hits",
                  flush=True)
            if others_after[0] != len(others) or others_while_down[0] != len(others):
                problems.append(f"{name} {signal_name}: the other instances' keys were not all served")
            if name != "memcached" and back[0] != len(mine):
                problems.append(f"{name} {signal_name}: {len(mine) - back[0]} of the restarted instance's "
                                f"{len(mine)} keys did not come back")
    finally:
        if proxy is not None:
            proxy.send_signal(signal.SIGTERM)
            proxy.wait(30)
        for instance in instances:
            try:
                instance.kill()
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
    return problems


def main():
    parser = nemlib.arguments(__doc__)
    parser.add_argument("--keys", type=int, default=3000)
    parser.add_argument("--base-port", type=int, default=0)
    parser.add_argument("--no-memcached", action="store_true", help="skip the comparison with memcached")
    args = parser.parse_args()
    for tool in ("nutcracker", "memcached"):
        if shutil.which(tool) is None and not (tool == "memcached" and args.no_memcached):
            raise SystemExit(f"{tool} is not installed (Debian: apt-get install -y nutcracker memcached)")
    ports = Ports(args.base_port)
    problems = []
    for mode in nemlib.available_modes(args, "scale_out"):
        work = tempfile.mkdtemp(prefix=f"nemcache-scale-{mode}-")
        data_dirs = [os.path.join(work, f"cache{i}") for i in range(INSTANCES)]
        found = run_engine(f"nemcache-{mode}", lambda i, p: Nemcache(p, mode, data_dirs[i]), args, ports, work)
        problems += found
        nemlib.report(found, work)
    if not args.no_memcached:
        work = tempfile.mkdtemp(prefix="nemcache-scale-memcached-")
        found = run_engine("memcached", lambda i, p: Memcached(p), args, ports, work)
        problems += found
        nemlib.report(found, work)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
