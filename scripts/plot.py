#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Plot a results directory (runs.csv from `iomodels run` or `make bench`): figures,
report.md (the verdict first) and report.html (one self-contained interactive page).

Usage: /usr/bin/python3 scripts/plot.py [RUN_DIR]   (default results/latest)
A run made with `--probes on --timeline RUN_DIR/timeline.csv` also gets the timeline picture
and, in report.html, the seed's lanes replayed. A scenario's directory (`iomodels scenario
NAME`) gets that scenario's figure from its own CSV (two-generals.csv, herd.csv,
retry-storm.csv, stale-status.csv, durability.csv, faults.csv). Figures (PNG and SVG) go into
RUN_DIR; only Debian's python3-matplotlib is needed.

Statistics: medians over repeats with min-max and the coefficient of variation; latency
percentiles from the repeats' raw histograms pooled (hist.csv), shown only when at least
10/(1-p) samples back them, with the sample count beside them. A ratio between two models is
a ratio of medians with a 95% bootstrap interval (scripts/verdict.py), "within noise" when the
interval spans 1, printed with the pair's caveats (foreign CPU widens and marks it). Rows of
one model in different configurations (variant, options) are separate series, never repeats.
"""
import csv
import io
import json
import math
import os
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot_server  # noqa: E402  (scripts/plot_server.py: the server section)
import verdict  # noqa: E402  (scripts/verdict.py: the verdict and its statistics)
import html_report  # noqa: E402  (scripts/html_report.py: report.html)

# The sync reference of the crossover: the model whose caps say sync (models.csv); set by load.
SYNC_MODEL = None
REQUIRED = ["model", "workload", "concurrency", "status", "ops_per_s"]
STATUSES = ("ok", "na", "unavailable", "error")
# One colour per model in every figure, so a reader's eye carries from panel to panel: the
# models in the binary's order (models.csv), a variant of a model in its colour, dashed.
PALETTE = ("tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown",
           "tab:pink", "tab:olive", "tab:cyan")
MODEL_ORDER = []
BASE = {}  # series (model, or "model (variant)") -> model


def base_of(series):
    return BASE.get(series, series)


def color_of(series):
    m = base_of(series)
    if m not in MODEL_ORDER:
        MODEL_ORDER.append(m)
    return PALETTE[MODEL_ORDER.index(m) % len(PALETTE)]


def model_order(series):
    color_of(series)
    return (MODEL_ORDER.index(base_of(series)), series)


def style_of(series):
    return "-" if base_of(series) == series else "--"


def how(caps, m, key):
    """The checklist's text for a model: models.csv's column (what the model says of itself:
    `iomodels list --caps --csv`), "?" in a run made before the column existed."""
    return caps.get(m, {}).get(key) or caps.get(base_of(m), {}).get(key) or "?"
CROSS_BASE = {"latency_us": 1000.0, "concurrency": 16.0, "cpu_work_us": 0.0}
AXIS_NAMES = {"latency_us": ("task latency D", "µs"), "concurrency": ("concurrency C", ""),
              "cpu_work_us": ("CPU work per task W", "µs")}
PCTS = (("p50", 0.5), ("p99", 0.99), ("p999", 0.999))
# With a single repeat there is no min-max range: closer than this is called within noise.
ONE_REPEAT_NOISE = 0.10
# Kernel memory comes from /proc/meminfo, system-wide: a figure this small is noise.
KMEM_NOISE_BYTES = 512 * 1024


def die(msg):
    print(f"plot: {msg}", file=sys.stderr)
    sys.exit(1)


def num(v):
    try:
        return float(v) if v not in ("", None) else math.nan
    except ValueError:
        return math.nan


def isnum(v):
    return isinstance(v, float) and not math.isnan(v)


def read_csv(path, required, optional=False, check=None):
    """Rows of a CSV as dicts; a short, truncated or malformed file is one line naming it."""
    try:
        f = open(path, newline="")
    except OSError as e:
        if optional:
            return None
        die(f"{path}: {e.strerror}")
    rows = []
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            die(f"{path}:1: empty file")
        except csv.Error as e:
            die(f"{path}:1: {e}")
        for col in required:
            if col not in header:
                die(f"{path}:1: header lacks column '{col}'")
        try:
            for rec in reader:
                if len(rec) != len(header):
                    die(f"{path}:{reader.line_num}: {len(rec)} fields, header has {len(header)}"
                        " (truncated or malformed row)")
                row = dict(zip(header, rec))
                if check:
                    err = check(row)
                    if err:
                        die(f"{path}:{reader.line_num}: {err}")
                rows.append(row)
        except csv.Error as e:
            die(f"{path}:{reader.line_num}: {e}")
    return rows


def check_run_row(row):
    if row["status"] not in STATUSES:
        return f"unknown status '{row['status']}'"
    try:
        row["concurrency"] = int(float(row["concurrency"]))
    except ValueError:
        return f"concurrency '{row['concurrency']}' is not a number"
    if row["status"] == "ok" and math.isnan(num(row["ops_per_s"])):
        return f"ops_per_s '{row['ops_per_s']}' is not a number"
    return None


def load(run_dir):
    rows = read_csv(os.path.join(run_dir, "runs.csv"), REQUIRED, check=check_run_row)
    for i, row in enumerate(rows):
        row["_index"] = i
        row.setdefault("placement", "core" if row.get("cpus") not in ("all", "") else "box")
        row.setdefault("probed", "0")
        row.setdefault("bench_workload", row["workload"] + (
            "-direct" if row.get("direct") == "1" else ""))
        # A plain `iomodels run`: closed-loop rows are the matrix, open-loop rows a rate sweep.
        row.setdefault("section", "rate" if row.get("mode") == "open" else "matrix")
    # Rows of one model in different variants are different series, never pooled as repeats:
    # from here on "model" is the series, "base_model" the model itself.
    verdict.label_series(rows)
    for row in rows:
        row["base_model"] = row["model"]
        row["model"] = row["series"]
        BASE[row["series"]] = row["base_model"]
    return rows


def load_fio(run_dir):
    return read_csv(os.path.join(run_dir, "fio.csv"),
                    ["bench_workload", "placement", "concurrency", "engine", "model", "ops_per_s",
                     "status"], optional=True, check=check_run_row) or []


def binary_models():
    """`iomodels list --caps --csv` of the built binary: for a run directory without models.csv."""
    import subprocess
    binary = os.environ.get("IOM_BIN") or os.path.join(ROOT, "build", "iomodels")
    try:
        out = subprocess.run([binary, "list", "--caps", "--csv"], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [r for r in csv.DictReader(io.StringIO(out)) if r.get("model") and r.get("caps")]


def load_models(run_dir, rows=()):
    """{model or series: {caps, desc, and any other column of models.csv}}; without
    models.csv, the built binary's `list --caps --csv` (marked as such in the report)."""
    global SYNC_MODEL
    mrows = read_csv(os.path.join(run_dir, "models.csv"), ["model", "caps"], optional=True)
    source = "models.csv"
    if mrows is None:
        mrows, source = binary_models(), "the built binary's `iomodels list --caps --csv`"
    out = {}
    for r in mrows:
        out[r["model"]] = dict(r, caps=set(r["caps"].split(",")), desc=r.get("desc", ""))
        if r["model"] not in MODEL_ORDER:
            MODEL_ORDER.append(r["model"])
    for series, model in BASE.items():
        if model in out:
            out.setdefault(series, out[model])
    present = {r["base_model"] for r in rows}
    sync = [m for m in MODEL_ORDER if m in present and "sync" in out.get(m, {}).get("caps", ())]
    SYNC_MODEL = sync[0] if sync else None
    out["_source"] = source
    return out


def load_bench(run_dir):
    try:
        with open(os.path.join(run_dir, "bench.json")) as f:
            return json.load(f)
    except OSError:
        return {}
    except ValueError as e:
        die(f"{os.path.join(run_dir, 'bench.json')}: not JSON ({e})")


def load_calibration(run_dir):
    rows = read_csv(os.path.join(run_dir, "calibrate.csv"), ["name"], optional=True) or []
    return {r["name"]: num(r.get("value", r.get("value_ns"))) for r in rows}


