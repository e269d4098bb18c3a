# SPDX-License-Identifier: MIT
"""The verdict and the statistics behind it, shared by plot.py, compare and the HTML report.

A cell is one point of the measured space: workload, placement, C, D, W (and the offered rate
for open-loop rows). A series is one model with one configuration (its variant, e.g. uring's
timer-heap vs timeout-per-task, and its options): rows of different series are never pooled as
repeats. Ratios of medians carry a 95% percentile-bootstrap interval over the repeats (each side
resampled on its own, a fixed random seed so the report is reproducible).
"""
import math
import random
import statistics

# What a row was configured with, besides its model: rows that differ here are not repeats.
CONFIG_KEYS = ("variant", "model_flags", "jobs", "batch_complete", "probes", "fault",
               "latency_dist", "deadline_us", "bs", "rw", "direct", "size_bytes", "payload")
# What a row measured at: the cell.
CELL_KEYS = ("bench_workload", "placement", "concurrency", "latency_us", "cpu_work_us", "mode",
             "rate_target")
NOISY_CV = 0.10
BOOT = 2000


def num(v):
    try:
        return float(v) if v not in ("", None) else math.nan
    except (TypeError, ValueError):
        return math.nan


def flags_of(r):
    return {f for f in r.get("flags", "").split(";") if f}


def config_of(r):
    return tuple((k, str(r.get(k, ""))) for k in CONFIG_KEYS)


def cell_of(r):
    out = []
    for k in CELL_KEYS:
        v = r.get(k, "") if k != "bench_workload" else r.get(k) or r.get("workload", "")
        if k in ("latency_us", "cpu_work_us", "rate_target"):
            f = num(v)
            # No CPU work is W = 0, whether the column is empty or says 0.
            v = (0.0 if k == "cpu_work_us" else "") if math.isnan(f) else f
        out.append((k, v))
    return tuple(out)


def label_series(rows, keys=CONFIG_KEYS):
    """Give every row its 'series': the model, plus what tells its configurations apart when
    one cell holds rows of that model in more than one configuration (two runs concatenated,
    uring's timer-heap and timeout-per-task): those are never pooled as repeats. What differs
    from cell to cell only (threads' jobs = C, each workload's own variant) does not split."""
    per_cell = {}
    for r in rows:
        if r.get("probed", "0") not in ("0", ""):
            continue
        per_cell.setdefault((r["model"], r.get("section", ""), cell_of(r)), set()).add(
            tuple(str(r.get(k, "")) for k in keys))
    # Per model and workload: uring's nop rows have no timer variant to tell apart.
    split = {}
    for (model, _, cell), configs in per_cell.items():
        if len(configs) > 1:
            for i, k in enumerate(keys):
                if len({c[i] for c in configs}) > 1:
                    split.setdefault((model, dict(cell)["bench_workload"]), set()).add(k)
    wl = lambda r: (r["model"], r.get("bench_workload", r.get("workload")))
    tokens = {}
    for r in rows:
        if "variant" in split.get(wl(r), ()):
            tokens.setdefault(wl(r), []).append(set(r.get("variant", "").split("+")))
    for r in rows:
        ks = [k for k in keys if k in split.get(wl(r), ())]
        if not ks:
            r["series"] = r["model"]
            continue
        parts = []
        for k in ks:
            if k == "variant":
                common = set.intersection(*tokens[wl(r)])
                own = [t for t in r.get("variant", "").split("+") if t not in common]
                parts.append("+".join(own) or r.get("variant", "") or "default")
            else:
                parts.append(f"{k}={r.get(k, '')}")
        r["series"] = f"{r['model']} ({', '.join(parts)})"
    return rows


def split_keys(ra, rb, keys=CONFIG_KEYS):
    """The configuration keys in which two groups of rows differ."""
    return [k for k in keys if {str(r.get(k, "")) for r in ra} != {str(r.get(k, "")) for r in rb}]


def median(vals):
    return statistics.median(vals)


def ratio_ci(a, b, seed=1):
    """median(a)/median(b) and a 95% bootstrap interval (None, None with a single repeat on
    either side: nothing to resample)."""
    a = [v for v in a if not math.isnan(v)]
    b = [v for v in b if not math.isnan(v)]
    if not a or not b or median(b) == 0:
        return None, None, None
    r = median(a) / median(b)
    if len(a) < 2 or len(b) < 2:
        return r, None, None
    rng = random.Random(seed)
    boots = []
    for _ in range(BOOT):
        mb = median(rng.choices(b, k=len(b)))
        if mb > 0:
            boots.append(median(rng.choices(a, k=len(a))) / mb)
    boots.sort()
    lo = boots[int(0.025 * (len(boots) - 1))]
    hi = boots[int(math.ceil(0.975 * (len(boots) - 1)))]
    return r, lo, hi


