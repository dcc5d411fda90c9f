"""What the reliability scripts in tests/ share: building the server, starting it in a persistence mode, a small
memcached text-protocol client, and reading a process's resources from /proc. Python 3 standard library only."""

import argparse
import os
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DLL = os.path.join(ROOT, "Nemcache.Service", "bin", "Release", "net10.0", "Nemcache.Service.dll")

# A persistence mode is one entry here: the environment that selects it, and the settings that make it compact or
# merge often so that a short run crosses those paths many times.
MODES = {
    "stream": {"NEMCACHE_USE_BITCASK": "0", "NEMCACHE_STREAM_COMPACT_BYTES": "262144"},
    "bitcask": {"NEMCACHE_USE_BITCASK": "1", "NEMCACHE_BITCASK_MAX_FILE_BYTES": "262144",
                "NEMCACHE_BITCASK_MERGE_FRAGMENTATION": "0.3", "NEMCACHE_BITCASK_MERGE_MIN_DEAD_BYTES": "65536"},
}

# A plugin that this build does not contain refuses to start with this line; scripts report the mode as skipped.
NOT_IN_BUILD = "is not part of this build"


def build():
    subprocess.run(["dotnet", "build", os.path.join(ROOT, "Nemcache.Service"), "-c", "Release", "-v", "quiet",
                    "-nologo"], check=True, stdout=subprocess.DEVNULL)


def arguments(doc, seed=None, modes="stream,bitcask"):
    """The options every script takes (--seed for those that draw random numbers); the script adds its own."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default=modes, help=f"comma-separated, of: {', '.join(MODES)}")
    if seed is not None:
        parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--no-build", action="store_true", help="use the Release build as it is")
    return parser


def available_modes(args, script):
    """Builds the server unless told not to, then yields each chosen mode this build has; the others are reported
    as skipped."""
    modes = [m for m in args.modes.split(",") if m]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise SystemExit(f"unknown mode(s) {unknown}; known: {', '.join(MODES)}")
    if not args.no_build:
        build()
    for mode in modes:
        if mode_available(mode):
            yield mode
        else:
            print(f"{script} {mode}: skipped, not in this build", flush=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def new_data_dir(tag):
    return tempfile.mkdtemp(prefix=f"nemcache-{tag}-")


class StartFailed(Exception):
    def __init__(self, code, output):
        super().__init__(f"the server exited with {code} at startup: {output.strip()[-2000:]}")
        self.code = code
        self.output = output


class Server:
    """The real server process on a free port; its stdout and stderr go to DATA_DIR.log."""

    def __init__(self, data_dir, mode, env=None, args=(), port=None, timeout=60):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.log_path = data_dir.rstrip("/") + ".log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("NEMCACHE_")}
        environment.update(MODES[mode])
        environment.update(env or {})
        self._log = open(self.log_path, "ab")
        self._log_start = self._log.tell()
        self.process = subprocess.Popen(
            ["dotnet", DLL, "-p", str(self.port), "--data-dir", data_dir, *args],
            env=environment, stdout=self._log, stderr=subprocess.STDOUT)
        self.pid = self.process.pid
        deadline = time.time() + timeout
        while " listening: " not in self.output():
            code = self.process.poll()
            if code is not None:
                self._log.close()
                raise StartFailed(code, self.output())
            if time.time() > deadline:
                self.kill()
                raise StartFailed(None, "did not listen within %ss\n" % timeout + self.output())
            time.sleep(0.02)

    def output(self):
        """What this run of the server printed."""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_start)
            return log.read().decode("utf-8", "replace")

    def alive(self):
        return self.process.poll() is None

    def kill(self):
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._log.close()

    def terminate(self, timeout=30):
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._log.close()
        return code

    def connect(self, timeout=10):
        return Client(self.port, timeout)


def report(problems, data_dir):
    """Prints a run's problems; keeps its data directory and server log when there are any, else removes them."""
    for problem in problems:
        print("  " + problem)
    if problems:
        print(f"  data dir kept: {data_dir} (server log {data_dir}.log)")
    else:
        subprocess.run(["rm", "-rf", data_dir, data_dir + ".log"])


def mode_available(mode):
    """False when this build refuses the mode at startup (it does not contain that plugin)."""
    data_dir = new_data_dir("probe")
    try:
        Server(data_dir, mode).terminate()
        return True
    except StartFailed as failure:
        if NOT_IN_BUILD in failure.output:
            return False
        raise
    finally:
        subprocess.run(["rm", "-rf", data_dir, data_dir + ".log"])


class Client:
    """A blocking text-protocol client. Values are bytes; a reply line is returned without its CRLF."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def close(self):
        self.reader.close()
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        line = self.reader.readline(64 * 1024)
        if not line.endswith(b"\r\n"):
            raise ConnectionError(f"connection closed mid-reply: {line!r}")
        return line[:-2]

    def call(self, request):
        self.send(request)
        return self.line()

    def store(self, verb, key, flags, value):
        return self.call(b"%s %s %d 0 %d\r\n%s\r\n" % (verb, key, flags, len(value), value))

    def get_many(self, keys):
        """{key: (flags, value)} for the keys present, in one multi-key get."""
        self.send(b"get " + b" ".join(keys) + b"\r\n")
        found = {}
        while True:
            line = self.line()
            if line == b"END":
                return found
            parts = line.split(b" ")
            if len(parts) != 4 or parts[0] != b"VALUE":
                raise ValueError(f"unexpected line in a get reply: {line!r}")
            length = int(parts[3])
            data = self.reader.read(length + 2)
            if len(data) != length + 2 or not data.endswith(b"\r\n"):
                raise ConnectionError("connection closed mid-value")
            found[parts[1]] = (int(parts[2]), data[:-2])

    def stats(self):
        self.send(b"stats\r\n")
        stats = {}
        while (line := self.line()) != b"END":
            _, name, value = line.decode().split(" ", 2)
            stats[name] = value
        return stats


def proc_resources(pid):
    """(resident set in KiB, threads, open file descriptors) of a live process, from /proc."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, threads, len(os.listdir(f"/proc/{pid}/fd"))
