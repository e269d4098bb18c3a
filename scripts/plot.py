#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Plot a results directory (runs.csv from `iomodels run` or `make bench`) and write report.md.

Usage: /usr/bin/python3 scripts/plot.py [RUN_DIR]   (default results/latest)
A run made with `--probes on --timeline RUN_DIR/timeline.csv` also gets the timeline picture.
Figures (PNG and SVG) go into RUN_DIR; only Debian's python3-matplotlib is needed.
"""
import csv
import math
import os
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_DIRS = {"threads": "threads", "epoll": "epoll", "uring": "uring",
              "kernel_free": "kernel_free"}
HOW = {  # the seed's checklist, per model: how the answer arrives
    "threads": ("sync", "none (the call returns it)", "block in the syscall"),
    "epoll": ("async by readiness", "fd / slot", "readiness (epoll_wait), then a call"),
    "uring": ("async by completion", "user_data = task id", "completion queue (CQE)"),
    "kernel_free": ("async in user space", "status-store key", "wake-up or status poll"),
}
REQUIRED = ["model", "workload", "concurrency", "status", "ops_per_s"]
# One colour per model in every figure, so a reader's eye carries from panel to panel.
MODEL_COLORS = {"threads": "tab:red", "epoll": "tab:blue", "uring": "tab:green",
                "kernel_free": "tab:purple"}


def die(msg):
    print(f"plot: {msg}", file=sys.stderr)
    sys.exit(1)


def num(v):
    try:
        return float(v) if v not in ("", None) else math.nan
    except ValueError:
        return math.nan


def load(run_dir):
    path = os.path.join(run_dir, "runs.csv")
    try:
        f = open(path, newline="")
    except OSError as e:
        die(f"{path}: {e.strerror}")
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            die(f"{path}:1: empty file")
        for col in REQUIRED:
            if col not in header:
                die(f"{path}:1: header lacks column '{col}'")
        rows = []
        for lineno, rec in enumerate(reader, start=2):
            if len(rec) != len(header):
                die(f"{path}:{reader.line_num}: {len(rec)} fields, header has {len(header)}"
                    " (truncated or malformed row)")
            row = dict(zip(header, rec))
            if row["status"] not in ("ok", "na", "unavailable", "error"):
                die(f"{path}:{reader.line_num}: unknown status '{row['status']}'")
            try:
                row["concurrency"] = int(float(row["concurrency"]))
            except ValueError:
                die(f"{path}:{reader.line_num}: concurrency '{row['concurrency']}' is not a number")
            row.setdefault("placement", "core" if row.get("cpus") not in ("all", "") else "box")
            row.setdefault("probed", "0")
            row.setdefault("bench_workload", row["workload"] + (
                "-direct" if row.get("direct") == "1" else ""))
            rows.append(row)
    return rows


def groups(rows, key_fn):
    out = {}
    for r in rows:
        out.setdefault(key_fn(r), []).append(r)
    return out


def timed_ok(rows):
    return [r for r in rows if r["status"] == "ok" and r.get("probed", "0") in ("0", "")]


def summary(vals):
    vals = [v for v in vals if not math.isnan(v)]
    if not vals:
        return None
    med = statistics.median(vals)
    cv = statistics.pstdev(vals) / med if len(vals) > 1 and med else 0.0
    return dict(med=med, lo=min(vals), hi=max(vals), n=len(vals), cv=cv)


def load_calibration(run_dir):
    cal = {}
    try:
        with open(os.path.join(run_dir, "calibrate.csv"), newline="") as f:
            for rec in csv.DictReader(f):
                cal[rec["name"]] = num(rec.get("value", rec.get("value_ns")))
    except (OSError, KeyError):
        pass
    return cal


def throughput_limits(cal, wl, pl, xs, rows):
    """Limit lines for a throughput panel: the ideal C/D for timers, the syscall floor."""
    out = []
    lat = [num(r.get("latency_us")) for r in rows if r["bench_workload"] == wl]
    lat = [v for v in lat if not math.isnan(v) and v > 0]
    if wl.startswith("timer") and lat:
        d_s = statistics.median(lat) / 1e6
        out.append(("ideal C/D", [x / d_s for x in xs]))
    if wl == "nop" and pl == "core":
        for key, label in (("syscall_ns", "1 / syscall (calibrate)"),
                           ("uring_nop_d128_ns", "1 / io_uring NOP at depth 128")):
            if cal.get(key, 0) > 0:
                out.append((label, [1e9 / cal[key]] * len(xs)))
    return out


def line_panels(plt, rows, metric, ylabel, title, fname, run_dir, logy=True, scale=1.0,
                limits=None):
    """One panel per (workload, placement), one line per model: median with min-max."""
    ok = timed_ok(rows)
    panels = sorted(groups(ok, lambda r: (r["bench_workload"], r["placement"])).items())
    if not panels:
        return None
    ncol = min(4, len(panels))
    nrow = (len(panels) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.3 * nrow), squeeze=False)
    for ax, ((wl, pl), prs) in zip(axes.flat, panels):
        for model, mrs in sorted(groups(prs, lambda r: r["model"]).items()):
            xs, med, lo, hi = [], [], [], []
            for c, crs in sorted(groups(mrs, lambda r: r["concurrency"]).items()):
                s = summary([num(r[metric]) * scale for r in crs])
                if s:
                    xs.append(c)
                    med.append(s["med"])
                    lo.append(s["med"] - s["lo"])
                    hi.append(s["hi"] - s["med"])
            if xs:
                ax.errorbar(xs, med, yerr=[lo, hi], marker="o", capsize=3, label=model,
                            color=MODEL_COLORS.get(model))
        if limits:
            cs = sorted({r["concurrency"] for r in prs})
            for label, ys in limits(wl, pl, cs, prs):
                ax.plot(cs, ys, linestyle="--", color="gray", linewidth=1, label=label)
        ax.set_xscale("log", base=2)
        if logy:
            ax.set_yscale("log")
        ax.set_title(f"{wl} — {'one CPU' if pl == 'core' else 'all CPUs'}", fontsize=9)
        ax.set_xlabel("concurrency C (tasks in flight)")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no model ran this cell", ha="center", va="center",
                    transform=ax.transAxes, fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(run_dir, f"{fname}.{ext}"), dpi=90)
    plt.close(fig)
    return fname


def time_breakdown(plt, rows, run_dir):
    """Where a task's time goes (probed rows): on-CPU, blocked, waiting for a CPU, stacked."""
    probed = [r for r in rows if r["status"] == "ok" and
              not math.isnan(num(r.get("blocked_ns_per_task")))]
    if not probed:
        return None
    cells = sorted(groups(probed, lambda r: (r["bench_workload"], r["placement"],
                                             r["concurrency"])).items())
    ncol = min(4, len(cells))
    nrow = (len(cells) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.2 * nrow), squeeze=False)
    for ax in list(axes.flat)[len(cells):]:
        ax.axis("off")
    for ax, ((wl, pl, c), crs) in zip(axes.flat, cells):
        models = sorted({r["model"] for r in crs})
        bottom = [0.0] * len(models)
        for key, label, color in (("oncpu_ns_per_task", "on CPU", "tab:green"),
                                  ("runq_ns_per_task", "waiting for a CPU", "tab:orange"),
                                  ("blocked_ns_per_task", "blocked", "tab:red")):
            vals = []
            for m in models:
                s_ = summary([num(r[key]) / 1e3 for r in crs if r["model"] == m])
                vals.append(s_["med"] if s_ else 0.0)
            ax.bar(models, vals, bottom=bottom, color=color, label=label)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_title(f"{wl}, C={c}, {'one CPU' if pl == 'core' else 'all CPUs'}", fontsize=8)
        ax.set_ylabel("µs per task (all threads)")
        ax.tick_params(axis="x", labelsize=7, rotation=30)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Where a task's time goes (eBPF, probed repeats)")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(run_dir, f"time_breakdown.{ext}"), dpi=90)
    plt.close(fig)
    return "time_breakdown"