def noisy(vals):
    vals = [v for v in vals if not math.isnan(v)]
    if len(vals) < 2:
        return False
    m = median(vals)
    return m > 0 and statistics.pstdev(vals) / m > NOISY_CV


def clean_rows(rows):
    """(rows, how many set aside): the repeats that ran beside foreign CPU are set aside when
    at least two clean ones remain (make bench re-runs noisy cells to get them)."""
    clean = [r for r in rows if "foreign_cpu" not in flags_of(r)]
    if len(clean) >= 2 and len(clean) < len(rows):
        return clean, len(rows) - len(clean)
    return rows, 0


def compare_series(ra, rb, metric="ops_per_s"):
    """Series a against series b in one cell: {ratio, lo, hi, n, foreign, noise, caveats}.
    Beside foreign CPU the interval is widened to the full range (min a / max b .. max a /
    min b) and marked; in flight != C is reported as a property, never hides the ratio."""
    ra, rb, aside = clean_rows(ra), clean_rows(rb), 0
    aside = ra[1] + rb[1]
    ra, rb = ra[0], rb[0]
    va = [num(r.get(metric)) for r in ra]
    vb = [num(r.get(metric)) for r in rb]
    ratio, lo, hi = ratio_ci(va, vb)
    if ratio is None:
        return None
    va = [v for v in va if not math.isnan(v)]
    vb = [v for v in vb if not math.isnan(v)]
    foreign = any("foreign_cpu" in flags_of(r) for r in ra + rb)
    caveats = [f"{aside} repeat(s) beside foreign CPU set aside"] if aside else []
    if foreign:
        caveats.append("foreign CPU")
        if len(va) > 1 and len(vb) > 1 and min(vb) > 0:
            lo, hi = min(lo, min(va) / max(vb)), max(hi, max(va) / min(vb))
    cpus = {r.get("cpus", "") for r in ra + rb}
    if len(cpus) > 1:
        caveats.append("CPU sets differ (" + " vs ".join(sorted(cpus)) + ")")
    for f, text in (("backend_bound", "backend-bound"), ("queue_full", "queue full")):
        if any(f in flags_of(r) for r in ra + rb):
            caveats.append(text)
    if any(num(r.get("cq_overflow")) > 0 for r in ra + rb):
        caveats.append("CQ overflow")
    props = []
    for name, rs in ((ra[0].get("series", ra[0]["model"]), ra),
                     (rb[0].get("series", rb[0]["model"]), rb)):
        if any("inflight_off" in flags_of(r) for r in rs):
            inf = [num(r.get("inflight_avg")) for r in rs]
            inf = [v for v in inf if not math.isnan(v)]
            props.append(f"{name} keeps {median(inf):.3g} of C={rs[0]['concurrency']} in flight"
                         if inf else f"{name}: in flight ≠ C")
    n = min(len(va), len(vb))
    within = lo is not None and lo <= 1.0 <= hi
    return dict(ratio=ratio, lo=lo, hi=hi, n=n, foreign=foreign, within=within,
                caveats=caveats, props=props)


def fmt_ratio(c):
    """'1.95× [1.80–2.10]', '(one repeat: no interval)', with the foreign CPU mark."""
    if c is None:
        return "–"
    if c["lo"] is None:
        txt = f"{c['ratio']:.2f}× (one repeat: no interval)"
    else:
        txt = f"{c['ratio']:.2f}× [{c['lo']:.2f}–{c['hi']:.2f}]"
    if c["foreign"]:
        txt += " ‡"
    return txt


def _describe(cell, vary=("concurrency", "latency_us", "cpu_work_us", "rate_target")):
    """'C=16 D=1000': the cell's values of the keys in vary (those that vary in its table)."""
    d = dict(cell)
    parts = []
    for k, short in (("concurrency", "C"), ("latency_us", "D"), ("cpu_work_us", "W")):
        v = d.get(k, "")
        if k not in vary:
            continue
        if v in ("", None) or (isinstance(v, float) and math.isnan(v)):
            continue
        parts.append(f"{short}={v:g}" if isinstance(v, float) else f"{short}={v}")
    if d.get("rate_target") not in ("", None) and "rate_target" in vary:
        parts.append(f"rate={d['rate_target']:g}/s")
    return " ".join(parts)