class Hists:
    """Raw latency histograms (hist.csv), per row, read on demand and pooled over repeats."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.files = {}

    def _file(self, path):
        if path not in self.files:
            by_row = {}
            try:
                f = open(path, newline="")
            except OSError:
                self.files[path] = None
                return None
            with f:
                reader = csv.reader(f)
                header = next(reader, None)
                if header != ["row", "lo_ns", "width_ns", "count"]:
                    die(f"{path}:1: want header row,lo_ns,width_ns,count")
                for rec in reader:
                    try:
                        r, lo, width, count = (int(x) for x in rec)
                    except ValueError:
                        die(f"{path}:{reader.line_num}: want four whole numbers")
                    by_row.setdefault(r, []).append((lo, width, count))
            self.files[path] = by_row
        return self.files[path]

    def of(self, row):
        if row.get("cell_dir"):
            h = self._file(os.path.join(self.run_dir, row["cell_dir"], "hist.csv"))
            return h.get(0) if h else None
        h = self._file(os.path.join(self.run_dir, "hist.csv"))
        return h.get(row["_index"]) if h else None

    def pooled(self, rows):
        """{'n': samples, 'p50': ns or None, ...} over the rows' histograms (as iomodels
        computes them: the bucket midpoint at rank ceil(q n)); None without histograms."""
        buckets = {}
        for r in rows:
            h = self.of(r)
            if h is None:
                return None
            for lo, width, count in h:
                buckets[(lo, width)] = buckets.get((lo, width), 0) + count
        n = sum(buckets.values())
        out = {"n": n}
        order = sorted(buckets.items())
        for name, q in PCTS:
            out[name] = None
            if n < 10.0 / (1.0 - q) - 1e-9:
                continue
            rank = max(1, math.ceil(q * n - 1e-9))
            seen = 0
            for (lo, width), count in order:
                seen += count
                if seen >= rank:
                    out[name] = lo + (width - 1) // 2
                    break
        return out


def groups(rows, key_fn):
    out = {}
    for r in rows:
        out.setdefault(key_fn(r), []).append(r)
    return out


def timed_ok(rows, section="matrix"):
    return [r for r in rows if r["status"] == "ok" and r.get("probed", "0") in ("0", "")
            and r["section"] == section]


def probed_ok(rows, section="matrix"):
    """The probed repeat of each cell: the only rows with the probes' columns."""
    return [r for r in rows if r["status"] == "ok" and r.get("probed", "0") not in ("0", "")
            and r["section"] == section]


def summary(vals):
    vals = [v for v in vals if not math.isnan(v)]
    if not vals:
        return None
    med = statistics.median(vals)
    cv = statistics.pstdev(vals) / med if len(vals) > 1 and med else 0.0
    return dict(med=med, lo=min(vals), hi=max(vals), n=len(vals), cv=cv)


def overlap(sa, sb):
    return sa["lo"] <= sb["hi"] and sb["lo"] <= sa["hi"]


def flags_of(r):
    return {f for f in r.get("flags", "").split(";") if f}


def like_for_like_cache(ra, rb):
    """The pair's page-cache state, when it differs (cold vs warm): a caveat of the ratio."""
    ca = [num(r.get("cache_before")) for r in ra if isnum(num(r.get("cache_before")))]
    cb = [num(r.get("cache_before")) for r in rb if isnum(num(r.get("cache_before")))]
    if ca and cb and ra[0].get("direct") != "1":
        warm_a, warm_b = min(ca) >= 0.99, min(cb) >= 0.99
        if warm_a != warm_b or (not warm_a and abs(statistics.median(ca) -
                                                   statistics.median(cb)) > 0.05):
            return "cold vs warm cache (%.2f vs %.2f)" % (min(ca), min(cb))
    return ""


def axis_scale(ax, xs, axis="concurrency"):
    if axis == "concurrency":
        ax.set_xscale("log", base=2)
    elif min(xs) <= 0:
        ax.set_xscale("symlog", linthresh=max(1.0, min((x for x in xs if x > 0), default=1)))
    else:
        ax.set_xscale("log")


# ---- figures --------------------------------------------------------------------------------
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


def fio_lines(fio, wl, pl):
    """fio's figure on the same workload: (label, colour, xs, medians) per engine."""
    out = []
    ok = [r for r in fio if r["status"] == "ok" and r["bench_workload"] == wl and
          r["placement"] == pl]
    for engine, ers in sorted(groups(ok, lambda r: r["engine"]).items()):
        xs, ys = [], []
        for c, crs in sorted(groups(ers, lambda r: r["concurrency"]).items()):
            s = summary([num(r.get("ops_per_s")) for r in crs])
            if s:
                xs.append(c)
                ys.append(s["med"])
        if xs:
            out.append((f"fio {engine} (reference)", color_of(ers[0]["model"]),
                        xs, ys))
    return out


def save(plt, fig, run_dir, name):
    # bbox "tight": the saved image grows to hold the title and the legend, never clips them.
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(run_dir, f"{name}.{ext}"), dpi=90, bbox_inches="tight")
    plt.close(fig)
    return name


