# SPDX-License-Identifier: MIT
"""make plot, the bench's server section (server.csv): one figure and the "server models" report.

The knee of a model and service: the highest offered rate of its open-loop sweep that it kept up
with (achieved >= KEPT_UP of offered); without a sweep, its best closed-loop rate and C.
"""
import csv
import math
import os

KEPT_UP = 0.95


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def load(run_dir):
    path = os.path.join(run_dir, "server.csv")
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return None


def ok(rows, mode):
    return [r for r in rows if r["status"] == "ok" and r["mode"] == mode]


def pooled(rows, key):
    """(model, service, C or rate) -> the median of a column over repeats."""
    acc = {}
    for r in rows:
        x = num(r["concurrency"] if r["mode"] == "closed" else r["rate_target"])
        v = num(r.get(key))
        if not math.isnan(v):
            acc.setdefault((r["server_model"], r["service"], x), []).append(v)
    return {k: sorted(v)[len(v) // 2] for k, v in acc.items()}


def knees(rows):
    """(model, service) -> (rate, how): the knee as the module docstring defines it."""
    out = {}
    for r in ok(rows, "open"):
        key = (r["server_model"], r["service"])
        offered, got = num(r["rate_target"]), num(r["req_per_s"])
        if got >= KEPT_UP * offered and offered > out.get(key, (0, ""))[0]:
            out[key] = (offered, "kept up")
    for r in ok(rows, "closed"):
        key = (r["server_model"], r["service"])
        got = num(r["req_per_s"])
        if key not in out or (out[key][1] != "kept up" and got > out[key][0]):
            out[key] = (got, f"closed loop, C={r['concurrency']}")
    return out


def figure(plt, rows, run_dir):
    services = sorted({r["service"] for r in rows})
    models = sorted({r["server_model"] for r in rows})
    if not services or not (ok(rows, "closed") or ok(rows, "open")):
        return None
    panels = (("closed", "req_per_s", 1, "requests/s (closed loop)"),
              ("closed", "server_cpu_us_per_req", 1, "server CPU µs per request"),
              ("open", "lat_p99_ns", 1e-3, "p99 µs from intended start"))
    fig, axes = plt.subplots(len(panels), len(services), squeeze=False,
                             figsize=(4.2 * len(services), 3.2 * len(panels)))
    for col, svc in enumerate(services):
        for row, (mode, key, scale, label) in enumerate(panels):
            ax = axes[row][col]
            med = pooled(ok(rows, mode), key)
            for m in models:
                # Log axes: a cell that answered nothing in its window is in the table, not here.
                pts = sorted((x, v * scale) for (mm, s, x), v in med.items()
                             if mm == m and s == svc and v > 0)
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=m)
            ax.set_xscale("log")
            if any(v > 0 for v in med.values()):
                ax.set_yscale("log")
            ax.set_xlabel("connections C" if mode == "closed" else "offered requests/s")
            ax.set_ylabel(label)
            ax.set_title(f"service {svc}", fontsize=9)
            ax.grid(alpha=0.3)
            if row == 0 and col == 0:
                ax.legend(fontsize=7)
    fig.suptitle(f"Server models under one {rows[0]['client_model']} rpc client "
                 "(server on its own CPU)")
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(run_dir, f"server.{ext}"), dpi=90)
    plt.close(fig)
    return "server"


def fmt(v, scale=1.0, digits=0):
    v = num(v)
    return "" if math.isnan(v) else f"{v * scale:,.{digits}f}"


def report_lines(rows):
    lines = ["## Server models", "",
             f"Bench section server (server.csv): every `iomodels serve --model` under one "
             f"{rows[0]['client_model']} rpc client, the server on CPU 1 and the client on "
             "CPU 0, a fresh server per cell; server CPU, threads and RSS from its /proc; "
             "per connection = (peak - idle before the client) / C. bottleneck: the side whose "
             "CPU time was at least 90% of its CPU in the window (neither: both waited, e.g. "
             "on each other or on a loaded machine).", "",
             "| model | service | C | req/s | server µs CPU/req | p50 µs | p99 µs | "
             "threads/conn | RSS KiB/conn | server CPU | client CPU | bottleneck |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(ok(rows, "closed"), key=lambda r: (r["server_model"], r["service"],
                                                       int(r["concurrency"]))):
        lines.append(f"| {r['server_model']} | {r['service']} | {r['concurrency']} | "
                     f"{fmt(r['req_per_s'])} | {fmt(r['server_cpu_us_per_req'], 1, 1)} | "
                     f"{fmt(r['lat_p50_ns'], 1e-3, 1)} | {fmt(r['lat_p99_ns'], 1e-3, 1)} | "
                     f"{fmt(r['threads_per_conn'], 1, 2)} | "
                     f"{fmt(r['rss_per_conn_bytes'], 1 / 1024, 1)} | "
                     f"{fmt(r['server_cpu_share'], 100)}% | {fmt(r['client_cpu_share'], 100)}% | "
                     f"{r['bottleneck']} |")
    lines += ["", "**Knee** (the highest offered rate the server kept up with, achieved ≥ "
              f"{KEPT_UP:.0%} of offered; else its best closed-loop rate):", "",
              "| model | service | knee req/s | from |", "|---|---|---|---|"]
    for (m, s), (rate, how) in sorted(knees(rows).items()):
        lines.append(f"| {m} | {s} | {fmt(rate)} | {how} |")
    busy = [r for r in rows if r["status"] == "ok" and r["bottleneck"] in ("server", "both")]
    lines.append("")
    if busy:
        lines.append("**The server is the bottleneck** (its CPU ≥ 90% busy) of these client "
                     "cells, which then measure the server more than the client: " +
                     ", ".join(f"{r['server_model']} {r['service']} C={r['concurrency']}"
                               f"{' rate=' + r['rate_target'] if r['rate_target'] else ''}"
                               for r in busy) + ".")
    else:
        lines.append("No server was the bottleneck of a client cell (no server CPU ≥ 90% busy).")
    bad = [r for r in rows if r["status"] != "ok"]
    seen = set()
    for r in bad:
        if (r["server_model"], r["reason"]) not in seen:
            seen.add((r["server_model"], r["reason"]))
            lines.append(f"\n{r['server_model']}: {r['status']}: {r['reason']}")
    return lines + [""]