def cell_table(rows, metric="ops_per_s"):
    """{(workload, placement): [(cell, {series: rows})]} over closed-loop timed rows."""
    out = {}
    for r in rows:
        if r.get("status") != "ok" or r.get("probed", "0") not in ("0", "") or \
                r.get("mode", "closed") == "open" or math.isnan(num(r.get(metric))) or \
                r.get("section", "matrix") not in ("matrix", "crossover"):
            continue
        key = (r.get("bench_workload", r["workload"]), r.get("placement", ""))
        cells = out.setdefault(key, {})
        cells.setdefault(cell_of(r), {}).setdefault(r.get("series", r["model"]), []).append(r)
    return {k: sorted(v.items(), key=lambda cv: _cell_order(cv[0])) for k, v in out.items()}


def _cell_order(cell):
    d = dict(cell)
    f = lambda k: (0.0 if d.get(k) in ("", None) else float(d[k]))
    return (f("latency_us"), f("cpu_work_us"), int(d.get("concurrency") or 0))


def cell_verdict(series_rows, metric="ops_per_s"):
    """The leaders of one cell and their margin over the next model: dict or None.
    lead: the fastest series and every one within noise of it ("uring ≈ epoll"); second: the
    fastest series clearly behind; cmp: the slowest leader against it (the margin they all
    have), or, when every series is within noise, the fastest against the runner-up."""
    meds = {}
    for s, rs in series_rows.items():
        vals = [num(r.get(metric)) for r in rs]
        vals = [v for v in vals if not math.isnan(v)]
        if vals:
            meds[s] = median(vals)
    if len(meds) < 2:
        return None
    order = sorted(meds, key=lambda s: -meds[s])
    tied = [order[0]]
    for s in order[1:]:
        c = compare_series(series_rows[order[0]], series_rows[s], metric)
        if c and c["within"]:
            tied.append(s)
    behind = [s for s in order if s not in tied]
    noisy_cell = any(noisy([num(r.get(metric)) for r in clean_rows(rs)[0]]) or
                     any("foreign_cpu" in flags_of(r) for r in clean_rows(rs)[0])
                     for rs in series_rows.values())
    if behind:
        c = compare_series(series_rows[tied[-1]], series_rows[behind[0]], metric)
        # Named in a fixed order, so "uring ≈ epoll" and "epoll ≈ uring" are one leader.
        lead, second = " ≈ ".join(sorted(tied)), behind[0]
    else:
        c = compare_series(series_rows[order[0]], series_rows[order[1]], metric)
        lead, second = order[0], order[1]
    server_bound = any("backend_bound" in flags_of(r)
                       for rs in series_rows.values() for r in rs)
    return dict(lead=lead, second=second, cmp=c, noisy=noisy_cell, tied=len(tied),
                reps=min(len(rs) for rs in series_rows.values()), server_bound=server_bound)


def where_text(cells):
    """'C=1–256' style span of a list of cells (their C, D and W values)."""
    spans = []
    for k, short in (("concurrency", "C"), ("latency_us", "D"), ("cpu_work_us", "W")):
        vals = sorted({float(dict(c)[k]) for c in cells
                       if dict(c).get(k) not in ("", None)})
        if not vals:
            continue
        unit = "" if k == "concurrency" else " µs"
        spans.append(f"{short}={vals[0]:g}{unit}" if len(vals) == 1 else
                     f"{short}={vals[0]:g}–{vals[-1]:g}{unit}")
    return ", ".join(spans)


describe_cell = _describe


