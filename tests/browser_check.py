#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Open RUN_DIR/report.html in headless Chromium (Debian's chromium + chromium-driver, driven by
python3-selenium) and check it: no console error; every chart's numbers equal the medians of
runs.csv's rows; toggling a model hides its series; the lanes' animation advances; the
screenshot (written to SHOT) is not blank.

Usage: /usr/bin/python3 tests/browser_check.py RUN_DIR SHOT.png
Exit 0 when every check passes, 1 with one line naming the first that failed, 77 when the
browser or selenium is not installed.
"""
import csv
import io
import math
import os
import shutil
import statistics
import sys
import tempfile
import time


def fail(msg):
    print(f"browser_check: {msg}", file=sys.stderr)
    sys.exit(1)


def expected_medians(run_dir):
    """{(workload, placement, series, C): median ops/s} from runs.csv, as plot.py groups it."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
    import plot
    rows = plot.timed_ok(plot.load(run_dir))
    out = {}
    for r in rows:
        out.setdefault((r["bench_workload"], r["placement"], r["model"], r["concurrency"]),
                       []).append(float(r["ops_per_s"]))
    return {k: statistics.median(v) for k, v in out.items()}, plot


def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        print("browser_check: python3-selenium not installed", file=sys.stderr)
        sys.exit(77)
    chrome = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not os.path.exists(chrome) or not os.path.exists(driver):
        print("browser_check: chromium or chromedriver not installed", file=sys.stderr)
        sys.exit(77)
    profile = tempfile.mkdtemp(prefix="iom-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run",
              "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,1700"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts), profile


def main():
    if len(sys.argv) != 3:
        print("usage: browser_check.py RUN_DIR SHOT.png", file=sys.stderr)
        return 2
    run_dir, shot = sys.argv[1], sys.argv[2]
    want, plot = expected_medians(run_dir)
    drv, profile = browser()
    try:
        drv.get("file://" + os.path.abspath(os.path.join(run_dir, "report.html")))
        time.sleep(0.5)
        errors = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
        if errors:
            fail(f"console error: {errors[0].get('message')}")
        if "Verdict on this machine" not in drv.find_element("id", "verdict").text:
            fail("no verdict section")
        # The numbers: every panel's tasks/s, as the table under the chart holds them.
        panels = drv.execute_script("return JSON.parse(document.getElementById('iom-data')"
                                    ".textContent).panels.map(p => [p.workload, p.placement]);")
        seen = 0
        for i, (wl, pl) in enumerate(panels):
            drv.execute_script("var s = document.getElementById('panel'); s.value = arguments[0];"
                               "s.dispatchEvent(new Event('change'));", str(i))
            cells = drv.execute_script(
                "return Array.from(document.querySelectorAll('#cells-body tr')).map(tr => "
                "[tr.dataset.series, +tr.children[1].textContent, "
                "+tr.children[2].dataset.value]);")
            for series, c, value in cells:
                exp = want.get((wl, pl, series, c))
                if exp is None or not math.isclose(exp, value, rel_tol=1e-9):
                    fail(f"{wl} {pl} {series} C={c}: page says {value}, runs.csv {exp}")
                seen += 1
            dots = drv.execute_script("return document.querySelectorAll('#chart circle').length")
            if dots != len(cells):
                fail(f"{wl} {pl}: {dots} points drawn, {len(cells)} in the table")
        if seen != len(want):
            fail(f"{seen} numbers on the page, {len(want)} cells in runs.csv")
        print(f"ok: {seen} medians on the page equal runs.csv's")
        # Toggling a model hides its series (and only its series).
        drv.execute_script("var s = document.getElementById('panel'); s.value = '0';"
                           "s.dispatchEvent(new Event('change'));")
        names = drv.execute_script("return Array.from(document.querySelectorAll("
                                   "'#chart g.series')).map(g => g.dataset.series);")
        if len(names) < 2:
            fail("fewer than two series in the first panel")
        chip = drv.find_element("css selector", f"#models button[data-series='{names[0]}']")
        chip.click()
        shown = drv.execute_script(
            "return Array.from(document.querySelectorAll('#chart g.series')).map(g => "
            "[g.dataset.series, getComputedStyle(g).display !== 'none']);")
        if dict(shown).get(names[0]) or not dict(shown).get(names[1]):
            fail(f"after clicking {names[0]}: {shown}")
        chip.click()
        print(f"ok: clicking {names[0]} hides its series, {names[1]} stays")
        # The lanes' animation advances.
        if drv.execute_script("return JSON.parse(document.getElementById('iom-data')"
                              ".textContent).timeline !== null"):
            t0 = float(drv.find_element("id", "player").get_attribute("data-t"))
            time.sleep(1.0)
            t1 = float(drv.find_element("id", "player").get_attribute("data-t"))
            if not t1 > t0:
                fail(f"the animation did not advance ({t0} -> {t1} ms)")
            print(f"ok: the lanes' animation advanced from {t0} to {t1} ms")
        # Hover: a point's tooltip names its values.
        from selenium.webdriver.common.action_chains import ActionChains
        drv.execute_script("document.getElementById('chart').scrollIntoView({block: 'center'})")
        dots = drv.find_elements("css selector", "#chart circle")
        ActionChains(drv).move_to_element(dots[-1]).perform()  # drawn last: on top
        tip = drv.find_element("id", "tip").text
        if "C=" not in tip:
            fail(f"hovering a point shows no values ('{tip}')")
        print("ok: hover shows " + tip.replace("\n", " "))
        drv.execute_script("window.scrollTo(0, 0)")
        png = drv.get_screenshot_as_png()
        with open(shot, "wb") as f:
            f.write(png)
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.image as mpimg
        img = mpimg.imread(io.BytesIO(png))
        colours = {tuple(px) for px in img[::8, ::8, :3].reshape(-1, 3).round(2).tolist()}
        if len(colours) < 20:
            fail(f"the screenshot is blank ({len(colours)} colours)")
        print(f"ok: screenshot {shot}, {len(colours)} colours")
        errors = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
        if errors:
            fail(f"console error: {errors[0].get('message')}")
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