def finish(fig, title, axes, legend=True, h_pad=None):
    """One legend for the figure, below the panels (off the data), and a title wrapped to the
    figure's width (never clipped): every panel's own legend goes."""
    import textwrap
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
        if ax.get_legend():
            ax.get_legend().remove()
    width_in = fig.get_size_inches()[0]
    wrapped = textwrap.fill(title, max(40, int(width_in * 10)))
    fig.tight_layout(h_pad=h_pad)
    # Above and below the panels, outside the figure's box: savefig's tight bbox takes them in.
    fig.suptitle(wrapped, fontsize=11, y=1.0, va="bottom")
    if labels and legend:
        ncol = max(1, min(len(labels), int(width_in // 2.2)))
        fig.legend(handles, labels, loc="upper center", ncol=ncol, fontsize=8, frameon=False,
                   bbox_to_anchor=(0.5, 0.0))


def measured_ticks(ax, xs):
    """x ticks at the measured values only (a log axis would label 2^k it never measured)."""
    import matplotlib.ticker as mt
    xs = sorted(set(xs))
    ax.xaxis.set_major_locator(mt.FixedLocator(xs))
    ax.xaxis.set_major_formatter(mt.FixedFormatter([f"{x:g}" for x in xs]))
    ax.xaxis.set_minor_locator(mt.NullLocator())
    if len(xs) > 6:
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)


def log_or_symlog(ax, ys):
    """A log y axis; with a zero among the values, symlog from the smallest non-zero one, so
    the zero is drawn (on a plain log axis it silently vanishes)."""
    ys = [y for y in ys if isnum(y)]
    if any(y <= 0 for y in ys):
        pos = [y for y in ys if y > 0]
        ax.set_yscale("symlog", linthresh=min(pos) if pos else 1.0)
        ax.set_ylim(bottom=0)
    else:
        import matplotlib.ticker as mt
        ax.set_yscale("log")
        lo, hi = min(ys), max(ys)
        if hi / lo < 100:  # under two decades: label 1-2-5 steps, not one lone power of ten
            ax.yaxis.set_major_locator(mt.LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_minor_formatter(mt.NullFormatter())
        ax.yaxis.set_major_formatter(mt.FuncFormatter(lambda v, _: fmt(v)))


def line_panels(plt, rows, metric, ylabel, title, fname, run_dir, logy=True, scale=1.0,
                limits=None, refs=None, pooled=None, select=timed_ok):
    """One panel per (workload, placement), one line per model: median with min-max.
    pooled(rows) -> value replaces the median (latency from pooled histograms).
    select(rows) -> the rows drawn: the timed repeats, or the probed ones for probe columns."""
    ok = select(rows)
    panels = sorted(groups(ok, lambda r: (r["bench_workload"], r["placement"])).items())
    if not panels:
        return None
    ncol = min(4, len(panels))
    nrow = (len(panels) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.3 * nrow), squeeze=False)
    for ax, ((wl, pl), prs) in zip(axes.flat, panels):
        drawn = []
        for model, mrs in sorted(groups(prs, lambda r: r["model"]).items(),
                                 key=lambda kv: model_order(kv[0])):
            xs, med, lo, hi = [], [], [], []
            for c, crs in sorted(groups(mrs, lambda r: r["concurrency"]).items()):
                s = summary([num(r.get(metric)) * scale for r in crs])
                if not s:
                    continue
                # Pooled histograms when the run has them (None: not backed by enough
                # samples), else the median of the rows' own figures.
                mid = pooled(crs) if pooled else s["med"]
                if mid == "no histograms":
                    mid = s["med"]
                if mid is None:
                    continue
                xs.append(c)
                med.append(mid)
                lo.append(max(0.0, mid - s["lo"]))
                hi.append(max(0.0, s["hi"] - mid))
            if xs:
                ax.errorbar(xs, med, yerr=[lo, hi], marker="o", capsize=3, label=model,
                            color=color_of(model), linestyle=style_of(model))
                drawn += [m - l for m, l in zip(med, lo)] + med
        cs = sorted({r["concurrency"] for r in prs})
        if limits:
            for label, ys in limits(wl, pl, cs, prs):
                ax.plot(cs, ys, linestyle=":", color="gray", linewidth=1, label=label)
        if refs:
            for label, color, xs, ys in refs(wl, pl):
                ax.plot(xs, ys, linestyle="--", color=color, linewidth=1.2, marker="x",
                        label=label)
        ax.set_xscale("log", base=2)
        measured_ticks(ax, cs)
        if logy and drawn:
            log_or_symlog(ax, drawn)
        ax.set_title(f"{wl} — {where_name(pl)}", fontsize=9)
        ax.set_xlabel("concurrency C (tasks in flight)")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if not ax.get_legend_handles_labels()[0]:
            ax.text(0.5, 0.5, "no model ran this cell", ha="center", va="center",
                    transform=ax.transAxes, fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    finish(fig, title, list(axes.flat))
    return save(plt, fig, run_dir, fname)


def time_breakdown(plt, rows, run_dir):
    """Where a task's time goes (probed rows): on-CPU, blocked, waiting for a CPU, stacked."""
    probed = [r for r in rows if r["status"] == "ok" and r["section"] == "matrix" and
              not math.isnan(num(r.get("blocked_ns_per_task")))]
    if not probed:
        return None
    cells = sorted(groups(probed, lambda r: (r["bench_workload"], r["placement"],
                                             r["concurrency"])).items())
    # Horizontal bars, the models' names level on the y axis: readable at normal size.
    ncol = min(3, len(cells))
    nrow = (len(cells) + ncol - 1) // ncol
    models_all = sorted({r["model"] for r in probed}, key=model_order)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 0.9 + 0.42 * len(models_all) * nrow
                                                  + 0.9 * nrow), squeeze=False)
    for ax in list(axes.flat)[len(cells):]:
        ax.axis("off")
    for ax, ((wl, pl, c), crs) in zip(axes.flat, cells):
        models = [m for m in models_all if any(r["model"] == m for r in crs)]
        left = [0.0] * len(models)
        for key, label, color in (("oncpu_ns_per_task", "on CPU", "tab:green"),
                                  ("runq_ns_per_task", "waiting for a CPU", "tab:orange"),
                                  ("blocked_ns_per_task", "blocked", "tab:red")):
            vals = []
            for m in models:
                s_ = summary([num(r.get(key)) / 1e3 for r in crs if r["model"] == m])
                vals.append(s_["med"] if s_ else 0.0)
            ax.barh(models, vals, left=left, color=color, label=label, height=0.6)
            left = [b + v for b, v in zip(left, vals)]
        ax.invert_yaxis()
        ax.set_title(f"{wl}, C={c}, {where_name(pl)}", fontsize=9)
        ax.set_xlabel("µs per task (all threads)", fontsize=8)
        ax.tick_params(axis="both", labelsize=8)
        ax.grid(True, axis="x", alpha=0.3)
    finish(fig, "Where a task's time goes (eBPF, probed repeats)", list(axes.flat))
    return save(plt, fig, run_dir, "time_breakdown")


def timeline(plt, run_dir, path, rows):
    """The seed's timeline: each thread's state over the recorded window, marks on top."""
    # The timeline's cells are the rows of the one process that wrote it: a bench's timeline
    # section, or every row of a plain run.
    own = [r for r in rows if r["section"] == "timeline"] or rows
    label = {f"row{i}": f"{r['model']} {r['workload']} C={r['concurrency']}"
             for i, r in enumerate(own)}
    iv = read_csv(path, ["tid", "comm", "state", "start_ns", "end_ns", "cell"], optional=True)
    if not iv:
        return None
    marks = read_csv(path + "-marks.csv", ["tid", "event", "t_ns", "cell"], optional=True) or []
    cells = sorted({r["cell"] for r in iv})
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
            t0, t1 = num(r.get("start_ns")) / 1e6, num(r.get("end_ns")) / 1e6
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
    for state, c in colors.items():
        axes.flat[0].barh([], [], color=c, label=state)
    finish(fig, "Per-thread timeline: green on CPU, red blocked, orange waiting; "
           "| submit, x complete", list(axes.flat))
    return save(plt, fig, run_dir, "timeline")


# ---- the crossover --------------------------------------------------------------------------
def cross_rows(rows, kind):
    """Closed-loop timed rows of a workload kind, on one CPU if the run has any there."""
    ok = [r for r in rows if r["status"] == "ok" and r.get("probed", "0") in ("0", "") and
          r.get("mode", "closed") != "open" and r["workload"] == kind and
          r["section"] in ("matrix", "crossover")]
    core = [r for r in ok if r["placement"] == "core"]
    return (core, "one CPU") if core else (ok, "all CPUs")


def params(r):
    w = num(r.get("cpu_work_us"))
    return {"latency_us": num(r.get("latency_us")), "concurrency": float(r["concurrency"]),
            "cpu_work_us": 0.0 if math.isnan(w) else w}


def axis_points(rs, axis):
    """The points along one axis, the other two held: at the base point when measured there,
    else where the most values of the axis were measured. -> (fixed dict, {value: rows})."""
    others = [a for a in CROSS_BASE if a != axis]
    by_fixed = groups(rs, lambda r: tuple(params(r)[a] for a in others))
    base = tuple(CROSS_BASE[a] for a in others)
    cands = [(k, g) for k, g in by_fixed.items()
             if len({params(r)[axis] for r in g}) >= 2]
    if not cands:
        return None, {}
    key, g = next(((k, g) for k, g in cands if k == base),
                  max(cands, key=lambda kg: len({params(r)[axis] for r in kg[1]})))
    return dict(zip(others, key)), groups(g, lambda r: params(r)[axis])


def cpu_within_resolution(rows, a, b):
    """True when models a and b's CPU per task are closer than the figures' own error bounds
    (cpu_res_ns_per_task, each side's largest, summed): they cannot be told apart, so neither
    is ranked ahead on CPU. A run without the bound (older rows) is judged by its ranges."""
    meds, bound = [], 0.0
    for m in (a, b):
        cpu = summary([num(r.get("cpu_ns_per_task")) for r in rows if r["model"] == m])
        res = summary([num(r.get("cpu_res_ns_per_task")) for r in rows if r["model"] == m])
        if not cpu or not res:
            return False
        meds.append(cpu["med"])
        bound += res["hi"]
    return abs(meds[0] - meds[1]) <= bound


def verdicts(points, sync, async_, metric):
    """Per axis value: 'async' (ahead beyond noise), 'sync', 'noise', with the summaries."""
    out = []
    for v in sorted(points):
        sa = summary([num(r.get(metric)) for r in points[v] if r["model"] == async_])
        ss = summary([num(r.get(metric)) for r in points[v] if r["model"] == sync])
        if not sa or not ss:
            continue
        if min(sa["n"], ss["n"]) == 1:
            # One repeat has no range to measure noise by: under ONE_REPEAT_NOISE apart is noise.
            close = abs(sa["med"] - ss["med"]) <= ONE_REPEAT_NOISE * max(sa["med"], ss["med"])
        else:
            close = overlap(sa, ss)
        if metric == "ops_per_cpu_s":
            close = close or cpu_within_resolution(points[v], sync, async_)
        if close:
            out.append((v, "noise", sa, ss))
        else:
            out.append((v, "async" if sa["med"] > ss["med"] else "sync", sa, ss))
    return out


def fmt_axis(axis, v):
    name, unit = AXIS_NAMES[axis]
    short = {"latency_us": "D", "concurrency": "C", "cpu_work_us": "W"}[axis]
    return f"{short}={v:g}{(' ' + unit) if unit else ''}"


def crossover_text(axis, vs):
    """"async overtakes sync at ..." from the per-value verdicts along one axis."""
    if len(vs) < 2:
        return "not enough points"
    short = {"latency_us": "D", "concurrency": "C", "cpu_work_us": "W"}[axis]
    unit = " µs" if axis != "concurrency" else ""
    vals = [v for v, _, _, _ in vs]
    ahead = [v for v, k, _, _ in vs if k == "async"]
    behind = [v for v, k, _, _ in vs if k == "sync"]
    rng = f"{short} = {vals[0]:g}–{vals[-1]:g}{unit}"
    if not ahead:
        txt = f"not within the measured range ({rng})"
    elif len(ahead) == len(vals):
        txt = f"async ahead at every measured point ({rng})"
    elif ahead == vals[len(vals) - len(ahead):]:
        prev = vals[len(vals) - len(ahead) - 1]
        op = "=" if len(ahead) == 1 else "≥"
        txt = f"async overtakes sync at {short} {op} {ahead[0]:g}{unit} (not at {prev:g})"
    elif ahead == vals[:len(ahead)]:
        nxt = vals[len(ahead)]
        op = "=" if len(ahead) == 1 else "≤"
        txt = f"async ahead at {short} {op} {ahead[-1]:g}{unit}, not from {nxt:g} on"
    else:
        txt = "async ahead at " + ", ".join(f"{short}={v:g}" for v in ahead) + unit
    if behind:
        txt += "; sync ahead at " + ", ".join(f"{short}={v:g}" for v in behind) + unit
    return txt


def crossover(rows):
    """[(kind, placement, async model, axis, fixed, verdicts(ops), verdicts(ops/CPU-s))]."""
    out = []
    for kind in ("timer", "rpc"):
        rs, where = cross_rows(rows, kind)
        models = {r["model"] for r in rs}
        if SYNC_MODEL not in models:
            continue
        for am in sorted(models - {SYNC_MODEL}):
            pair = [r for r in rs if r["model"] in (SYNC_MODEL, am)]
            for axis in CROSS_BASE:
                fixed, pts = axis_points(pair, axis)
                # Only values both models were measured at.
                pts = {v: g for v, g in pts.items() if {r["model"] for r in g} >= {SYNC_MODEL, am}}
                if len(pts) < 2:
                    continue
                out.append((kind, where, am, axis, fixed, pts,
                            verdicts(pts, SYNC_MODEL, am, "ops_per_s"),
                            verdicts(pts, SYNC_MODEL, am, "ops_per_cpu_s")))
    return out


def crossover_figure(plt, cross, run_dir):
    if not cross:
        return None
    kinds = sorted({c[0] for c in cross}, key=("timer", "rpc").index)
    axes_order = [a for a in CROSS_BASE if any(c[3] == a for c in cross)]
    fig, axes = plt.subplots(len(kinds), len(axes_order),
                             figsize=(4.6 * len(axes_order), 3.6 * len(kinds)), squeeze=False)
    for i, kind in enumerate(kinds):
        for j, axis in enumerate(axes_order):
            ax = axes[i][j]
            entries = [c for c in cross if c[0] == kind and c[3] == axis]
            if not entries:
                ax.axis("off")
                continue
            drawn, notes = set(), []
            for _, where, am, _, fixed, pts, vops, _ in entries:
                for m in (SYNC_MODEL, am):
                    if m in drawn:
                        continue
                    drawn.add(m)
                    xs, med, lo, hi = [], [], [], []
                    for v in sorted(pts):
                        s = summary([num(r.get("ops_per_s")) for r in pts[v] if r["model"] == m])
                        if s:
                            xs.append(v)
                            med.append(s["med"])
                            lo.append(s["med"] - s["lo"])
                            hi.append(s["hi"] - s["med"])
                    ax.errorbar(xs, med, yerr=[lo, hi], marker="o", capsize=3, label=m,
                                color=color_of(m))
                for v, k, sa, _ in vops:
                    if k == "async":
                        ax.plot([v], [sa["med"]], marker="o", markersize=11, mfc="none",
                                mec=color_of(am))
                notes.append(f"{am}: {crossover_text(axis, vops)}")
            axis_scale(ax, sorted(pts), axis)
            measured_ticks(ax, sorted(pts))
            ax.set_yscale("log")
            name, unit = AXIS_NAMES[axis]
            ax.set_xlabel(f"{name}{' (' + unit + ')' if unit else ''}")
            ax.set_ylabel("tasks/s")
            fx = ", ".join(fmt_axis(a, v) for a, v in fixed.items())
            ax.set_title(f"{kind}, {where}, {fx}", fontsize=8)
            ax.grid(True, alpha=0.3)
            ax.text(0.01, -0.32, "\n".join(notes), transform=ax.transAxes, fontsize=6,
                    va="top", wrap=True)
    finish(fig, "The crossover: where async (open circles: ahead beyond noise) overtakes sync "
           f"({SYNC_MODEL}), closed loop", list(axes.flat), h_pad=4.5)
    return save(plt, fig, run_dir, "crossover")


# ---- latency vs offered rate ----------------------------------------------------------------
def rate_sweeps(rows, hists):
    """{(workload, placement, D): {model: [(rate, achieved summary, pooled latency, rows)]}}."""
    rs = [r for r in rows if r["status"] == "ok" and r.get("probed", "0") in ("0", "") and
          r.get("mode") == "open" and isnum(num(r.get("rate_target")))]
    out = {}
    for key, krs in sorted(groups(rs, lambda r: (r["bench_workload"], r["placement"],
                                                 r.get("latency_us", ""))).items()):
        per = {}
        for m, mrs in sorted(groups(krs, lambda r: r["model"]).items()):
            pts = []
            for rate, rrs in sorted(groups(mrs, lambda r: num(r.get("rate_target"))).items()):
                # Completions per second in the window: the throughput under that offer.
                # (achieved_ops_per_s counts tasks whose intended start fell in the window:
                # 0 once the backlog reaches back past the window's start.)
                ach = summary([num(r.get("ops_per_s")) for r in rrs])
                lat = hists.pooled(rrs) if hists else None
                if lat is None:
                    s50 = summary([num(r.get("lat_p50_ns")) for r in rrs])
                    s99 = summary([num(r.get("lat_p99_ns")) for r in rrs])
                    lat = {"n": sum(int(num(r.get("n_samples")) or 0) for r in rrs),
                           "p50": s50["med"] if s50 else None,
                           "p99": s99["med"] if s99 else None, "p999": None}
                pts.append((rate, ach, lat, rrs))
            per[m] = pts
        out[key] = per
    return out


def knee(pts):
    """The first offered rate where the model falls behind: completions < 95% of the offer, or
    p50 over twice its value at the lowest rate. -> (last rate before it or None, knee or None)."""
    floor = next((lat["p50"] for _, _, lat, _ in pts if lat["p50"]), None)
    last = None
    for rate, ach, lat, _ in pts:
        behind = (ach and ach["med"] < 0.95 * rate) or (
            floor and lat["p50"] and lat["p50"] > 2 * floor)
        if behind:
            return last, rate
        last = rate
    return last, None


def rate_figure(plt, sweeps, run_dir):
    if not sweeps:
        return None
    fig, axes = plt.subplots(len(sweeps), 3, figsize=(14, 3.8 * len(sweeps)), squeeze=False)
    for row_axes, ((wl, pl, d), per) in zip(axes, sweeps.items()):
        for m, pts in per.items():
            color = color_of(m)
            rates = [p[0] for p in pts]
            for ax, key in ((row_axes[0], "p50"), (row_axes[1], "p99")):
                xs = [rt for rt, _, lat, _ in pts if lat[key]]
                ys = [lat[key] / 1e3 for _, _, lat, _ in pts if lat[key]]
                if xs:
                    ax.plot(xs, ys, marker="o", color=color, label=m)
            _, k = knee(pts)
            if k is not None:
                lat = next(lat for rt, _, lat, _ in pts if rt == k)
                if lat["p50"]:
                    row_axes[0].plot([k], [lat["p50"] / 1e3], marker="o", markersize=12,
                                     mfc="none", mec="black")
            med = [a["med"] if a else math.nan for _, a, _, _ in pts]
            lo = [a["med"] - a["lo"] if a else 0 for _, a, _, _ in pts]
            hi = [a["hi"] - a["med"] if a else 0 for _, a, _, _ in pts]
            row_axes[2].errorbar(rates, med, yerr=[lo, hi], marker="o", capsize=3, color=color,
                                 label=m)
        allr = sorted({p[0] for pts in per.values() for p in pts})
        row_axes[2].plot(allr, allr, linestyle="--", color="gray", linewidth=1,
                         label="completed = offered")
        where = "one CPU" if pl == "core" else "all CPUs"
        for ax, yl, t in ((row_axes[0], "p50 latency µs", "p50"),
                          (row_axes[1], "p99 latency µs", "p99"),
                          (row_axes[2], "completed tasks/s", "throughput")):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("offered rate, tasks/s (open loop)")
            ax.set_ylabel(yl)
            ax.set_title(f"{wl} D={d} µs, {where}: {t}", fontsize=9)
            ax.grid(True, alpha=0.3)
    finish(fig, "Latency vs offered rate (open loop, from each task's intended start); "
           "black circle: the knee", list(axes.flat))
    return save(plt, fig, run_dir, "latency_vs_rate")


# ---- report.md ------------------------------------------------------------------------------
def loc(model):
    """Lines of C in the model's folder, counted, not guessed (non-blank lines, comments too)."""
    d = os.path.join(ROOT, base_of(model))
    if not os.path.isdir(d):
        return None
    n = 0
    for name in os.listdir(d):
        if name.endswith((".c", ".h")):
            with open(os.path.join(d, name)) as f:
                n += sum(1 for line in f if line.strip())
    return n


def md(text):
    """Free text inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def fmt(v, unit=""):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}{unit}"
    return f"{v:.3g}{unit}"


def fmt_ns(ns):
    if ns is None or (isinstance(ns, float) and math.isnan(ns)):
        return "–"
    for div, unit in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if ns >= div:
            return f"{ns / div:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_range(s):
    if not s:
        return "–"
    if s["n"] == 1:
        return fmt(s["med"])
    return f"{fmt(s['med'])} [{fmt(s['lo'])}–{fmt(s['hi'])}] cv {100 * s['cv']:.0f}%"


def checklist(rows, models, caps):
    """The seed's checklist, per model: from the binary's caps, the code, and this run."""
    def cap(m, c):
        return c in caps[m]["caps"] if m in caps else None

    lines = ["## The seed's checklist, per model", "",
             f"From each model's caps ({caps.get('_source', 'models.csv')}), its code, "
             "and this run's rows.", "",
             "| question | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]

    shared = []

    def row(q, f):
        vals = [f(m) for m in models]
        if len(models) > 1 and len(set(vals)) == 1:
            shared.append(f"- **{q}** (every model): {vals[0]}")
        else:
            lines.append(f"| {q} | " + " | ".join(vals) + " |")

    def sync_async(m):
        a = cap(m, "async")
        if a is None:
            return "?"
        return ("async" if a else "sync") + (" (batched submits)" if cap(m, "batch") else "")
    row("sync or async?", sync_async)
    row("task id", lambda m: how(caps, m, "task_id"))
    row("how completion is learned", lambda m: how(caps, m, "completion"))
    mine = {m: [r for r in rows if r["model"] == m and r["status"] == "ok"] for m in models}

    def retry(m):
        rs = mine[m]
        n = sum(num(r.get("retries")) for r in rs if isnum(num(r.get("retries"))))
        used = any(isnum(num(r.get("retries"))) for r in rs)
        return ("the driver's, the same for every model: --on-expired / --on-failed retry "
                "the same task id, --backoff none / exp / exp-jitter; " +
                (f"{n:.0f} retries in this run" if used else "off in this run (drop)"))
    row("retry strategy", retry)

    def states(m):
        st = ["COMPLETED", "FAILED (errno, the backend's BUSY, --fault injection)",
              "PARTIAL_SUCCESS (short transfer: resubmitted by default)"]
        if cap(m, "deadline"):
            st.append("EXPIRED (--deadline-us)")
        if cap(m, "cancel"):
            st.append("ABORTED (cancel)")
        seen = []
        for col, name in (("n_failed", "FAILED"), ("n_aborted", "ABORTED"),
                          ("n_partial", "PARTIAL_SUCCESS"), ("n_expired", "EXPIRED"),
                          ("n_late", "late answers"), ("faults", "injected faults")):
            n = sum(num(r.get(col)) for r in mine[m] if isnum(num(r.get(col))))
            if n:
                seen.append(f"{name} {n:.0f}")
        return ", ".join(st) + "; seen here: " + (", ".join(seen) or "none but COMPLETED")
    row("failure states", states)
    row("failure domains", lambda m: how(caps, m, "domains"))

    def idem(m):
        dup = sum(num(r.get("n_dup")) for r in mine[m] if isnum(num(r.get("n_dup"))))
        return ("reads, timers, nops: idempotent (a re-read of a fixed offset); rpc: a retry "
                "executes again unless --idempotency-key (the backend deduplicates by request "
                f"id); duplicates executed in this run: {dup:.0f}")
    row("idempotent?", idem)
    lines.append("")
    return lines + (shared + [""] if shared else [])


def memory_column(rows):
    """(column, label, caption, short caption) of the memory a cell is charged with: its own
    (rss_cell_bytes, isolated from the cells before it as mem_isolation says) when the run
    measured it, else the process's RSS (an older run)."""
    iso = {r.get("mem_isolation") or "in-process" for r in rows
           if not math.isnan(num(r.get("rss_cell_bytes")))}
    if not iso:
        return ("rss_bytes", "RSS", "the process's RSS: a cell also carries what the cells "
                "before it in the same process left (a run without rss_cell_bytes)",
                "process RSS, earlier cells' leftovers included")
    if iso == {"fork"}:
        how, short = "each cell in a process of its own (--fork-cells)", "each cell forked"
    elif iso == {"in-process"}:
        how = ("the cells in one process: memory an earlier cell left for reuse (glibc's "
               "cached thread stacks) can hide part of a later cell's; --fork-cells isolates "
               "them")
        short = "cells in one process"
    else:
        how = short = "cells isolated as " + " and ".join(sorted(iso))
    return ("rss_cell_bytes", "own memory",
            f"each cell's own anonymous memory over its pre-cell baseline; {how}",
            f"own anonymous memory, {short}")


def memory_table(ok, models):
    """Threads and memory at C=1024 (the cost of one thread per in-flight task)."""
    lines = []
    mem, mem_label, _, _ = memory_column(ok)
    cs = sorted({r["concurrency"] for r in ok})
    target = 1024 if 1024 in cs else (cs[-1] if cs else None)
    if target is None:
        return lines
    note = "" if target == 1024 else f" (C=1024 not in this run: its largest C, {target})"
    where = ("timer, one CPU" if any(r["bench_workload"] == "timer" and r["placement"] == "core"
                                     for r in ok) else "")
    note += f" ({where})" if where else ""

    def pick(m, c):
        """Timer rows on one CPU when the run has them: one placement, one submitter."""
        rs = [r for r in ok if r["model"] == m and r["concurrency"] == c]
        for sub in ([r for r in rs if r["bench_workload"] == "timer" and
                     r["placement"] == "core"],
                    [r for r in rs if r["bench_workload"] == "timer"], rs):
            if sub:
                return sub
        return rs
    for metric, label, unit in (("threads", "threads", ""), (mem, mem_label, "B"),
                                ("harness_rss_bytes", f"of {mem_label}, the harness's latency "
                                 "histograms (not the model's)", "B"),
                                ("kmem_bytes", "kernel memory (stacks, slab, page tables)",
                                 "B")):
        cells = []
        for m in models:
            s = summary([num(r.get(metric)) for r in pick(m, target)])
            if s and metric == "threads":
                cells.append(f"{s['med']:.0f}")
            elif s and metric == "kmem_bytes" and abs(s["med"]) < KMEM_NOISE_BYTES:
                # /proc/meminfo is system-wide: other processes move it by a few hundred kB
                # either way (a median of -197 kB was printed as such before).
                cells.append("< 0.5 MB (within the system-wide counter's noise)")
            else:
                cells.append(fmt(s["med"], unit) if s else "–")
        lines.append(f"| {label} at C={target}{note} | " + " | ".join(cells) + " |")
    def model_bytes(r):
        """Memory + kernel memory without the harness's own histograms (one per submitter
        thread, so a sync model at C=1024 has 1024 of them; an older run has no column)."""
        harness = num(r.get("harness_rss_bytes"))
        return (num(r.get(mem)) - (0.0 if math.isnan(harness) else harness) +
                max(0.0, num(r.get("kmem_bytes"))))
    if len(cs) > 1:
        cells = []
        for m in models:
            hi = [model_bytes(r) for r in pick(m, target)]
            lo = [model_bytes(r) for r in pick(m, cs[0])]
            s_hi, s_lo = summary(hi), summary(lo)
            if not s_hi or not s_lo:
                cells.append("–")
                continue
            per = (s_hi["med"] - s_lo["med"]) / (target - cs[0])
            # Both figures move by a few pages with the machine's other activity.
            cells.append(fmt(per, "B") if per >= 1024 else "< 1 kB (not measurable here)")
        lines.append(f"| memory per in-flight task ({mem_label} − harness + kernel, "
                     f"C={cs[0]} → {target}) | " + " | ".join(cells) + " |")
    return lines


def machine_line(run_dir):
    try:
        with open(os.path.join(run_dir, "run.json")) as f:
            meta = json.load(f).get("meta", {})
    except (OSError, ValueError):
        return ""
    return (f"Machine: {meta.get('cpus_online', '?')} CPUs ({meta.get('cpu_model', '?')}), "
            f"kernel {meta.get('kernel', '?')}, hypervisor {meta.get('hypervisor', '?')}; "
            f"git {meta.get('git_commit', '?')}; {meta.get('utc_time', '')}.")


def pair_note(m, mine, ref):
    """'uring 1.95× [1.80–2.10]', 'within noise', its caveats and properties: never hidden."""
    c = verdict.compare_series(mine, ref)
    if c is None:
        return f"{m}: –"
    txt = f"{m} {verdict.fmt_ratio(c)}"
    if c["within"]:
        txt += ", within noise"
    why = c["caveats"] + [w for w in [like_for_like_cache(mine, ref)] if w] + c["props"]
    return txt + (f" ({'; '.join(why)})" if why else "")


def where_name(pl):
    return {"core": "one CPU", "box": "all CPUs"}.get(pl, "all CPUs" if pl in ("", "all")
                                                        else f"CPUs {pl}")


def flags_table(rows):
    """Which of its own flags each model ran with (the bench's model_flags), and each flagged
    matrix cell against its pair without the flags (section pairs)."""
    flagged = {(r["model"], r["bench_workload"], r.get("model_flags", ""))
               for r in rows if r["section"] == "matrix" and r.get("model_flags")}
    if not flagged and not any(r["section"] == "pairs" for r in rows):
        return []
    lines = ["## Each model's own flags", "",
             "The matrix runs each model with its own best-known flags where they apply; every "
             "model × workload not listed ran with its defaults.", "",
             "| model | workload | flags |", "|---|---|---|"]
    lines += [f"| {m} | {w} | `{f}` |" for m, w, f in sorted(flagged)]
    with_flags = timed_ok(rows)
    without = timed_ok(rows, "pairs")
    if without:
        lines += ["", "Each flagged cell again without its flags (same C, placement, repeats):",
                  "", "| model | workload | placement | C | tasks/s with | tasks/s without | "
                  "CPU/task with | CPU/task without |", "|---|---|---|---|---|---|---|---|"]
        for (m, w, p, c), g in sorted(groups(without, lambda r: (
                r["model"], r["bench_workload"], r["placement"], r["concurrency"])).items()):
            mine = [r for r in with_flags if (r["model"], r["bench_workload"], r["placement"],
                                              r["concurrency"]) == (m, w, p, c)]
            ops = [fmt_range(summary([num(r.get("ops_per_s")) for r in rs])) for rs in (mine, g)]
            cpu = [summary([num(r.get("cpu_ns_per_task")) for r in rs]) for rs in (mine, g)]
            lines.append(f"| {m} | {w} | {'one CPU' if p == 'core' else 'all CPUs'} | {c} | " +
                         " | ".join(ops) + " | " +
                         " | ".join(fmt(x["med"] / 1e3, " µs") if x else "–" for x in cpu) + " |")
    lines.append("")
    return lines


def report(rows, run_dir, figures, hists, cross, sweeps, fio, caps, bench):
    ok = timed_ok(rows)
    models = sorted({r["model"] for r in rows if r["section"] != "timeline"},
                    key=lambda m: (m != SYNC_MODEL, m))
    lines = ["# iomodels report", ""]
    meta = {}
    try:
        with open(os.path.join(run_dir, "run.json")) as f:
            meta = json.load(f).get("meta", {})
    except (OSError, ValueError):
        pass
    machine = machine_line(run_dir)
    lines += verdict.verdict_lines(rows, where_name, machine, bench=bench)
    lines += ["## How to read this report", ""]
    if bench:
        lines.append(f"Bench: {bench.get('repeat', '?')} timed repeat(s) per cell, window "
                     f"{bench.get('runtime', '?')}, random seed (cell order) "
                     f"{bench.get('seed', '?')}{', QUICK' if bench.get('quick') else ''}"
                     + (f", wall time {bench['wall_s']:.0f} s" if "wall_s" in bench else "")
                     + ".")
    lines += ["",
              f"Run: `{os.path.basename(os.path.realpath(run_dir))}`. Medians over repeats, "
              "[min–max] and the coefficient of variation when there are several; "
              "closed-loop latency is measured from submit, open-loop latency from each "
              "task's intended start. A ratio between two models comes with its 95% bootstrap "
              "interval and the caveats of the pair (foreign CPU: ‡, interval widened; CPU "
              "sets, backend-bound, queue full, CQ overflow, cache state); a model that keeps "
              "fewer than C tasks in flight (its tasks complete inline) is shown as such.",
              "",
              "*The seed* is the interactive teaching page \"Sync vs Async API Interactive\" "
              "this suite grew from: the blocked sync client beside the async one that "
              "submits, gets a task id and reaps. Its comparison table and checklist are "
              "filled below from this run.", ""]
    # The seed's comparison table.
    lines += ["## The seed's comparison table, measured", "",
              "| | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    lines.append("| execution model | " + " | ".join(
        caps[m]["desc"] if m in caps else "?" for m in models) + " |")
    lines.append("| how the result arrives | " +
                 " | ".join(how(caps, m, "completion") for m in models) + " |")
    wins = {m: [] for m in models}
    for kind, where, am, axis, fixed, pts, vops, _ in cross:
        wins[am].append(f"{kind}: {crossover_text(axis, vops)}")
    lines.append(f"| where it wins over {SYNC_MODEL} (measured crossover, tasks/s) | " + " | ".join(
        "(the sync reference)" if m == SYNC_MODEL else
        ("<br>".join(wins[m]) if wins[m] else "not measured") for m in models) + " |")
    lines.append("| lines of code (model folder, non-blank) | " +
                 " | ".join(str(loc(m) or "–") for m in models) + " |")
    lines.append("| failure domains | " +
                 " | ".join(how(caps, m, "domains") for m in models) + " |")
    lines += memory_table(ok, models)
    for metric, label, scale, unit in (
            ("ops_per_s", "tasks/s, best cell", 1, ""),
            ("ops_per_cpu_s", "tasks per CPU-second, best cell", 1, ""),
            ("blocked_ns_per_task", "blocked time per task, timer C=256 one CPU (probes)", 1e-3,
             " µs")):
        cells = []
        for m in models:
            if metric == "blocked_ns_per_task":
                rs = [r for r in rows if r["model"] == m and r["status"] == "ok" and
                      r["section"] == "matrix" and r["bench_workload"] == "timer" and
                      r["placement"] == "core" and r["concurrency"] == 256]
                s = summary([num(r.get(metric)) * scale for r in rs])
                cells.append(fmt(s["med"], unit) if s else "–")
                continue
            best = None
            for key, g in groups([r for r in ok if r["model"] == m],
                                 lambda r: (r["bench_workload"], r["placement"],
                                            r["concurrency"])).items():
                s = summary([num(r.get(metric)) for r in g])
                if s and (best is None or s["med"] > best[1]["med"]):
                    best = (key, s)
            cells.append(f"{fmt(best[1]['med'])} ({best[0][0]}, C={best[0][2]}, "
                         f"{'one CPU' if best[0][1] == 'core' else 'all CPUs'})"
                         if best else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", f"Memory: {memory_column(ok)[2]}; kernel memory is the machine-wide "
              "KernelStack + Slab + PageTables delta over the window.", ""]
    lines += checklist(rows, models, caps)

    # Throughput and CPU per cell, with each pair's caveats; each workload's own series.
    all_models = models
    lines += ["## Throughput and CPU per task", "",
              f"Each model against the sync one ({SYNC_MODEL or 'none in this run'}): the ratio "
              "of medians with its 95% bootstrap interval, *within noise* when the interval "
              "spans 1, and the pair's caveats beside it, never in place of it: CPU sets "
              "differ; foreign CPU (other processes used over 2% of the CPUs: ‡, the interval "
              "widened to the full min–max range); backend-bound (the rpc backend used over "
              "70% of its CPUs); queue full or CQ overflow; cold vs warm cache (page-cache "
              "residency before the cell differs). A model that keeps fewer than C tasks in "
              "flight (tasks/s × mean latency more than 5% off C: its tasks complete inline) "
              "is shown with what it keeps in flight: a property of the model.", ""]
    for (wl, pl), prs in sorted(groups(ok, lambda r: (r["bench_workload"], r["placement"])).items()):
        models = [m for m in all_models if any(r["model"] == m for r in prs)]
        lines += [f"### {wl}, {'one CPU' if pl == 'core' else 'all CPUs'}", ""]
        if wl == "nop" and "epoll" in models:
            # Readiness needs somebody to make the fd ready: that write is in epoll's figure.
            lines += ["An epoll nop task is an eventfd write (the producer's signal) and its read "
                      "when the wait reports it, both in epoll's figures; threads' and "
                      "kernel_free's nop is one getppid(), uring's an IORING_OP_NOP "
                      "(docs/fairness.md §3).", ""]
        lines += ["| C | " + " | ".join(f"{m} tasks/s" for m in models) + " | " +
                  " | ".join(f"{m} CPU/task" for m in models) + " | vs threads |",
                  "|---|" + "---|" * (2 * len(models) + 1)]
        for c, crs in sorted(groups(prs, lambda r: r["concurrency"]).items()):
            ops, cpu, sums = [], [], {}
            for m in models:
                s = summary([num(r.get("ops_per_s")) for r in crs if r["model"] == m])
                sc = summary([num(r.get("cpu_ns_per_task")) for r in crs if r["model"] == m])
                sums[m] = s
                ops.append(fmt_range(s))
                # The figure's own error bound (cpu_res_ns_per_task) beside it when material.
                res = summary([num(r.get("cpu_res_ns_per_task")) for r in crs if r["model"] == m])
                cpu.append((fmt(sc["med"] / 1e3, " µs") +
                            (f" ±{fmt(res['hi'] / 1e3, ' µs')}"
                             if res and sc["med"] and res["hi"] >= 0.05 * sc["med"] else ""))
                           if sc else "–")
            notes = []
            sync_rows = [r for r in crs if r["model"] == SYNC_MODEL]
            for m in models:
                if m == SYNC_MODEL or not sums[m] or not sums.get(SYNC_MODEL):
                    continue
                notes.append(pair_note(m, [r for r in crs if r["model"] == m], sync_rows))
            lines.append(f"| {c} | " + " | ".join(ops) + " | " + " | ".join(cpu) + " | " +
                         "; ".join(notes) + " |")
        lines.append("")

    lines += flags_table(rows)

    # Latency with its sample counts.
    lines += ["## Latency (closed loop, from submit)", "",
              "Percentiles of the repeats' pooled histograms; a percentile backed by fewer "
              "than 10/(1−p) samples is not shown (–); n is the sample count." +
              ("" if any(hists.of(r) is not None for r in ok) else
               " This run directory keeps no histograms (hist.csv): each figure is instead "
               "the median of the repeats' own percentiles, each shown only when its repeat "
               "had 10/(1−p) samples, and n is their total."), ""]
    for (wl, pl), prs in sorted(groups(ok, lambda r: (r["bench_workload"], r["placement"])).items()):
        models = [m for m in all_models if any(r["model"] == m for r in prs)]
        lines += [f"### {wl}, {'one CPU' if pl == 'core' else 'all CPUs'}", "",
                  "| C | " + " | ".join(f"{m} p50 / p99 / p99.9 (n)" for m in models) + " |",
                  "|---|" + "---|" * len(models)]
        for c, crs in sorted(groups(prs, lambda r: r["concurrency"]).items()):
            cells = []
            for m in models:
                mrs = [r for r in crs if r["model"] == m]
                p = hists.pooled(mrs) if mrs else None
                if p is None and mrs:
                    n = sum(num(r.get("n_samples")) for r in mrs
                            if isnum(num(r.get("n_samples"))))
                    s = {k: summary([num(r.get(f"lat_{k}_ns")) for r in mrs]) for k, _ in PCTS}
                    p = {"n": n, **{k: (v["med"] if v else None) for k, v in s.items()}}
                cells.append(f"{fmt_ns(p['p50'])} / {fmt_ns(p['p99'])} / {fmt_ns(p['p999'])}"
                             f" (n={p['n']:.0f})" if p else "–")
            lines.append(f"| {c} | " + " | ".join(cells) + " |")
        lines.append("")

    # The crossover.
    lines += ["## The crossover: where async overtakes sync", ""]
    if cross:
        lines += ["Found from the measurements: threads against each async model, one axis at "
                  "a time, the other two held (closed loop). *Ahead* means the min–max ranges "
                  "over repeats do not overlap (with a single repeat: more than "
                  f"{100 * ONE_REPEAT_NOISE:.0f}% apart).", "",
                  "| workload | async model | axis (held) | throughput (tasks/s) | tasks per "
                  "CPU-second | points: async/threads tasks/s | repeats, flags |",
                  "|---|---|---|---|---|---|---|"]
        for kind, where, am, axis, fixed, pts, vops, vcpu in cross:
            fx = ", ".join(fmt_axis(a, v) for a, v in fixed.items())
            ptxt = "; ".join(f"{fmt_axis(axis, v)}: {fmt(sa['med'])}/{fmt(ss['med'])}"
                             for v, _, sa, ss in vops)
            reps = sorted({s["n"] for _, _, sa, ss in vops for s in (sa, ss)})
            fl = sorted(set().union(*(flags_of(r) for g in pts.values() for r in g)))
            lines.append(f"| {kind} | {am} | {AXIS_NAMES[axis][0]} ({where}; {fx}) | "
                         f"{crossover_text(axis, vops)} | {crossover_text(axis, vcpu)} | "
                         f"{ptxt} | {'-'.join(str(x) for x in reps)}"
                         f"{'; ' + ','.join(fl) if fl else ''} |")
        lines.append("")
    else:
        lines += ["Not measured: the run has no timer or rpc rows for threads and an async "
                  "model along any axis.", ""]

    # Latency vs offered rate.
    lines += ["## Latency vs offered rate (open loop)", ""]
    if sweeps:
        lines += ["Latency from each task's intended start (no coordinated omission). The knee "
                  "is the first offered rate where the tasks completed per second fall below 95% "
                  "of it or p50 exceeds twice its value at the lowest rate.", "",
                  "| workload | model | sustained up to | knee at | p50 / p99 at the lowest rate "
                  "| p50 / p99 at the knee | n at the knee |", "|---|---|---|---|---|---|---|"]
        for (wl, pl, d), per in sweeps.items():
            for m, pts in per.items():
                last, k = knee(pts)
                first = pts[0][2]
                at = next((lat for rt, _, lat, _ in pts if rt == k), None)
                lines.append(
                    f"| {wl} D={d} µs, {'one CPU' if pl == 'core' else 'all CPUs'} | {m} | "
                    f"{fmt(last) + '/s' if last else 'below the lowest rate'} | "
                    f"{fmt(k) + '/s' if k else 'no knee up to ' + fmt(pts[-1][0]) + '/s'} | "
                    f"{fmt_ns(first['p50'])} / {fmt_ns(first['p99'])} | "
                    f"{(fmt_ns(at['p50']) + ' / ' + fmt_ns(at['p99'])) if at else '–'} | "
                    f"{at['n'] if at else '–'} |")
        lines.append("")
    else:
        lines += ["Not measured: no open-loop (`--rate`) rows in this run.", ""]

    # fio.
    lines += ["## fio on the same workload", ""]
    skipped = (bench.get("fio") or {}).get("skipped") if bench else ""
    if fio:
        lines += ["fio with scripts/compare-fio's like-for-like options (`--thread "
                  "--norandommap --invalidate=0`, io_uring with batch submit and "
                  "registerfiles): one fio run per point, drawn dashed on the throughput "
                  "figure. fio runs once per point: when its figure falls inside iomodels' "
                  "min–max it is *within noise*; otherwise the ratio of the median, with "
                  "iomodels' min–max over fio's one figure, marked when either side saw "
                  "foreign CPU or the cache state differs.", "",
                  "| workload | placement | C | fio engine | fio tasks/s | iomodels model | "
                  "iomodels tasks/s | iomodels / fio |", "|---|---|---|---|---|---|---|---|"]
        for r in sorted(fio, key=lambda r: (r["bench_workload"], r["placement"], r["engine"],
                                            r["concurrency"])):
            if r["status"] != "ok":
                lines.append(f"| {r['bench_workload']} | {r['placement']} | {r['concurrency']} "
                             f"| {r['engine']} | {r['status']}: {md(r.get('reason', ''))} | "
                             f"{r['model']} | | |")
                continue
            mine = [x for x in ok if x["model"] == r["model"] and
                    x["bench_workload"] == r["bench_workload"] and
                    x["placement"] == r["placement"] and x["concurrency"] == r["concurrency"]]
            s = summary([num(x.get("ops_per_s")) for x in mine])
            ratio = "–"
            if s:
                f_ops = num(r["ops_per_s"])
                cf = num(r.get("cache_before"))
                ci = [num(x.get("cache_before")) for x in mine]
                ci = [v for v in ci if isnum(v)]
                why = [w for w, bad in (
                    ("foreign CPU", "foreign_cpu" in r.get("flags", "") or
                     any("foreign_cpu" in flags_of(x) for x in mine)),
                    (f"cache {cf:.2f} vs {min(ci) if ci else 0:.2f}",
                     isnum(cf) and ci and (cf >= 0.99) != (min(ci) >= 0.99))) if bad]
                # A caveat marks the ratio, never hides it (issue 15).
                if s["n"] > 1 and s["lo"] <= f_ops <= s["hi"]:
                    ratio = "within noise (fio inside iomodels' range)"
                else:
                    ratio = (f"{s['med'] / f_ops:.2f}× [{s['lo'] / f_ops:.2f}–"
                             f"{s['hi'] / f_ops:.2f}] (one fio run"
                             + "".join("; " + w for w in why) + ")")
            lines.append(f"| {r['bench_workload']} | {r['placement']} | {r['concurrency']} | "
                         f"{r['engine']} | {fmt(num(r['ops_per_s']))} | {r['model']} | "
                         f"{fmt_range(s)} | {ratio} |")
        lines.append("")
    else:
        lines += [f"Not run: {skipped}." if skipped else
                  "Not run (no fio.csv in this run directory).", ""]

    bad = [r for r in rows if r["status"] != "ok"]
    if bad:
        lines += ["## Cells that did not run", "", "| model | workload | C | status | reason |",
                  "|---|---|---|---|---|"]
        seen = set()
        for r in bad:
            key = (r["model"], r["bench_workload"], r["status"], r.get("reason", ""))
            if key in seen:
                continue
            seen.add(key)
            lines.append(f"| {md(r['model'])} | {md(r['bench_workload'])} | {r['concurrency']} | "
                         f"{r['status']} | {md(r.get('reason', ''))} |")
        lines.append("")
    lines += ["## Figures", ""] + [f"![{f}]({f}.png)" for f in figures if f] + [""]
    with open(os.path.join(run_dir, "report.md"), "w") as f:
        f.write("\n".join(lines))