def timeline(plt, run_dir, path, rows):
    """The seed's timeline: each thread's state over the recorded window, marks on top."""
    label = {f"row{i}": f"{r['model']} {r['workload']} C={r['concurrency']}"
             for i, r in enumerate(rows)}
    try:
        with open(path, newline="") as f:
            iv = list(csv.DictReader(f))
    except OSError:
        return None
    marks = []
    try:
        with open(path + "-marks.csv", newline="") as f:
            marks = list(csv.DictReader(f))
    except OSError:
        pass
    cells = sorted({r["cell"] for r in iv})
    if not cells:
        return None
    colors = {"oncpu": "tab:green", "runnable": "tab:orange", "blocked": "tab:red",
              "blocked+iowait": "tab:purple"}
    fig, axes = plt.subplots(len(cells), 1, figsize=(10, 1.2 + 0.9 * len(cells) * 3),
                             squeeze=False)
    for ax, cell in zip(axes.flat, cells):
        tids = []
        for r in iv:
            if r["cell"] == cell and r["tid"] not in tids:
                tids.append(r["tid"])
        tids = tids[:12]
        names = {}
        for r in iv:
            if r["cell"] != cell or r["tid"] not in tids:
                continue
            y = tids.index(r["tid"])
            names[y] = r["comm"]
            t0, t1 = num(r["start_ns"]) / 1e6, num(r["end_ns"]) / 1e6
            ax.barh(y, t1 - t0, left=t0, height=0.6, color=colors.get(r["state"], "gray"))
        for kind, mk in (("submit", "|"), ("complete", "x")):
            xs = [num(m["t_ns"]) / 1e6 for m in marks if m["cell"] == cell and
                  m["event"] == kind and m["tid"] in tids]
            ys = [tids.index(m["tid"]) for m in marks if m["cell"] == cell and
                  m["event"] == kind and m["tid"] in tids]
            if xs:
                ax.scatter(xs, ys, marker=mk, s=12, color="black", label=kind)
        ax.set_yticks(range(len(tids)))
        ax.set_yticklabels([names.get(i, "") for i in range(len(tids))], fontsize=6)
        ax.set_title(label.get(cell, cell), fontsize=8)
        ax.set_xlabel("ms after the window's start")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
    axes.flat[0].legend(handles, list(colors), fontsize=6, loc="upper right")
    fig.suptitle("Per-thread timeline: green on CPU, red blocked, orange waiting; "
                 "| submit, x complete")
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(run_dir, f"timeline.{ext}"), dpi=90)
    plt.close(fig)
    return "timeline"


