# SPDX-License-Identifier: MIT
"""report.html: one self-contained page (inline data, SVG, CSS and a little hand-written JS; no
network) with the verdict, the figures as interactive charts (hover for values and ranges,
toggle models, pick workload, placement and metric), the seed's lanes replayed from the run's
measured timeline.csv, the failure-mode scenarios, and the static figures inline.
"""
import csv
import html
import json
import math
import os
import re

METRICS = (  # column, label, scale, log axis
    ("ops_per_s", "tasks/s", 1.0, True),
    ("cpu_ns_per_task", "CPU µs per task", 1e-3, True),
    ("ops_per_cpu_s", "tasks per CPU-second", 1.0, True),
    ("lat_p50_ns", "p50 latency µs", 1e-3, True),
    ("lat_p99_ns", "p99 latency µs", 1e-3, True),
    ("threads", "threads", 1.0, True),
)
STATE_COLORS = {"oncpu": "#2ca02c", "runnable": "#ff7f0e", "blocked": "#d62728",
                "blocked+iowait": "#9467bd"}
HEX = {"tab:red": "#d62728", "tab:blue": "#1f77b4", "tab:green": "#2ca02c",
       "tab:purple": "#9467bd", "tab:orange": "#ff7f0e", "tab:brown": "#8c564b",
       "tab:pink": "#e377c2", "tab:olive": "#bcbd22", "tab:cyan": "#17becf"}
MAX_LANES = 8


def md_inline(text):
    """The verdict's Markdown (bold, emphasis, code) as HTML, escaped first."""
    t = html.escape(text, quote=False)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    t = re.sub(r"\*(.+?)\*", r"<em>\1</em>", t)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", t)


def md_block(lines):
    out, in_list = [], False
    for line in lines:
        if line.startswith("## "):
            continue
        if line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{md_inline(line[2:])}</li>")
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        if line.strip():
            out.append(f"<p>{md_inline(line)}</p>")
    if in_list:
        out.append("</ul>")
    return "\n".join(out)


def panels(plot, rows):
    """Per (workload, placement): per metric, per series, the points (C, median, min, max, n)."""
    ok = plot.timed_ok(rows)
    # Each cell's own memory where the run measured it (its isolation in the label), else RSS.
    mem, mem_label, _, mem_short = plot.memory_column(ok)
    metrics = METRICS + ((mem, f"memory MiB ({mem_short})", 1.0 / 2**20, False),)
    out = []
    for (wl, pl), prs in sorted(plot.groups(ok, lambda r: (r["bench_workload"],
                                                           r["placement"])).items()):
        p = dict(workload=wl, placement=pl, where=plot.where_name(pl), metrics={})
        for col, label, scale, log in metrics:
            pts = []
            for series, srs in sorted(plot.groups(prs, lambda r: r["model"]).items(),
                                      key=lambda kv: plot.model_order(kv[0])):
                for c, crs in sorted(plot.groups(srs, lambda r: r["concurrency"]).items()):
                    s = plot.summary([plot.num(r.get(col)) for r in crs])
                    if s:
                        pts.append(dict(series=series, c=c, med=s["med"] * scale,
                                        lo=s["lo"] * scale, hi=s["hi"] * scale, n=s["n"],
                                        raw=s["med"]))
            if pts:
                p["metrics"][col] = dict(label=label, log=log, points=pts)
        out.append(p)
    return out


