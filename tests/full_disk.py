#!/usr/bin/env python3
"""Full disk: the data directory on a small filesystem this script mounts itself (tmpfs with size=, and an ext4 image
mounted over a loop device), filled until writes fail.

For each filesystem, mode and sync:
1. A filler file takes most of the space. Writers set 1 KiB values until the disk is full.
2. The write that meets the full disk has its connection closed without a reply; every mutation after it gets
   "SERVER_ERROR persistence failed" and changes nothing. Reads keep working: every acknowledged key is read back.
3. The filler is removed. Within seconds the server repairs its log (a compaction) and accepts writes again.
4. The disk is filled once more, the server is SIGKILLed and restarted on the full disk: it must start and serve every
   acknowledged write exactly. Space comes back, a clean stop and start, and everything is still there.

Mounting needs root (CAP_SYS_ADMIN). Where the machine refuses, the filesystem is reported as skipped; the same path
is then covered by StreamDurabilityTests, which simulate ENOSPC inside the writer.

    tests/full_disk.py [--modes stream,bitcask] [--syncs interval,always] [--size-mb 4]
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import nemlib

FAILED = b"SERVER_ERROR persistence failed"


def mount(kind, directory, size_mb):
    """Mounts a small filesystem at directory; returns a cleanup function, or None when the machine refuses."""
    if kind == "tmpfs":
        command = ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", directory]
        image = None
    else:
        image = directory + ".img"
        subprocess.run(["truncate", "-s", f"{size_mb}M", image], check=True)
        if subprocess.run(["mkfs.ext4", "-q", "-F", image], capture_output=True).returncode != 0:
            os.remove(image)
            return None
        command = ["mount", "-o", "loop", image, directory]
    if subprocess.run(command, capture_output=True).returncode != 0:
        if image:
            os.remove(image)
        return None

    def unmount():
        subprocess.run(["umount", directory], check=True)
        if image:
            os.remove(image)
    return unmount


class Run:
    def __init__(self, server):
        self.server = server
        self.acknowledged = {}
        self.refused = self.closed = 0
        self.next = 0

    def fill(self):
        """Sets new keys until the disk is full: the first failing write's connection closes without a reply."""
        client = self.server.connect()
        try:
            while True:
                key = b"fill%d" % self.next
                value = (b"%s:" % key).ljust(1024, b"f")
                self.next += 1
                try:
                    reply = client.store(b"set", key, self.next, value)
                except ConnectionError:
                    self.closed += 1
                    return
                if reply == FAILED:
                    self.refused += 1
                    return
                assert reply == b"STORED", reply
                self.acknowledged[key] = (self.next, value)
        finally:
            client.close()

    def expect_refusals(self):
        """Every kind of mutation is refused while the log cannot be written, and changes nothing."""
        client = self.server.connect()
        key = next(iter(self.acknowledged))
        requests = [b"set new 0 0 1\r\nx\r\n", b"set %s 0 0 1\r\nx\r\n" % key, b"delete %s\r\n" % key,
                    b"append %s 0 0 1\r\nx\r\n" % key, b"incr %s 1\r\n" % key, b"touch %s 10\r\n" % key,
                    b"flush_all\r\n", b"set q 0 0 1 noreply\r\nx\r\n"]
        problems = []
        for request in requests:
            try:
                reply = client.call(request)
            except ConnectionError:
                client.close()
                client = self.server.connect()
                reply = b"(connection closed)"
            if reply != FAILED:
                problems.append(f"{request[:30]!r} got {reply!r}")
            self.refused += 1
        client.close()
        return problems

    def verify(self, moment, problems):
        """Reads every acknowledged key back; adds a problem when one is missing or different."""
        client = self.server.connect()
        keys = list(self.acknowledged)
        found = {}
        for start in range(0, len(keys), 100):
            found.update(client.get_many(keys[start:start + 100]))
        client.close()
        lost = sum(1 for key in keys if key not in found)
        wrong = sum(1 for key in keys if key in found and found[key] != self.acknowledged[key])
        if lost or wrong:
            problems.append(f"{moment}: {lost} lost, {wrong} wrong")

    def wait_for_writes(self, seconds=30):
        """True once a set is accepted again (the server repairs its log when space comes back)."""
        client = self.server.connect()
        deadline = time.time() + seconds
        try:
            while time.time() < deadline:
                reply = client.store(b"set", b"probe", 0, b"p")
                if reply == b"STORED":
                    return True
                time.sleep(0.2)
            return False
        finally:
            client.close()