# ---- scenarios: one figure per scenario CSV found in the run directory ----

def load_plain(path, required):
    """A scenario's CSV as dicts; one line naming the file and line if it is malformed."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            die(f"{path}:1: empty file")
        for col in required:
            if col not in header:
                die(f"{path}:1: header lacks column '{col}'")
        rows = []
        for rec in reader:
            if len(rec) != len(header):
                die(f"{path}:{reader.line_num}: {len(rec)} fields, header has {len(header)}"
                    " (truncated or malformed row)")
            rows.append(dict(zip(header, rec)))
    return rows


def sc_save(plt, fig, run_dir, name, title):
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(run_dir, f"{name}.{ext}"), dpi=90)
    plt.close(fig)
    return name


def bars(ax, labels, series, ylabel, title, log=False):
    """Grouped bars: series is [(name, [values...], colour)], one group per label."""
    n = max(len(series), 1)
    width = 0.8 / n
    for i, (name, vals, color) in enumerate(series):
        xs = [x + (i - (n - 1) / 2) * width for x in range(len(labels))]
        ys = [0.0 if math.isnan(v) else v for v in vals]
        ax.bar(xs, ys, width, label=name, color=color)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, fontsize=7, rotation=20, ha="right")
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    if log:
        ax.set_yscale("symlog")
    ax.grid(True, axis="y", alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=7)


def ok_rows(rows):
    return [r for r in rows if r.get("status") == "ok"]


def sc_two_generals(plt, run_dir, rows):
    rows = ok_rows(rows)
    models = sorted({r["model"] for r in rows}, key=model_order)
    get = lambda m, k, c: next((num(r[c]) for r in rows if r["model"] == m and r["key"] == k),
                               math.nan)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    bars(axes[0], models, [("no key", [get(m, "off", "duplicates") for m in models], "tab:red"),
                           ("idempotency key", [get(m, "on", "duplicates") for m in models],
                            "tab:green")], "work executed twice", "Duplicates at the backend")
    bars(axes[1], models, [("no key", [get(m, "off", "late") for m in models], "tab:red"),
                           ("idempotency key", [get(m, "on", "late") for m in models],
                            "tab:green")], "answers after EXPIRED", "Late answers")
    return sc_save(plt, fig, run_dir, "two_generals",
                "Two Generals: retries on EXPIRED, without and with an idempotency key")


def sc_herd(plt, run_dir, rows):
    rows = ok_rows(rows)
    labels = [r["variant"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    bars(axes[0], labels, [("wake-ups", [num(r["wakeups_per_conn"]) for r in rows], "tab:blue"),
                           ("useless", [num(r["useless_per_conn"]) for r in rows], "tab:red")],
         "per connection", "Wake-ups per accepted connection")
    bars(axes[1], labels, [("CPU", [num(r["cpu_us_per_conn"]) for r in rows], "tab:purple")],
         "µs per connection", "CPU per accepted connection")
    waiters = rows[0]["waiters"] if rows else "?"
    return sc_save(plt, fig, run_dir, "herd",
                   f"Thundering herd: {waiters} waiters, one listener")


def sc_retry_storm(plt, run_dir, rows):
    rows = ok_rows(rows)
    labels = [r["backoff"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    bars(axes[0], labels, [("completed", [num(r["completed"]) for r in rows], "tab:green"),
                           ("gave up", [num(r["gave_up"]) for r in rows], "tab:red")],
         "tasks", "What got done")
    bars(axes[1], labels, [("BUSY", [num(r["busy"]) for r in rows], "tab:orange")],
         "BUSY answers (429)", "Load the retries added")
    bars(axes[2], labels, [("drain", [num(r["drain_ns"]) / 1e6 for r in rows], "tab:blue")],
         "ms after the last arrival", "Time until the backlog drains")
    return sc_save(plt, fig, run_dir, "retry_storm", "Retry storm above the backend's capacity")


def sc_stale_status(plt, run_dir, rows):
    rows = ok_rows(rows)
    labels = [r["poller"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    bars(axes[0], labels, [("wrong", [100 * num(r["wrong_fraction"]) for r in rows],
                            "tab:red")],
         "% of tasks that finished in time", "Called EXPIRED though COMPLETED")
    per_task = lambda r: num(r["stale_reads"]) / num(r["tasks"])
    bars(axes[1], labels, [("all reads", [num(r["reads_per_task"]) for r in rows], "tab:blue"),
                           ("stale reads", [per_task(r) for r in rows], "tab:orange")],
         "status reads per task", "What confirmation costs: polls")
    bars(axes[2], labels, [("delay", [num(r["expire_delay_ns"]) / 1e3 for r in rows],
                            "tab:purple")],
         "µs from deadline to EXPIRED", "What confirmation costs: time")
    lag = rows[0]["status_lag_us"] if len(rows) < 2 else rows[1]["status_lag_us"]
    return sc_save(plt, fig, run_dir, "stale_status",
                f"Eventual consistency: replicas up to {lag} µs behind; trust one read vs "
                "confirm N")


def sc_durability(plt, run_dir, rows):
    rows = ok_rows(rows)
    labels = [r["way"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    bars(axes[0], labels, [("not durable", [num(r["not_durable_fraction"]) for r in rows],
                            "tab:red")], "fraction of COMPLETED tasks",
         "COMPLETED while the page was dirty")
    bars(axes[1], labels, [("ops/s", [num(r["ops_per_s"]) for r in rows], "tab:blue")],
         "writes per second", "What durability costs", log=True)
    return sc_save(plt, fig, run_dir, "durability", "Completed is not durable")


def sc_faults(plt, run_dir, rows):
    rows = ok_rows(rows)
    main = [r for r in rows if not r["fault"].startswith(("cq-overflow", "none"))]
    cq = [r for r in rows if r["fault"].startswith(("cq-overflow", "none"))]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [4, 1]})
    labels = [f"{r['fault'].split('@')[0]} {r['model']} {r['policy']}" for r in main]
    bars(axes[0], labels, [("failed", [num(r["n_failed"]) for r in main], "tab:red"),
                           ("fault hit", [num(r["faults"]) for r in main], "tab:orange"),
                           ("retries", [num(r["retries"]) for r in main], "tab:blue"),
                           ("duplicates", [num(r["n_dup"]) for r in main], "tab:purple")],
         "tasks", "Each task one terminal state under every fault")
    bars(axes[1], [r["fault"] for r in cq],
         [("CPU", [num(r["cpu_ns_per_task"]) for r in cq], "tab:green")],
         "ns of CPU per NOP", "A tiny CQ vs its control")
    return sc_save(plt, fig, run_dir, "faults", "Faults in every domain")


SCENARIOS = [  # file, columns it must have, how to draw it
    ("two-generals.csv", ["model", "key", "duplicates", "late", "status"], sc_two_generals),
    ("herd.csv", ["variant", "wakeups_per_conn", "useless_per_conn", "status"], sc_herd),
    ("retry-storm.csv", ["backoff", "completed", "busy", "drain_ns", "status"], sc_retry_storm),
    ("stale-status.csv", ["poller", "tasks", "wrong_fraction", "stale_reads", "reads_per_task",
                          "expire_delay_ns", "status"], sc_stale_status),
    ("durability.csv", ["way", "not_durable_fraction", "ops_per_s", "status"], sc_durability),
    ("faults.csv", ["fault", "model", "policy", "n_failed", "faults", "cpu_ns_per_task",
                    "status"], sc_faults),
]


def scenario_figures(plt, run_dir):
    figs = []
    for name, required, draw in SCENARIOS:
        path = os.path.join(run_dir, name)
        if os.path.exists(path):
            figs.append(draw(plt, run_dir, load_plain(path, required)))
    return figs


def main():
    import argparse
    ap = argparse.ArgumentParser(
        prog="plot.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n", 1)[0],
        epilog=__doc__.split("\n\n", 1)[1] + "\nExit 1 on a malformed input file (one line "
        "on stderr naming the file and line).")
    ap.add_argument("run_dir", nargs="?", default=os.path.join("results", "latest"),
                    metavar="RUN_DIR", help="a results directory (default results/latest)")
    run_dir = ap.parse_args().run_dir
    has_scenario = any(os.path.exists(os.path.join(run_dir, n)) for n, _, _ in SCENARIOS)
    server_rows = plot_server.load(run_dir)
    runs = os.path.join(run_dir, "runs.csv")
    server_only = bool(server_rows) and (not os.path.exists(runs) or not os.path.getsize(runs))
    if not has_scenario and not server_only:
        rows = load(run_dir)
        fio = load_fio(run_dir)
        caps = load_models(run_dir, rows)
        bench = load_bench(run_dir)
        cal = load_calibration(run_dir)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        die("matplotlib missing: run with /usr/bin/python3 (Debian's python3-matplotlib)")
    if has_scenario:
        load_models(run_dir)
        # A scenario's cells are its own comparison: its figure, not the benchmark panels.
        figs = scenario_figures(plt, run_dir)
        with open(os.path.join(run_dir, "report.md"), "w") as f:
            f.write("# iomodels scenario\n\n" +
                    "".join(f"![{n}]({n}.png)\n\n" for n in figs))
        html_report.write(sys.modules[__name__], run_dir, [], ["## Verdict on this machine", "",
                          "A scenario directory: its figures and numbers below."], figs,
                          machine_line(run_dir), {})
        print(f"plot: {len(figs)} scenario figures, report.md and report.html in {run_dir}")
        return 0
    if server_only:
        # A bench of section server alone: its figure and report section, nothing else.
        fig = plot_server.figure(plt, server_rows, run_dir)
        with open(os.path.join(run_dir, "report.md"), "w") as f:
            f.write("\n".join(["# iomodels servers", ""] + plot_server.report_lines(server_rows) +
                              ([f"![server](server.png)", ""] if fig else [])))
        print(f"plot: {1 if fig else 0} figures and report.md in {run_dir}")
        return 0
    hists = Hists(run_dir)

    def pooled(key):
        def f(crs):
            p = hists.pooled(crs)
            if p is None:
                return "no histograms"
            return None if p[key] is None else p[key] / 1e3
        return f
    mem, mem_label, _, mem_short = memory_column(timed_ok(rows))
    figs = [
        line_panels(plt, rows, "ops_per_s", "tasks/s", "Throughput vs concurrency "
                    "(dotted: limits; dashed: fio on the same workload)", "throughput", run_dir,
                    limits=lambda wl, pl, xs, prs: throughput_limits(cal, wl, pl, xs, prs),
                    refs=lambda wl, pl: fio_lines(fio, wl, pl)),
        line_panels(plt, rows, "cpu_ns_per_task", "CPU µs per task",
                    "CPU per task (user+sys of the process)", "cpu_per_task", run_dir, scale=1e-3),
        line_panels(plt, rows, "ops_per_cpu_s", "tasks per CPU-second",
                    "Efficiency: tasks per CPU-second", "ops_per_cpu_s", run_dir),
        line_panels(plt, rows, "lat_p50_ns", "p50 latency µs (closed loop)",
                    "Latency p50 (closed loop: from submit; repeats pooled, bars: per-repeat "
                    "range)", "latency_p50", run_dir, scale=1e-3, pooled=pooled("p50")),
        line_panels(plt, rows, "lat_p99_ns", "p99 latency µs (closed loop)",
                    "Latency p99 (closed loop: from submit; shown only with ≥ 1000 samples)",
                    "latency_p99", run_dir, scale=1e-3, pooled=pooled("p99")),
        line_panels(plt, rows, "threads", "threads", "Threads used", "threads", run_dir),
        line_panels(plt, rows, mem, f"{mem_label} MiB", f"Memory per cell ({mem_short})",
                    "rss", run_dir, scale=1 / 2**20),
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
                                scale=1e-3, select=probed_ok))
    cross = crossover(rows)
    figs.append(crossover_figure(plt, cross, run_dir))
    sweeps = rate_sweeps(rows, hists)
    figs.append(rate_figure(plt, sweeps, run_dir))
    if server_rows:
        figs.append(plot_server.figure(plt, server_rows, run_dir))
    report(rows, run_dir, figs, hists, cross, sweeps, fio, caps, bench)
    if server_rows:
        with open(os.path.join(run_dir, "report.md"), "a") as f:
            f.write("\n".join([""] + plot_server.report_lines(server_rows)))
    machine = machine_line(run_dir)
    html_report.write(sys.modules[__name__], run_dir, rows,
                      verdict.verdict_lines(rows, where_name, "", bench=bench), figs, machine,
                      caps)
    made = [f for f in figs if f]
    print(f"plot: {len(made)} figures, report.md and report.html in {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