def timeline_data(plot, run_dir, rows):
    path = os.path.join(run_dir, "timeline.csv")
    if not os.path.exists(path):
        return None
    iv = plot.read_csv(path, ["tid", "comm", "state", "start_ns", "end_ns", "cell"],
                       optional=True)
    if not iv:
        return None
    marks = plot.read_csv(path + "-marks.csv", ["tid", "event", "t_ns", "cell"],
                          optional=True) or []
    own = [r for r in rows if r["section"] == "timeline"] or rows
    cells = []
    for cell in sorted({r["cell"] for r in iv}, key=lambda c: (len(c), c)):
        idx = int(cell[3:]) if cell.startswith("row") and cell[3:].isdigit() else -1
        row = own[idx] if 0 <= idx < len(own) else None
        label = (f"{row['model']}, {row['workload']}, C={row['concurrency']}" +
                 (f", repeat {row['repeat']}" if row.get("repeat") not in ("", "0", None)
                  else "") +
                 (f", D={row['latency_us']} µs" if row.get("latency_us") else "") +
                 (f", W={row['cpu_work_us']} µs" if plot.num(row.get("cpu_work_us")) > 0
                  else "")) if row else cell
        threads, order = {}, []
        for r in iv:
            if r["cell"] != cell:
                continue
            if r["tid"] not in threads:
                order.append(r["tid"])
                threads[r["tid"]] = dict(tid=r["tid"], comm=r["comm"], iv=[], marks=[])
            threads[r["tid"]]["iv"].append([r["state"], plot.num(r["start_ns"]) / 1e6,
                                            plot.num(r["end_ns"]) / 1e6])
        for m in marks:
            if m["cell"] == cell and m["tid"] in threads:
                threads[m["tid"]]["marks"].append([m["event"], plot.num(m["t_ns"]) / 1e6])
        # The busiest lanes first (the submitters and workers, not idle helpers).
        lanes = sorted((threads[t] for t in order),
                       key=lambda t: -(len(t["marks"]) * 10 + len(t["iv"])))[:MAX_LANES]
        end = max((i[2] for t in lanes for i in t["iv"]), default=0.0)
        model = row["model"] if row else ""
        cells.append(dict(cell=cell, label=label, model=model, end_ms=end, lanes=lanes,
                          submits=sum(1 for t in lanes for m in t["marks"] if m[0] == "submit"),
                          completes=sum(1 for t in lanes for m in t["marks"]
                                        if m[0] == "complete")))
    return dict(cells=cells, colors=STATE_COLORS)


def scenario_data(plot, run_dir):
    """Each scenario CSV found in the run directory or its scenarios/*/ subdirectories."""
    out = []
    dirs = [run_dir]
    sc = os.path.join(run_dir, "scenarios")
    if os.path.isdir(sc):
        dirs += [os.path.join(sc, d) for d in sorted(os.listdir(sc))]
    for d in dirs:
        for name, required, _ in plot.SCENARIOS:
            path = os.path.join(d, name)
            if os.path.exists(path):
                rows = plot.load_plain(path, required)
                header = list(rows[0].keys()) if rows else []
                out.append(dict(name=name[:-4], header=header,
                                rows=[[r[h] for h in header] for r in rows]))
    return out


def inline_svg(path):
    try:
        with open(path) as f:
            svg = f.read()
    except OSError:
        return ""
    i = svg.find("<svg")
    return svg[i:] if i >= 0 else ""


def write(plot, run_dir, rows, verdict_lines, figures, machine, caps):
    series = sorted({r["model"] for r in rows}, key=plot.model_order)
    data = dict(
        series=[dict(name=s, color=HEX.get(plot.color_of(s), plot.color_of(s)),
                     dash=plot.style_of(s) != "-",
                     desc=caps.get(s, {}).get("desc", "")) for s in series],
        panels=panels(plot, rows) if rows else [],
        timeline=timeline_data(plot, run_dir, rows) if rows else None,
        scenarios=scenario_data(plot, run_dir))
    figs = "".join(
        f'<figure><figcaption>{html.escape(f)}</figcaption>'
        f'{inline_svg(os.path.join(run_dir, f + ".svg"))}</figure>' for f in figures if f)
    page = PAGE.format(
        title=html.escape(f"iomodels report: {os.path.basename(os.path.realpath(run_dir))}"),
        machine=html.escape(machine or ""), verdict=md_block(verdict_lines),
        data=json.dumps(data, allow_nan=False, default=str).replace("</", "<\\/"),
        figures=figs, css=CSS, js=JS)
    with open(os.path.join(run_dir, "report.html"), "w") as f:
        f.write(page)


def clean(v):
    return None if isinstance(v, float) and math.isnan(v) else v


