#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What the async API's polling costs (docs/async-api.md), against one `iomodels serve`.

Starts `BIN serve --model M` on loopback, then, one task at a time: SUBMIT (service
--service-us), STATUS every --poll-us until COMPLETED; then the same tasks with one WAIT each.
Prints requests per task and the store's "us from done to this answer" (aux) for both, the
server's CPU per request (an echo vs a STATUS, back to back), and its RSS growth per pending
task (--pending tasks of 60 s held open) beside its status store's own exact count of bytes
per pending task at its peak (--stats-file). Loopback only, every
loop bounded (--tasks, and at most 100000 polls a task).
"""
import argparse
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

MAGIC, VERSION = 0x524d4f49, 1
SUBMIT, STATUS, WAIT = 1, 2, 3
COMPLETED = 3
BUSY = 1 << 1
HDR = struct.Struct("<IHHQII")
BODY = struct.Struct("<QQ")
MAX_POLLS = 100000


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(120)
        self.next_id = 1

    def echo(self):
        """A sync echo of the same length as an async request."""
        rid = self.next_id
        self.next_id += 1
        frame = HDR.pack(MAGIC, VERSION, 0, rid, 0, BODY.size) + bytes(BODY.size)
        self.sock.sendall(frame)
        got = b""
        while len(got) < len(frame):
            chunk = self.sock.recv(len(frame) - len(got))
            if not chunk:
                raise SystemExit("async_poll: the server closed the connection")
            got += chunk

    def ask(self, kind, task=0, service_us=0):
        """One async request; (state, busy, task, aux) of its reply."""
        rid = self.next_id
        self.next_id += 1
        self.sock.sendall(HDR.pack(MAGIC, VERSION, kind << 8, rid, service_us, BODY.size) +
                          BODY.pack(task, 0))
        want, got = HDR.size + BODY.size, b""
        while len(got) < want:
            chunk = self.sock.recv(want - len(got))
            if not chunk:
                raise SystemExit("async_poll: the server closed the connection")
            got += chunk
        _, _, flags, reply_id, _, _ = HDR.unpack_from(got)
        task, aux = BODY.unpack_from(got, HDR.size)
        if reply_id != rid:
            raise SystemExit("async_poll: reply %d for request %d" % (reply_id, rid))
        return (flags >> 12) & 7, bool(flags & BUSY), task, aux


def spread(xs):
    return "min %g, median %g, max %g" % (min(xs), statistics.median(xs), max(xs))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def polled(c, tasks, service_us, poll_us):
    polls, learned = [], []
    for _ in range(tasks):
        state, busy, task, _ = c.ask(SUBMIT, service_us=service_us)
        if busy:
            raise SystemExit("async_poll: SUBMIT answered BUSY")
        for n in range(1, MAX_POLLS + 1):
            time.sleep(poll_us / 1e6)
            state, _, _, aux = c.ask(STATUS, task)
            if state == COMPLETED:
                polls.append(n)
                learned.append(aux)
                break
        else:
            raise SystemExit("async_poll: task %d not done after %d polls" % (task, MAX_POLLS))
    return polls, learned


def waited(c, tasks, service_us):
    learned = []
    for _ in range(tasks):
        _, _, task, _ = c.ask(SUBMIT, service_us=service_us)
        state, _, _, aux = c.ask(WAIT, task)
        if state != COMPLETED:
            raise SystemExit("async_poll: WAIT answered state %d" % state)
        learned.append(aux)
    return learned


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(pid, c, kind, n):
    """Server CPU us per request over n back-to-back requests of one kind (0: an echo)."""
    _, _, task, _ = c.ask(SUBMIT, service_us=60000000)
    t0 = cpu_s(pid)
    for _ in range(n):
        if kind:
            c.ask(kind, task)
        else:
            c.echo()
    return (cpu_s(pid) - t0) * 1e6 / n


def pending_memory(pid, port, pending):
    """RSS growth per pending task: --pending tasks of 60 s, on 16 connections."""
    before = rss_kb(pid)
    conns = [Client(port) for _ in range(16)]
    for i in range(pending):
        if conns[i % 16].ask(SUBMIT, service_us=60000000)[1]:
            raise SystemExit("async_poll: BUSY at %d pending tasks" % i)
    after = rss_kb(pid)
    for c in conns:
        c.sock.close()
    return (after - before) * 1024 / pending


def store_bytes_per_pending(stats_file):
    """The store's bytes at its peak of pending tasks over that peak (serve's exit counts)."""
    counts = {}
    with open(stats_file) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            counts[k] = v
    pending = int(counts.get("async_pending_max", 0))
    return int(counts["async_bytes_at_max"]) / pending if pending else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/iomodels")
    ap.add_argument("--model", default="epoll")
    ap.add_argument("--tasks", type=int, default=200)
    ap.add_argument("--service-us", type=int, default=5000)
    ap.add_argument("--poll-us", type=int, default=1000)
    ap.add_argument("--pending", type=int, default=4000)
    ap.add_argument("--status-lag-us", type=int, default=0, help="the store's lag (serve's)")
    ap.add_argument("--cpu-requests", type=int, default=20000,
                    help="back-to-back requests for the server CPU figures")
    args = ap.parse_args()
    if not (1 <= args.tasks <= 100000 and 0 <= args.service_us <= 60000000 and
            1 <= args.poll_us <= 1000000 and 16 <= args.pending <= 4096 and
            0 <= args.status_lag_us <= 60000000 and 100 <= args.cpu_requests <= 1000000):
        print("async_poll: --tasks 1..100000, --service-us 0..60000000, --poll-us 1..1000000, "
              "--pending 16..4096, --status-lag-us 0..60000000, --cpu-requests 100..1000000",
              file=sys.stderr)
        return 2
    if not os.access(args.bin, os.X_OK):
        print("async_poll: %s is not an executable (make it first)" % args.bin, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        port_file = os.path.join(tmp, "port")
        stats_file = os.path.join(tmp, "stats")
        srv = subprocess.Popen([args.bin, "serve", "--model", args.model, "--quiet",
                                "--port-file", port_file, "--stats-file", stats_file,
                                "--status-lag-us", str(args.status_lag_us)])
        try:
            for _ in range(1000):
                if os.path.exists(port_file) or srv.poll() is not None:
                    break
                time.sleep(0.01)
            if srv.poll() is not None:
                print("async_poll: serve --model %s exited" % args.model, file=sys.stderr)
                return 2
            port = int(open(port_file).read())
            c = Client(port)
            polls, learned = polled(c, args.tasks, args.service_us, args.poll_us)
            wait_learned = waited(c, args.tasks, args.service_us)
            cpu = [cpu_per_request(srv.pid, c, k, args.cpu_requests) for k in (0, STATUS)]
            per_task = pending_memory(srv.pid, port, args.pending)
        finally:
            srv.terminate()
            srv.wait()
        store = store_bytes_per_pending(stats_file)
    print("model %s, %d tasks of %d us, STATUS every %d us, store lag %d us:" %
          (args.model, args.tasks, args.service_us, args.poll_us, args.status_lag_us))
    print("  polled: STATUS requests per task %s; done to learned (us) %s" %
          (spread(polls), spread(learned)))
    print("  WAIT: 2 requests per task; done to learned (us) %s" % spread(wait_learned))
    print("  server CPU per request, %d back to back: echo %.1f us, STATUS of a pending task "
          "%.1f us" % (args.cpu_requests, cpu[0], cpu[1]))
    print("  server RSS per pending task: %.0f bytes (%d pending); its status store's: %.0f "
          "bytes" % (per_task, args.pending, store))
    return 0


if __name__ == "__main__":
    sys.exit(main())