def loc(model):
    """Lines of C in the model's folder, counted, not guessed (blank lines and comments too)."""
    d = os.path.join(ROOT, MODEL_DIRS.get(model, model))
    if not os.path.isdir(d):
        return None
    n = 0
    for name in os.listdir(d):
        if name.endswith((".c", ".h")):
            with open(os.path.join(d, name)) as f:
                n += sum(1 for line in f if line.strip())
    return n


def fmt(v, unit=""):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}{unit}"
    return f"{v:.3g}{unit}"


def report(rows, run_dir, figures):
    ok = timed_ok(rows)
    models = sorted({r["model"] for r in rows})
    lines = ["# iomodels report", ""]
    lines.append(f"Run directory: `{run_dir}`. Medians over repeats (min–max in brackets); "
                 "closed-loop latency is measured from submit. Two models whose min–max ranges "
                 "overlap are marked *within noise* rather than ranked.")
    lines.append("")
    # The seed's comparison table.
    lines += ["## The seed's comparison table, measured", "",
              "| | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    lines.append("| execution model | " + " | ".join(HOW.get(m, ("?",))[0] for m in models) + " |")
    lines.append("| task id | " + " | ".join(HOW.get(m, ("", "?"))[1] for m in models) + " |")
    lines.append("| how the result arrives | " +
                 " | ".join(HOW.get(m, ("", "", "?"))[2] for m in models) + " |")
    lines.append("| lines of code (model folder) | " +
                 " | ".join(str(loc(m) or "–") for m in models) + " |")
    cmax = max((r["concurrency"] for r in ok), default=0)
    for metric, label in (("threads", "threads at C=%d" % cmax),
                          ("rss_bytes", "RSS at C=%d" % cmax),
                          ("kmem_bytes", "kernel memory at C=%d" % cmax)):
        cells = []
        for m in models:
            s = summary([num(r[metric]) for r in ok if r["model"] == m and
                         r["concurrency"] == cmax and r["bench_workload"] == "timer"] or
                        [num(r[metric]) for r in ok if r["model"] == m and
                         r["concurrency"] == cmax])
            cells.append(fmt(s["med"], "B" if "bytes" in metric else "") if s else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    # Throughput and CPU per cell.
    lines += ["## Throughput and CPU per task", ""]
    for (wl, pl), prs in sorted(groups(ok, lambda r: (r["bench_workload"], r["placement"])).items()):
        lines += [f"### {wl}, {'one CPU' if pl == 'core' else 'all CPUs'}", "",
                  "| C | " + " | ".join(f"{m} ops/s" for m in models) + " | " +
                  " | ".join(f"{m} CPU/task" for m in models) + " | note |",
                  "|---|" + "---|" * (2 * len(models) + 1)]
        for c, crs in sorted(groups(prs, lambda r: r["concurrency"]).items()):
            ops, cpu, sums = [], [], {}
            for m in models:
                s = summary([num(r["ops_per_s"]) for r in crs if r["model"] == m])
                sc = summary([num(r["cpu_ns_per_task"]) for r in crs if r["model"] == m])
                sums[m] = s
                ops.append(f"{fmt(s['med'])} [{fmt(s['lo'])}–{fmt(s['hi'])}]" if s else "–")
                cpu.append(fmt(sc["med"] / 1e3, "µs") if sc else "–")
            notes = []
            present = [m for m in models if sums[m]]
            for i, a in enumerate(present):
                for b in present[i + 1:]:
                    sa, sb = sums[a], sums[b]
                    if sa["n"] > 1 and sb["n"] > 1 and sa["lo"] <= sb["hi"] and sb["lo"] <= sa["hi"]:
                        notes.append(f"{a}≈{b} within noise")
            flagged = sorted({f for r in crs for f in r.get("flags", "").split(";") if f})
            if flagged:
                notes.append("flags: " + ",".join(flagged))
            lines.append(f"| {c} | " + " | ".join(ops) + " | " + " | ".join(cpu) + " | " +
                         "; ".join(notes) + " |")
        lines.append("")
    bad = [r for r in rows if r["status"] != "ok"]
    if bad:
        lines += ["## Cells that did not run", "", "| model | workload | C | status | reason |",
                  "|---|---|---|---|---|"]
        seen = set()
        for r in bad:
            key = (r["model"], r["bench_workload"], r["status"], r["reason"])
            if key in seen:
                continue
            seen.add(key)
            lines.append(f"| {r['model']} | {r['bench_workload']} | {r['concurrency']} | "
                         f"{r['status']} | {r['reason']} |")
        lines.append("")
    lines += ["## Figures", ""] + [f"![{f}]({f}.png)" for f in figures if f] + [""]
    with open(os.path.join(run_dir, "report.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    run_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("results", "latest")
    if len(sys.argv) > 2:
        die("usage: plot.py [RUN_DIR]")
    rows = load(run_dir)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        die("matplotlib missing: run with /usr/bin/python3 (Debian's python3-matplotlib)")
    cal = load_calibration(run_dir)
    figs = [
        line_panels(plt, rows, "ops_per_s", "tasks/s", "Throughput vs concurrency",
                    "throughput", run_dir,
                    limits=lambda wl, pl, xs, prs: throughput_limits(cal, wl, pl, xs, prs)),
        line_panels(plt, rows, "cpu_ns_per_task", "CPU µs per task",
                    "CPU per task (user+sys of the process)", "cpu_per_task", run_dir, scale=1e-3),
        line_panels(plt, rows, "ops_per_cpu_s", "tasks per CPU-second",
                    "Efficiency: tasks per CPU-second", "ops_per_cpu_s", run_dir),
        line_panels(plt, rows, "lat_p50_ns", "p50 latency µs (closed loop)",
                    "Latency p50 (closed loop: from submit)", "latency_p50", run_dir, scale=1e-3),
        line_panels(plt, rows, "lat_p99_ns", "p99 latency µs (closed loop)",
                    "Latency p99 (closed loop: from submit)", "latency_p99", run_dir, scale=1e-3),
        line_panels(plt, rows, "threads", "threads", "Threads used", "threads", run_dir),
        line_panels(plt, rows, "rss_bytes", "RSS MiB", "Resident memory", "rss", run_dir,
                    scale=1 / 2**20),
        line_panels(plt, rows, "kmem_bytes", "kernel memory MiB (stack+slab+pagetables)",
                    "Kernel memory RSS does not show", "kmem", run_dir, logy=False,
                    scale=1 / 2**20),
    ]
    figs.append(time_breakdown(plt, rows, run_dir))
    tl = os.path.join(run_dir, "timeline.csv")
    if os.path.exists(tl):
        figs.append(timeline(plt, run_dir, tl, rows))
    if any(not math.isnan(num(r.get("blocked_ns_per_task"))) for r in rows):
        figs.append(line_panels(plt, rows, "blocked_ns_per_task", "blocked µs per task",
                                "Time blocked per task (probes)", "blocked", run_dir,
                                scale=1e-3))
    report(rows, run_dir, figs)
    made = [f for f in figs if f]
    print(f"plot: {len(made)} figures and report.md in {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