def workload_verdict(wl, where, cells, metric="ops_per_s"):
    """One line: the winner over the workload's measured range, by how much, how sure, where
    the lead changes hands, and where it is within noise."""
    verdicts = [(cell, cell_verdict(sr, metric)) for cell, sr in cells]
    verdicts = [(c, v) for c, v in verdicts if v]
    if not verdicts:
        return None, 0, 0
    # A cell whose rpc server was the bottleneck measured the server, not the clients: it is
    # named as such and ranks no model.
    bound = [(c, v) for c, v in verdicts if v["server_bound"]]
    ranked = [(c, v) for c, v in verdicts if not v["server_bound"]]
    clear = [(c, v) for c, v in ranked if not v["cmp"]["within"]]
    keys = ("concurrency", "latency_us", "cpu_work_us")
    vary = [k for k in keys if len({dict(c).get(k) for c, _ in verdicts}) > 1] or ["concurrency"]

    def describe_cell(cell):
        return _describe(cell, vary)

    def cell_list(cs, most=3):
        """'C=16, 256, 1024' when only C varies, else each cell in full; the rest counted."""
        if vary == ["concurrency"]:
            txt = "C=" + ", ".join(str(dict(c)["concurrency"]) for c in cs[:most])
        else:
            txt = ", ".join(describe_cell(c) for c in cs[:most])
        return txt + (f" and {len(cs) - most} more" if len(cs) > most else "")
    wins = {}
    for c, v in clear:
        wins.setdefault(v["lead"], []).append((c, v))
    head = f"**{wl}, {where}** ({where_text([c for c, _ in verdicts])}): "
    parts = []
    for s, cv in sorted(wins.items(), key=lambda kv: -len(kv[1])):
        best = max(cv, key=lambda x: x[1]["cmp"]["ratio"])
        scope = ("everywhere measured" if len(cv) == len(verdicts) else
                 "at " + cell_list([c for c, _ in cv]))
        margin = f"{fmt_ratio(best[1]['cmp'])} over {best[1]['second']}"
        if len(cv) > 1:
            least = min(v["cmp"]["ratio"] for _, v in cv)
            margin = (f"{least:.2f}× to {margin}" + f" at {describe_cell(best[0])}")
        verb = "lead, within noise of each other," if " ≈ " in s else "leads"
        parts.append(f"{s} {verb} {scope} by {margin}")
    noise = [(c, v) for c, v in ranked if v["cmp"]["within"]]
    if noise:
        c0, v0 = noise[0]
        parts.append(f"no clear leader, within noise, at {describe_cell(c0)} ({v0['lead']} vs "
                     f"{v0['second']} {fmt_ratio(v0['cmp'])})" +
                     (f" and at {cell_list([c for c, _ in noise[1:]], 2)}"
                      if len(noise) > 1 else ""))
    if bound:
        parts.append(f"server-bound at {cell_list([c for c, _ in bound])} (the rpc server used "
                     f"over 70% of its CPUs): the clients not ranked there")
    if not clear and not noise and not bound:
        parts.append("no cell with two models")
    # Where the lead changes hands along the cells' order (D, W, then C): only between
    # leaders that share no model (uring → uring ≈ epoll is not a change of hands).
    hands = []
    prev = None
    for c, v in clear:
        if prev and not set(prev[1]["lead"].split(" ≈ ")) & set(v["lead"].split(" ≈ ")):
            hands.append(f"{prev[1]['lead']} → {v['lead']} between {describe_cell(prev[0])} "
                         f"and {describe_cell(c)}")
        prev = (c, v)
    if hands:
        parts.append("the lead changes hands " + "; ".join(hands[:2]) +
                     (f" (and {len(hands) - 2} more times)" if len(hands) > 2 else ""))
    one = [v for _, v in ranked if v["cmp"]["lo"] is None]
    if one:
        parts.append(f"{len(one)} cell(s) with one repeat: no interval")
    noisy_n = sum(1 for _, v in verdicts if v["noisy"])
    return head + "; ".join(parts) + ".", len(verdicts), noisy_n


def verdict_lines(rows, where_name, machine="", metric="ops_per_s", bench=None):
    """The "Verdict on this machine" section: at most ~15 lines, every word from the rows."""
    table = cell_table(rows, metric)
    lines = ["## Verdict on this machine", ""]
    if machine:
        lines += [machine, ""]
    body, ncells, nnoisy = [], 0, 0
    for (wl, pl), cells in sorted(table.items()):
        line, n, nn = workload_verdict(wl, where_name(pl), cells, metric)
        if line:
            body.append("- " + line)
            ncells += n
            nnoisy += nn
    if not body:
        return lines + ["No cell has two models measured side by side: no verdict.", ""]
    reps = sorted({len(rs) for cells in table.values() for _, sr in cells
                   for rs in sr.values()})
    rep_txt = (f"{reps[0]}" if len(reps) == 1 else f"{reps[0]}–{reps[-1]}")
    lines.append(f"Throughput (tasks/s), closed loop: the leader of each cell against the "
                 f"runner-up, ratio of medians over {rep_txt} repeat(s) with a 95% bootstrap "
                 f"interval; *within noise* where the interval spans 1; ‡ beside foreign CPU "
                 f"(interval widened to the full min–max range; repeats beside foreign CPU are "
                 f"set aside where two clean ones remain).")
    lines += [""] + body + [""]
    extra = ""
    if bench and bench.get("noise"):
        nz = bench["noise"]
        extra = (f" `make bench` re-ran {nz.get('cells_retried', 0)} noisy cell(s) with "
                 f"{nz.get('repeats_added', 0)} extra repeat(s) (cap {nz.get('cap', '?')} "
                 f"repeats, budget {nz.get('budget_s', '?')} s).")
    lines.append(f"{nnoisy} of {ncells} cells stayed noisy (repeats' cv > "
                 f"{100 * NOISY_CV:.0f}% or beside foreign CPU).{extra}")
    lines.append("")
    return lines