def filler(directory, share):
    """A file taking this share of the free space."""
    free = os.statvfs(directory)
    path = os.path.join(directory, "filler")
    with open(path, "wb") as f:
        f.write(b"\0" * int(free.f_bavail * free.f_frsize * share))
    return path


def exercise(mount_point, mode, sync):
    data_dir = os.path.join(mount_point, "data")
    log_dir = tempfile.mkdtemp(prefix="nemcache-fulldisk-log-")
    # The server's output goes beside the mount, not on the full disk.
    data_link = os.path.join(log_dir, "data")
    os.mkdir(data_dir, 0o700)
    os.symlink(data_dir, data_link)
    env = {"NEMCACHE_SYNC": sync, "NEMCACHE_STREAM_COMPACT_BYTES": "1048576"}
    problems = []
    # Space that comes back must hold a compacted log (the live data), which is how the server repairs its log.
    filler_path = filler(mount_point, 0.6)

    server = nemlib.Server(data_link, mode, env)
    run = Run(server)
    try:
        run.fill()
        problems += run.expect_refusals()
        run.verify("while full", problems)
        os.remove(filler_path)
        if not run.wait_for_writes():
            problems.append("writes were still refused 30 s after space came back")
        filler_path = filler(mount_point, 0.5)
        run.fill()
        server.kill()
        server = nemlib.Server(data_link, mode, env)
        run.server = server
        run.verify("after SIGKILL and a restart on the full disk", problems)
        os.remove(filler_path)
        if not run.wait_for_writes():
            problems.append("writes were still refused 30 s after space came back (second time)")
        if server.terminate() != 0:
            problems.append("the clean stop did not exit 0")
        server = nemlib.Server(data_link, mode, env)
        run.server = server
        run.verify("after a clean restart", problems)
    except nemlib.StartFailed as failure:
        problems.append(str(failure))
    finally:
        server.kill()
    if problems:
        kept = tempfile.mkdtemp(prefix="nemcache-fulldisk-failed-")
        shutil.copytree(data_dir, os.path.join(kept, "data"))
        shutil.copy(data_link + ".log", kept)
        problems.append(f"data dir and log kept in {kept}")
    shutil.rmtree(log_dir, ignore_errors=True)
    return run, problems


def main():
    parser = nemlib.arguments(__doc__)
    parser.add_argument("--syncs", default="interval,always")
    parser.add_argument("--filesystems", default="tmpfs,ext4")
    parser.add_argument("--size-mb", type=int, default=4)
    args = parser.parse_args()
    failed = False
    for mode in nemlib.available_modes(args, "full-disk"):
        for kind in args.filesystems.split(","):
            for sync in args.syncs.split(","):
                mount_point = tempfile.mkdtemp(prefix=f"nemcache-fulldisk-{kind}-")
                unmount = mount(kind, mount_point, args.size_mb)
                if unmount is None:
                    print(f"full-disk {mode} {kind}: skipped, this machine refuses the mount (needs root); "
                          "StreamDurabilityTests cover the path with a simulated ENOSPC")
                    os.rmdir(mount_point)
                    break
                try:
                    run, problems = exercise(mount_point, mode, sync)
                finally:
                    unmount()
                    os.rmdir(mount_point)
                for problem in problems:
                    print("  " + problem)
                failed |= bool(problems)
                print(f"full-disk {mode} {kind} {args.size_mb}MB sync={sync}: {'FAIL' if problems else 'ok'} "
                      f"writes-acknowledged={len(run.acknowledged)} closed-on-first-failure={run.closed} "
                      f"refused-with-SERVER_ERROR={run.refused} problems={len(problems)}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