CSS = """
:root{--fg:#1d2330;--mut:#5b6475;--bg:#f6f7f9;--card:#fff;--line:#dfe3ea;--acc:#2457c5}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:20px;font-weight:600}
header p{margin:4px 0 0;color:#b8c0d0;font-size:13px}
main{max-width:1120px;margin:0 auto;padding:18px 20px 60px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 20px;
margin:16px 0;box-shadow:0 1px 2px rgba(0,0,0,.04)}
h2{font-size:17px;margin:0 0 10px}
#verdict li{margin:6px 0}
#verdict p{margin:6px 0;color:var(--mut)}
.controls{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin-bottom:8px}
select,button{font:inherit;font-size:13px;padding:4px 10px;border:1px solid var(--line);
border-radius:6px;background:#fff;cursor:pointer}
button.chip{display:inline-flex;align-items:center;gap:6px}
button.chip .sw{width:12px;height:12px;border-radius:3px;display:inline-block}
button.chip[aria-pressed=false]{opacity:.4;text-decoration:line-through}
button.metric[aria-pressed=true]{background:var(--acc);color:#fff;border-color:var(--acc)}
svg text{font-family:inherit}
.chart{width:100%;height:auto;display:block}
.axis line,.axis path{stroke:#9aa3b2}
.grid line{stroke:#eceff4}
#tip{position:fixed;pointer-events:none;background:#1d2330;color:#fff;font-size:12px;
padding:6px 8px;border-radius:6px;display:none;max-width:320px;z-index:10}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border-bottom:1px solid var(--line);padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
.note{color:var(--mut);font-size:13px}
.lanes{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:14px}
.lane-card h3{font-size:14px;margin:4px 0}
.legend span{display:inline-flex;align-items:center;gap:4px;margin-right:12px;font-size:12px}
.legend i{width:12px;height:12px;display:inline-block;border-radius:2px}
figure{margin:10px 0}figure svg{max-width:100%;height:auto}
figcaption{font-size:13px;color:var(--mut)}
details summary{cursor:pointer;font-weight:600}
.scroll{overflow-x:auto;max-width:100%}
"""

