# SPDX-License-Identifier: MIT
"""make bench, section server: every server model under one fixed rpc client (server.csv).

Each cell is a fresh `iomodels serve --model M --service S` on CPU 1 and one `iomodels run
--workload rpc --connect` on CPU 0 (both unpinned on a one-CPU machine). Closed loop at each C
first (in a seeded random order); then, per model and service, an open-loop sweep (--rate) at
fractions of that model's best closed-loop rate, the knee, with latency from each request's
intended start. The server is watched from outside (/proc: CPU, RSS, threads) so every model is
measured alike, whatever it reports itself.
"""
import csv
import os
import random
import signal
import subprocess
import sys
import time

import serverctl

CLIENT = "epoll"
SERVICES = ("sleep:0", "cpu:10", "file:4K")
CONCURRENCY = (1, 64, 256, 1024)
RATE_FRACTIONS = (0.5, 0.8, 0.95, 1.1)
OPEN_CONCURRENCY = 1024
QUICK = dict(services=("sleep:0", "cpu:10"), concurrency=(1, 64), fractions=(0.8,),
             open_concurrency=64)
# A side whose CPU time is at least this share of the CPUs it may use limits the cell.
BUSY_SHARE = 0.9
FIELDS = ("server_model", "service", "client_model", "mode", "concurrency", "rate_target",
          "status", "reason", "req_per_s", "lat_p50_ns", "lat_p99_ns", "server_requests",
          "server_cpu_us_per_req", "server_cpu_share", "client_cpu_share", "bottleneck",
          "server_threads_idle", "server_threads_peak", "threads_per_conn",
          "server_rss_idle_bytes", "server_rss_peak_bytes", "rss_per_conn_bytes",
          "server_fds_peak", "server_bad_frames", "server_busy", "server_refused", "server_variant",
          "client_dir")


def plan(quick, models, services=None, concurrency=None):
    q = QUICK if quick else {}
    return dict(client=CLIENT, models=list(models),
                services=list(services or q.get("services", SERVICES)),
                concurrency=list(concurrency or q.get("concurrency", CONCURRENCY)),
                rate_fractions=list(q.get("fractions", RATE_FRACTIONS)),
                open_concurrency=q.get("open_concurrency", OPEN_CONCURRENCY),
                busy_share=BUSY_SHARE)


def cells(p, seed):
    out = [dict(model=m, service=s, concurrency=c, rate=None)
           for m in p["models"] for s in p["services"] for c in p["concurrency"]]
    random.Random(seed).shuffle(out)
    return out


def open_cells(p, rows, seed):
    """The open-loop sweep: fractions of each (model, service)'s best closed-loop rate."""
    best = {}
    for r in rows:
        if r["mode"] == "closed" and r["status"] == "ok" and r["req_per_s"]:
            key = (r["server_model"], r["service"])
            best[key] = max(best.get(key, 0.0), float(r["req_per_s"]))
    out = [dict(model=m, service=s, concurrency=p["open_concurrency"],
                rate=max(1, int(knee * f)))
           for (m, s), knee in sorted(best.items()) for f in p["rate_fractions"]]
    random.Random(seed + 1).shuffle(out)
    return out


def label(c, client):
    mode = f"rate={c['rate']}/s" if c["rate"] else "closed"
    return f"server: {c['model']} {c['service']} C={c['concurrency']} {mode} (client {client})"


