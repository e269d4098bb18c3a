#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Server CPU per request, binary A against binary B, as interleaved pairs (A B B A).

    scripts/server_cost.py --a OLD --b NEW [--model epoll] [--pairs 4] [--runtime 2s]
                           [--concurrency 256] [--client BIN] [--serve-arg=--threads=1 ...]

Each run is what `make bench`'s server section does for one closed-loop cell
(scripts/bench_server.py): a fresh `serve --model M --service sleep:0 --idle-timeout-ms 0`
on CPU 1, one `run --model epoll --workload rpc --latency-us 0 --concurrency C --cpus 0`
against it; the server's user+sys (/proc) from just before the client starts to just after it
ends, over the requests it counted (--stats-file). Prints one line per run and, per pair, the
ratios B/A of CPU per request and of requests/s: min/median/max. On a shared machine only the
ratios within a pair mean much; say so next to them.
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serverctl  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def one_run(binary, client, model, args, conc, runtime):
    """(requests/s the client saw, server CPU us per request) for one fresh server."""
    server = serverctl.Server(binary, model, ["--service", "sleep:0", "--idle-timeout-ms", "0",
                                              *args], cpus=1)
    if server.error:
        sys.exit(f"server_cost: {binary}: {server.error}")
    out = tempfile.mkdtemp(prefix="iom-cost-")
    time.sleep(0.1)  # the model's threads up: idle is its own floor
    idle = server.sample()
    subprocess.run([client, "run", "--model", "epoll", "--workload", "rpc", "--latency-us", "0",
                    "--connect", server.addr, "--concurrency", str(conc), "--runtime", runtime,
                    "--quiet", "--output", out, "--cpus", "0"], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    busy = server.sample()
    server.stop()
    server.cleanup()
    with open(os.path.join(out, "runs.csv"), newline="") as f:
        row = list(csv.DictReader(f))[0]
    subprocess.run(["rm", "-rf", out], check=False)
    reqs = server.stats.get("requests", 0)
    cpu_us = (busy["cpu_s"] - idle["cpu_s"]) * 1e6 / reqs if reqs else float("nan")
    return float(row["ops_per_s"]), cpu_us


def spread(xs):
    return f"{min(xs):.3f} / {statistics.median(xs):.3f} / {max(xs):.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="the binary before")
    ap.add_argument("--b", required=True, help="the binary after")
    ap.add_argument("--client", default=os.path.join(ROOT, "build", "iomodels"),
                    help="the one client binary both sides are loaded by (build/iomodels)")
    ap.add_argument("--model", default="epoll")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--runtime", default="2s")
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--serve-arg", action="append", default=[],
                    help="one more serve argument (both binaries), e.g. --serve-arg=--threads=1")
    opt = ap.parse_args()
    args = [a for s in opt.serve_arg for a in s.split("=", 1)]
    cpu_ratio, rate_ratio = [], []
    for p in range(opt.pairs):
        res = {}
        # A B then B A: a drift in the machine's load falls on both sides alike.
        for side in ("a", "b") if p % 2 == 0 else ("b", "a"):
            res[side] = one_run(getattr(opt, side), opt.client, opt.model, args,
                                opt.concurrency, opt.runtime)
            print(f"pair {p} {side}: {res[side][0]:.0f} req/s, {res[side][1]:.2f} us/req",
                  flush=True)
        cpu_ratio.append(res["b"][1] / res["a"][1])
        rate_ratio.append(res["b"][0] / res["a"][0])
    print(f"{opt.model} C={opt.concurrency}: B/A server CPU per request min/median/max "
          f"{spread(cpu_ratio)}; B/A requests/s {spread(rate_ratio)}")


if __name__ == "__main__":
    main()