JS = r"""
(function () {
'use strict';
var D = JSON.parse(document.getElementById('iom-data').textContent);
var NS = 'http://www.w3.org/2000/svg';
var st = {panel: 0, metric: 'ops_per_s', hidden: {}};
var tip = document.getElementById('tip');
function el(tag, attrs, parent) {
  var e = document.createElementNS(NS, tag);
  for (var k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function fmt(v) {
  if (v === null || v === undefined || isNaN(v)) return '–';
  var a = Math.abs(v), s = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (var i = 0; i < s.length; i++)
    if (a >= s[i][0]) return +(v / s[i][0]).toPrecision(3) + s[i][1];
  return String(+v.toPrecision(3));
}
function color(name) {
  for (var i = 0; i < D.series.length; i++) if (D.series[i].name === name) return D.series[i];
  return {color: '#777', dash: false};
}
function logTicks(lo, hi) {
  var a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi)), t = [];
  var steps = b - a <= 3 ? [1, 2, 5] : [1];
  for (var e = a; e <= b; e++)
    for (var j = 0; j < steps.length; j++) {
      var v = steps[j] * Math.pow(10, e);
      if (v >= lo * 0.999 && v <= hi * 1.001) t.push(v);
    }
  // Less than a decade: nice linear steps inside it read better than its two ends.
  return t.length >= 3 ? t : linTicks(lo, hi).filter(function (v) { return v > 0; });
}
function linTicks(lo, hi) {
  var span = hi - lo || 1, step = Math.pow(10, Math.floor(Math.log10(span / 5)));
  [1, 2, 5, 10].some(function (m) { if (span / (step * m) <= 6) { step *= m; return true; } });
  var t = [];
  for (var v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) t.push(v);
  return t;
}
function showTip(ev, html) {
  tip.innerHTML = html; tip.style.display = 'block';
  tip.style.left = (ev.clientX + 12) + 'px'; tip.style.top = (ev.clientY + 12) + 'px';
}
function hideTip() { tip.style.display = 'none'; }

function drawChart() {
  var svg = document.getElementById('chart');
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  var p = D.panels[st.panel];
  var tbody = document.getElementById('cells-body');
  tbody.innerHTML = '';
  if (!p) return;
  var m = p.metrics[st.metric];
  if (!m) {
    el('text', {x: 380, y: 180, 'text-anchor': 'middle', fill: '#5b6475'}, svg).textContent =
      'not measured in this panel';
    return;
  }
  var W = 760, H = 360, L = 74, R = 16, T = 14, B = 46;
  var cs = [], ys = [];
  m.points.forEach(function (q) {
    if (cs.indexOf(q.c) < 0) cs.push(q.c);
    ys.push(q.lo, q.hi, q.med);
  });
  cs.sort(function (a, b) { return a - b; });
  var pos = ys.filter(function (v) { return v > 0; });
  var logy = m.log && pos.length === ys.length;
  var ylo, yhi;
  if (logy) { ylo = Math.min.apply(null, pos) / 1.3; yhi = Math.max.apply(null, pos) * 1.3; }
  else { ylo = 0; yhi = Math.max.apply(null, ys.concat([1])) * 1.1; }
  var xl = Math.log2(cs[0]), xh = Math.log2(cs[cs.length - 1]);
  if (xh === xl) { xl -= 1; xh += 1; }
  var pad = (xh - xl) * 0.06;
  function X(c) { return L + (Math.log2(c) - xl + pad) / (xh - xl + 2 * pad) * (W - L - R); }
  function Y(v) {
    if (logy) return T + (Math.log(yhi) - Math.log(Math.max(v, ylo))) /
      (Math.log(yhi) - Math.log(ylo)) * (H - T - B);
    return T + (yhi - v) / (yhi - ylo) * (H - T - B);
  }
  var g = el('g', {'class': 'grid'}, svg), ax = el('g', {'class': 'axis'}, svg);
  (logy ? logTicks(ylo, yhi) : linTicks(ylo, yhi)).forEach(function (v) {
    el('line', {x1: L, x2: W - R, y1: Y(v), y2: Y(v)}, g);
    el('text', {x: L - 6, y: Y(v) + 4, 'text-anchor': 'end', 'font-size': 11,
                fill: '#5b6475'}, ax).textContent = fmt(v);
  });
  cs.forEach(function (c) {  // ticks at the measured C values only
    el('line', {x1: X(c), x2: X(c), y1: H - B, y2: H - B + 5}, ax);
    el('text', {x: X(c), y: H - B + 18, 'text-anchor': 'middle', 'font-size': 11,
                fill: '#5b6475'}, ax).textContent = c;
  });
  el('line', {x1: L, x2: W - R, y1: H - B, y2: H - B}, ax);
  el('line', {x1: L, x2: L, y1: T, y2: H - B}, ax);
  el('text', {x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle', 'font-size': 12},
     ax).textContent = 'concurrency C (tasks in flight)';
  el('text', {transform: 'translate(16,' + (T + H - B) / 2 + ') rotate(-90)',
              'text-anchor': 'middle', 'font-size': 12}, ax).textContent =
    m.label + (logy ? ' (log)' : '');
  var by = {};
  m.points.forEach(function (q) { (by[q.series] = by[q.series] || []).push(q); });
  Object.keys(by).forEach(function (s) {
    var c = color(s), pts = by[s];
    var sg = el('g', {'class': 'series', 'data-series': s}, svg);
    if (st.hidden[s]) sg.style.display = 'none';
    el('path', {d: pts.map(function (q, i) { return (i ? 'L' : 'M') + X(q.c) + ',' + Y(q.med); })
                 .join(''), fill: 'none', stroke: c.color, 'stroke-width': 2,
                'stroke-dasharray': c.dash ? '6 4' : ''}, sg);
    pts.forEach(function (q) {
      el('line', {x1: X(q.c), x2: X(q.c), y1: Y(q.lo), y2: Y(q.hi), stroke: c.color,
                  'stroke-width': 1.5}, sg);
      var dot = el('circle', {cx: X(q.c), cy: Y(q.med), r: 5, fill: c.color, stroke: '#fff',
                              'stroke-width': 1.5, 'data-c': q.c, 'data-value': q.raw}, sg);
      dot.addEventListener('mousemove', function (ev) {
        showTip(ev, '<b>' + s + '</b>, C=' + q.c + '<br>' + m.label + ': ' + fmt(q.med) +
                (q.n > 1 ? ' [' + fmt(q.lo) + '–' + fmt(q.hi) + ']' : '') + '<br>' + q.n +
                ' repeat' + (q.n > 1 ? 's' : ''));
      });
      dot.addEventListener('mouseleave', hideTip);
      var tr = document.createElement('tr');
      tr.setAttribute('data-series', s);
      if (st.hidden[s]) tr.style.display = 'none';
      [s, q.c, fmt(q.med), fmt(q.lo), fmt(q.hi), q.n].forEach(function (v, i) {
        var td = document.createElement('td');
        td.textContent = v;
        if (i === 2) td.setAttribute('data-value', q.raw);
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
  });
}

function setupCharts() {
  var sel = document.getElementById('panel');
  if (!D.panels.length) {
    document.getElementById('charts').style.display = 'none';
    return;
  }
  D.panels.forEach(function (p, i) {
    var o = document.createElement('option');
    o.value = i; o.textContent = p.workload + ', ' + p.where;
    sel.appendChild(o);
  });
  sel.addEventListener('change', function () { st.panel = +sel.value; drawChart(); });
  var mb = document.getElementById('metrics');
  var have = {};
  D.panels.forEach(function (p) { for (var k in p.metrics) have[k] = p.metrics[k].label; });
  Object.keys(have).forEach(function (k) {
    var b = document.createElement('button');
    b.className = 'metric'; b.textContent = have[k]; b.setAttribute('data-metric', k);
    b.setAttribute('aria-pressed', k === st.metric);
    b.addEventListener('click', function () {
      st.metric = k;
      mb.querySelectorAll('button').forEach(function (x) {
        x.setAttribute('aria-pressed', x === b);
      });
      drawChart();
    });
    mb.appendChild(b);
  });
  var chips = document.getElementById('models');
  D.series.forEach(function (s) {
    var b = document.createElement('button');
    b.className = 'chip'; b.setAttribute('aria-pressed', 'true');
    b.setAttribute('data-series', s.name); b.title = s.desc || s.name;
    b.innerHTML = '<span class="sw"></span>';
    b.firstChild.style.background = s.color;
    b.appendChild(document.createTextNode(s.name));
    b.addEventListener('click', function () {
      st.hidden[s.name] = !st.hidden[s.name];
      b.setAttribute('aria-pressed', !st.hidden[s.name]);
      drawChart();
    });
    chips.appendChild(b);
  });
  drawChart();
}

function setupLanes() {
  var box = document.getElementById('lanes');
  var tl = D.timeline;
  if (!tl || !tl.cells.length) return;
  document.getElementById('no-timeline').style.display = 'none';
  document.getElementById('lane-controls').style.display = '';
  var end = Math.max.apply(null, tl.cells.map(function (c) { return c.end_ms; }));
  var clips = [], cursors = [], marks = [], Wd = 520, L = 92, R = 10;
  function X(t) { return L + t / end * (Wd - L - R); }
  tl.cells.forEach(function (c, ci) {
    var card = document.createElement('div');
    card.className = 'lane-card';
    var h = document.createElement('h3');
    h.textContent = c.label;
    card.appendChild(h);
    var Hh = 22 + c.lanes.length * 22;
    var svg = el('svg', {viewBox: '0 0 ' + Wd + ' ' + Hh, 'class': 'chart'});
    var clip = el('clipPath', {id: 'clip' + ci}, el('defs', {}, svg));
    var cr = el('rect', {x: 0, y: 0, width: L, height: Hh}, clip);
    clips.push(cr);
    c.lanes.forEach(function (ln, li) {
      var y = 6 + li * 22;
      el('text', {x: L - 6, y: y + 13, 'text-anchor': 'end', 'font-size': 11,
                  fill: '#5b6475'}, svg).textContent = ln.comm;
      el('rect', {x: L, y: y, width: Wd - L - R, height: 16, fill: '#f1f3f6'}, svg);
      var g = el('g', {'clip-path': 'url(#clip' + ci + ')'}, svg);
      ln.iv.forEach(function (iv) {
        var r = el('rect', {x: X(iv[1]), y: y, width: Math.max(0.5, X(iv[2]) - X(iv[1])),
                            height: 16, fill: tl.colors[iv[0]] || '#999'}, g);
        r.addEventListener('mousemove', function (ev) {
          showTip(ev, ln.comm + ' (tid ' + ln.tid + '): ' + iv[0] + '<br>' +
                  iv[1].toFixed(3) + '–' + iv[2].toFixed(3) + ' ms');
        });
        r.addEventListener('mouseleave', hideTip);
      });
      ln.marks.forEach(function (mk) {
        var x = X(mk[1]);
        var e = mk[0] === 'submit' ?
          el('line', {x1: x, x2: x, y1: y - 2, y2: y + 18, stroke: '#111', 'stroke-width': 1.2}, svg) :
          el('path', {d: 'M' + (x - 3) + ',' + (y + 5) + 'l6,6m0,-6l-6,6', stroke: '#111',
                      'stroke-width': 1.4}, svg);
        e.style.visibility = 'hidden';
        marks.push([mk[1], e]);
      });
    });
    var cur = el('line', {x1: L, x2: L, y1: 0, y2: Hh, stroke: '#2457c5', 'stroke-width': 1.5}, svg);
    cursors.push(cur);
    card.appendChild(svg);
    var p = document.createElement('p');
    p.className = 'note';
    p.textContent = c.submits + ' submits, ' + c.completes + ' completions marked on these ' +
      c.lanes.length + ' threads';
    card.appendChild(p);
    box.appendChild(card);
  });
  var player = document.getElementById('player'), btn = document.getElementById('play');
  var slider = document.getElementById('scrub'), clock = document.getElementById('clock');
  var t = 0, playing = true, last = null, speed = end / 12000;  // the window in ~12 s
  function show(tt) {
    t = Math.min(tt, end);
    var x = X(t);
    clips.forEach(function (r) { r.setAttribute('width', x); });
    cursors.forEach(function (l) { l.setAttribute('x1', x); l.setAttribute('x2', x); });
    marks.forEach(function (m) { m[1].style.visibility = m[0] <= t ? 'visible' : 'hidden'; });
    player.setAttribute('data-t', t.toFixed(3));
    clock.textContent = 't = ' + t.toFixed(2) + ' of ' + end.toFixed(1) + ' ms';
    slider.value = Math.round(t / end * 1000);
  }
  function frame(now) {
    if (playing) {
      if (last !== null) show(t + (now - last) * speed >= end ? 0 : t + (now - last) * speed);
      last = now;
    }
    requestAnimationFrame(frame);
  }
  btn.addEventListener('click', function () {
    playing = !playing; last = null; btn.textContent = playing ? 'Pause' : 'Play';
  });
  slider.addEventListener('input', function () { show(slider.value / 1000 * end); });
  show(0);
  requestAnimationFrame(frame);
}

function setupScenarios() {
  var box = document.getElementById('scenarios');
  if (!D.scenarios.length) return;
  document.getElementById('no-scenarios').style.display = 'none';
  D.scenarios.forEach(function (sc) {
    var h = document.createElement('h3');
    h.textContent = sc.name;
    box.appendChild(h);
    var tbl = document.createElement('table'), tr = document.createElement('tr');
    sc.header.forEach(function (c) {
      var th = document.createElement('th'); th.textContent = c; tr.appendChild(th);
    });
    tbl.appendChild(tr);
    sc.rows.forEach(function (r) {
      var row = document.createElement('tr');
      r.forEach(function (v) {
        var td = document.createElement('td'); td.textContent = v; row.appendChild(td);
      });
      tbl.appendChild(row);
    });
    var wrap = document.createElement('div');
    wrap.className = 'scroll';
    wrap.appendChild(tbl);
    box.appendChild(wrap);
  });
}

setupCharts();
setupLanes();
setupScenarios();
})();
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header><h1>{title}</h1><p>{machine}</p></header>
<main>
<section id="verdict"><h2>Verdict on this machine</h2>
{verdict}
</section>
<section id="charts"><h2>The measurements</h2>
<div class="controls"><label>Workload and placement <select id="panel"></select></label>
<span id="metrics"></span></div>
<div class="controls" id="models" title="click a model to hide or show it"></div>
<svg id="chart" class="chart" viewBox="0 0 760 360" role="img"
 aria-label="the selected metric against concurrency, one line per model"></svg>
<p class="note">Medians over repeats; the vertical bars span min–max. Hover a point for its
values; click a model to hide it. The x ticks are the measured concurrencies.</p>
<details><summary>The numbers behind the chart</summary>
<table><thead><tr><th>model</th><th>C</th><th>median</th><th>min</th><th>max</th>
<th>repeats</th></tr></thead><tbody id="cells-body"></tbody></table></details>
</section>
<section id="lanes-section"><h2>The seed's lanes, measured</h2>
<p class="note">The blocked sync client beside the async one that submits, gets a task id and
reaps: each thread's state from the eBPF sched probe (green on CPU, red blocked, orange waiting
for a CPU), | a submit, × a completion, replayed at the measured times.</p>
<div class="legend"><span><i style="background:#2ca02c"></i>on CPU</span>
<span><i style="background:#d62728"></i>blocked</span>
<span><i style="background:#ff7f0e"></i>waiting for a CPU</span>
<span><i style="background:#9467bd"></i>blocked in I/O wait</span></div>
<div class="controls" id="lane-controls" style="display:none"><button id="play">Pause</button>
<input id="scrub" type="range" min="0" max="1000" value="0">
<span id="clock"></span><span id="player" data-t="0"></span></div>
<div class="lanes" id="lanes"></div>
<p class="note" id="no-timeline">This run has no timeline: make bench records one, or
<code>iomodels run --probes on --timeline RUN_DIR/timeline.csv</code>.</p>
</section>
<section id="scenarios-section"><h2>Failure-mode scenarios</h2>
<div id="scenarios"></div>
<p class="note" id="no-scenarios">No scenario in this run directory
(<code>iomodels scenario NAME --output DIR</code>).</p>
</section>
<section><details><summary>Every figure (static)</summary>{figures}</details></section>
</main>
<div id="tip"></div>
<script type="application/json" id="iom-data">{data}</script>
<script>{js}</script>
</body>
</html>
"""