def run_cell(binary, c, client, runtime, file, ncpu, celldir):
    """One cell: a fresh server, one client run against it, the server watched meanwhile."""
    row = dict(server_model=c["model"], service=c["service"], client_model=client,
               mode="open" if c["rate"] else "closed", concurrency=c["concurrency"],
               rate_target=c["rate"] or "", status="error", reason="",
               client_dir=celldir)
    args = ["--service", c["service"], "--idle-timeout-ms", "0"]
    if c["service"].startswith("file:"):
        args += ["--file", file]
    server = serverctl.Server(binary, c["model"], args, cpus=1 if ncpu > 1 else None)
    if server.error:
        row["status"] = "unavailable" if "unavailable" in server.error else "error"
        row["reason"] = server.error
        server.cleanup()
        return row
    cmd = [binary, "run", "--model", client, "--workload", "rpc", "--latency-us", "0",
           "--connect", server.addr, "--concurrency", str(c["concurrency"]),
           "--runtime", runtime, "--quiet", "--output", celldir]
    if ncpu > 1:
        cmd += ["--cpus", "0"]
    if c["rate"]:
        cmd += ["--rate", str(c["rate"])]
    # Its threads start after the port is out: let them, so idle is the model's own floor.
    time.sleep(0.1)
    idle = server.sample()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    peak = dict(idle)
    while proc.poll() is None:
        s = server.sample()
        for k in ("rss_bytes", "threads", "fds"):
            peak[k] = max(peak.get(k, 0), s.get(k, 0))
        if s:
            peak["cpu_s"] = s["cpu_s"]
        time.sleep(0.02)
    wall = time.monotonic() - t0
    err = proc.stderr.read()
    server.stop()
    server.cleanup()
    try:
        with open(os.path.join(celldir, "runs.csv"), newline="") as f:
            crow = list(csv.DictReader(f))[0]
    except (OSError, IndexError):
        row["reason"] = (err.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return row
    row["status"], row["reason"] = crow["status"], crow.get("reason", "")
    row["req_per_s"] = crow["ops_per_s"]
    row["lat_p50_ns"], row["lat_p99_ns"] = crow["lat_p50_ns"], crow["lat_p99_ns"]
    fill_server(row, server.stats, idle, peak, wall, c["concurrency"])
    try:
        client_cpu = (int(crow["cpu_user_ns"]) + int(crow["cpu_sys_ns"])) / int(crow["runtime_ns"])
        row["client_cpu_share"] = f"{client_cpu:.3f}"
    except (KeyError, ValueError, ZeroDivisionError):
        pass
    row["bottleneck"] = bottleneck(row)
    return row


def fill_server(row, stats, idle, peak, wall, conns):
    reqs = stats.get("requests", 0)
    cpu = peak.get("cpu_s", 0.0) - idle.get("cpu_s", 0.0)
    row["server_requests"] = reqs
    row["server_bad_frames"] = stats.get("bad_frames", "")
    row["server_busy"] = stats.get("busy", "")
    row["server_refused"] = stats.get("refused", "")
    row["server_variant"] = stats.get("variant", "")
    if reqs:
        row["server_cpu_us_per_req"] = f"{cpu / reqs * 1e6:.2f}"
    # The server has one CPU: the one it is pinned to, or the only one.
    row["server_cpu_share"] = f"{cpu / wall:.3f}"
    row["server_threads_idle"] = idle.get("threads", "")
    row["server_threads_peak"] = peak.get("threads", "")
    row["server_rss_idle_bytes"] = idle.get("rss_bytes", "")
    row["server_rss_peak_bytes"] = peak.get("rss_bytes", "")
    row["server_fds_peak"] = peak.get("fds", "")
    if idle and peak:
        row["threads_per_conn"] = f"{(peak['threads'] - idle['threads']) / conns:.3f}"
        row["rss_per_conn_bytes"] = f"{(peak['rss_bytes'] - idle['rss_bytes']) / conns:.0f}"


def bottleneck(row):
    """server | client | both | neither: which side's CPU was (nearly) full in the window."""
    try:
        srv = float(row["server_cpu_share"]) >= BUSY_SHARE
        cli = float(row["client_cpu_share"]) >= BUSY_SHARE
    except (KeyError, ValueError):
        return ""
    return {(True, False): "server", (False, True): "client",
            (True, True): "both"}.get((srv, cli), "neither")


def run(binary, p, runtime, file, ncpu, outdir, seed, first_cell, stop):
    """Every cell of the section into outdir/server.csv; stop() says interrupted."""
    path = os.path.join(outdir, "server.csv")
    new = not os.path.exists(path)
    rows, i = [], first_cell
    with open(path, "a", newline="") as out:
        w = csv.DictWriter(out, fieldnames=FIELDS, restval="")
        if new:
            w.writeheader()
        for phase in ("closed", "open"):
            todo = cells(p, seed) if phase == "closed" else open_cells(p, rows, seed)
            for n, c in enumerate(todo):
                if stop():
                    return rows
                print(f"[{phase} {n + 1}/{len(todo)}] {label(c, p['client'])}",
                      file=sys.stderr, flush=True)
                celldir = os.path.join(outdir, "cells", f"{i:04d}")
                i += 1
                row = run_cell(binary, c, p["client"], runtime, file, ncpu, celldir)
                row["client_dir"] = os.path.relpath(celldir, outdir)
                if row["status"] != "ok":
                    print(f"  {row['status']}: {row['reason']}", file=sys.stderr)
                w.writerow(row)
                out.flush()
                rows.append(row)
    return rows
