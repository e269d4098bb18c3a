// SPDX-License-Identifier: MIT
/*
 * The bundled scripts: plot.py draws every figure and writes report.md from a small real run and
 * from a small real `make bench` run (every section: matrix, crossover, rate, fio), draws each
 * scenario's figure from a small real run of it, judges a synthetic run's crossover and noise
 * the way the report says it does, and refuses a truncated or malformed CSV with one line
 * naming the file and the line; bench refuses bad options; compare-fio pairs iomodels and fio
 * and refuses bad options; targets pairs each speed target with its reference (ratios from the
 * pairs, a verdict) and refuses bad options; probe-overhead judges the probes' cost from paired runs, with a 95%
 * interval.
 */
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char dir[] = "/tmp/iom-test-scripts-XXXXXX";
static bool have_fio;

/* Run a shell command; its exit status, stderr captured into err. */
static int sh(const char *cmd, char *err, size_t errlen)
{
	char full[4096], path[PATH_MAX];
	FILE *f;
	int status;
	size_t n;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	snprintf(full, sizeof(full), "%s 2>%s >/dev/null", cmd, path);
	status = system(full);
	f = fopen(path, "r");
	n = f ? fread(err, 1, errlen - 1, f) : 0;
	err[n] = '\0';
	if (f)
		fclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool have_matplotlib(void)
{
	return system("/usr/bin/python3 -c 'import matplotlib' 2>/dev/null") == 0;
}

static int make_fixture(void **state)
{
	char cmd[2048], err[4096];
	const char *bin = getenv("IOM_BIN");

	if (!mkdtemp(dir) || !bin)
		return -1;
	have_fio = system("command -v fio >/dev/null 2>&1") == 0;
	/* A real, small run: two models, two workloads, two concurrencies. */
	snprintf(cmd, sizeof(cmd), "%s run --model threads,uring --workload nop,timer "
		 "--concurrency 1,4 --tasks 400 --latency-us 100 --quiet --output %s/run", bin, dir);
	if (sh(cmd, err, sizeof(err)))
		return -1;
	/*
	 * A real, small bench: every section (the crossover's quick axes, three offered rates,
	 * fio when it is installed), a 50 ms window, its file in the fixture directory.
	 */
	snprintf(cmd, sizeof(cmd), "%s scripts/bench --quick --models threads,uring --workloads "
		 "timer,file --concurrency 1,4 --placements core --runtime 0.05s --size 16M "
		 "--directory %s --probes off --no-calibrate --output %s/bench", iomt_python(), dir, dir);
	return sh(cmd, err, sizeof(err));
}

static int remove_fixture(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void expect_files(const char *run, const char *const *files, size_t n)
{
	char path[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < n; i++)
		for (int ext = 0; ext < 2; ext++) {
			snprintf(path, sizeof(path), "%s/%s.%s", run, files[i], ext ? "svg" : "png");
			if (stat(path, &st) || st.st_size < 1000)
				fail_msg("%s missing or empty", path);
		}
}

static char *plot_report(const char *run)
{
	char cmd[2048], err[4096], path[PATH_MAX];
	int rc;

	snprintf(cmd, sizeof(cmd), "%s scripts/plot.py %s", iomt_python(), run);
	rc = sh(cmd, err, sizeof(err));
	if (rc)
		fail_msg("plot.py %s: exit %d: %s", run, rc, err);
	snprintf(path, sizeof(path), "%s/report.md", run);
	return iomt_slurp_or_null(path);
}

static void expect_in(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("report.md lacks '%s'", want);
}

static void test_plot_makes_every_file(void **state)
{
	static const char *const files[] = {
		"throughput", "cpu_per_task", "ops_per_cpu_s", "latency_p50", "latency_p99",
		"threads", "rss", "kmem", "crossover",
	};
	char run[PATH_MAX], *rep;

	if (!have_matplotlib())
		iom_skip("python3-matplotlib is not installed");
	snprintf(run, sizeof(run), "%s/run", dir);
	rep = plot_report(run);
	assert_non_null(rep);
	expect_files(run, files, sizeof(files) / sizeof(files[0]));
	/* A plain run: the crossover along C from its two concurrencies, no rate sweep. */
	expect_in(rep, "| timer | uring | concurrency C (all CPUs; D=100 µs, W=0 µs) |");
	expect_in(rep, "Not measured: no open-loop (`--rate`) rows in this run.");
	free(rep);
}

/* The bench fixture: every figure, and every table of report.md with its parts. */
static void test_plot_bench_makes_every_file(void **state)
{
	static const char *const files[] = {
		"throughput", "cpu_per_task", "ops_per_cpu_s", "latency_p50", "latency_p99",
		"threads", "rss", "kmem", "crossover", "latency_vs_rate",
	};
	char run[PATH_MAX], *rep;

	if (!have_matplotlib())
		iom_skip("python3-matplotlib is not installed");
	snprintf(run, sizeof(run), "%s/bench", dir);
	rep = plot_report(run);
	assert_non_null(rep);
	expect_files(run, files, sizeof(files) / sizeof(files[0]));
	/* The comparison table and the checklist, from the binary's caps and the code. */
	expect_in(rep, "| lines of code (model folder, non-blank) |");
	expect_in(rep, "| threads at C=4 (C=1024 not in this run: its largest C, 4) (timer, one CPU) |");
	expect_in(rep, "| sync or async? | sync | async (batched submits) |");
	expect_in(rep, "| task id | none: the blocked call");
	expect_in(rep, "| how completion is learned |");
	/* A checklist row every model shares is printed once, below the table. */
	expect_in(rep, "- **retry strategy** (every model): the driver's");
	expect_in(rep, "failure states");
	expect_in(rep, "idempotent?");
	/* The verdict first, every line from the rows. */
	assert_true(strstr(rep, "# iomodels report\n\n## Verdict on this machine\n") == rep);
	expect_in(rep, "- **timer, one CPU** (C=1–");
	expect_in(rep, "cells stayed noisy");
	/* The crossover along each axis around the base point (one CPU). */
	expect_in(rep, "| timer | uring | task latency D (one CPU; C=16, W=0 µs) |");
	expect_in(rep, "| timer | uring | concurrency C (one CPU; D=1000 µs, W=0 µs) |");
	expect_in(rep, "| timer | uring | CPU work per task W (one CPU; D=1000 µs, C=16) |");
	/* The rate sweep: one line per model with its knee (or none). */
	expect_in(rep, "| timer D=1000 µs, one CPU | threads |");
	expect_in(rep, "| timer D=1000 µs, one CPU | uring |");
	/* Sample counts shown; a 50 ms window at C=1, D=1 ms is < 1000 samples: p99 hidden. */
	expect_in(rep, " (n=");
	expect_in(rep, "### timer, one CPU\n\n| C | threads p50 / p99 / p99.9 (n) |");
	{
		const char *t = strstr(rep, "### timer, one CPU\n\n| C | threads p50");
		const char *row1 = strstr(t, "\n| 1 | ");

		assert_non_null(row1);
		assert_true(strstr(row1, " / – / – (n=") && strstr(row1, " / – / – (n=") <
			    strchr(row1 + 1, '\n'));
	}
	if (have_fio) {
		expect_in(rep, "| file | core | 1 | psync |");
		expect_in(rep, "| file | core | 4 | io_uring |");
	} else {
		expect_in(rep, "Not run: fio not found in PATH");
	}
	free(rep);
}

/*
 * A copy of the bench fixture in dir/name (its path in run), whose runs.csv rows (a list of
 * dicts, `rows`) the Python statement edit changes before they are written back.
 */
static void fixture_copy(char *run, size_t len, const char *name, const char *edit)
{
	char cmd[3 * PATH_MAX + 1024], err[4096];

	snprintf(run, len, "%s/%s", dir, name);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -r '%s/bench' '%s' && %s -c \"import csv, sys; "
		 "p = sys.argv[1] + '/runs.csv'; rows = list(csv.DictReader(open(p))); %s; "
		 "w = csv.DictWriter(open(p, 'w', newline=''), fieldnames=rows[0].keys()); "
		 "w.writeheader(); w.writerows(rows)\" '%s'", run, dir, run, iomt_python(), edit, run);
	if (sh(cmd, err, sizeof(err)))
		fail_msg("making the copy %s: %s", name, err);
}

/*
 * Kernel memory is a system-wide counter (/proc/meminfo): another process can move it either
 * way. A copy of the bench fixture with every kmem_bytes set to -200000 (what a run measured
 * for uring at C=1024: -193 kB) must say "noise", not print a negative size.
 */
static void test_plot_kmem_noise(void **state)
{
	char run[PATH_MAX], *rep, *row, *end;

	if (!have_matplotlib())
		iom_skip("python3-matplotlib is not installed");
	fixture_copy(run, sizeof(run), "bench-kmem",
		     "[r.update(kmem_bytes='-200000') for r in rows]");
	rep = plot_report(run);
	assert_non_null(rep);
	row = strstr(rep, "| kernel memory (stacks, slab, page tables) at C=");
	assert_non_null(row);
	end = strchr(row, '\n');
	assert_non_null(end);
	*end = '\0';
	if (strstr(row, "| -") || !strstr(row, "within the system-wide counter's noise"))
		fail_msg("kernel memory row: %s", row);
	free(rep);
}

/* The line of text that starts with head (NUL-terminated in place), or a failure. */
static char *line_of(char *text, const char *head)
{
	char *row = strstr(text, head), *end;

	if (!row)
		fail_msg("report.md lacks a line '%s'", head);
	end = strchr(row, '\n');
	if (end)
		*end = '\0';
	return row;
}

/*
 * Each cell's own memory: where a run has rss_cell_bytes, the memory table, its caption and the
 * HTML's memory chart use it (with how the cells were isolated, from mem_isolation), never the
 * process's RSS, which carries what earlier cells left. A run without the column says RSS.
 */
static void test_plot_memory_per_cell(void **state)
{
	char run[PATH_MAX], path[PATH_MAX + 16], *rep, *html, *row;

	if (!have_matplotlib())
		iom_skip("python3-matplotlib is not installed");
	fixture_copy(run, sizeof(run), "bench-mem-cell",
		     "[r.update(rss_bytes='999000000', rss_cell_bytes='4000000', "
		     "harness_rss_bytes='0', mem_isolation='fork') for r in rows]");
	rep = plot_report(run);
	assert_non_null(rep);
	expect_in(rep, "each cell's own anonymous memory over its pre-cell baseline; each cell in "
		  "a process of its own (--fork-cells)");
	snprintf(path, sizeof(path), "%s/report.html", run);
	html = iomt_slurp_or_null(path);
	assert_non_null(html);
	if (!strstr(html, "\"rss_cell_bytes\"") || strstr(html, "\"rss_bytes\""))
		fail_msg("report.html does not chart rss_cell_bytes alone");
	free(html);
	row = line_of(rep, "| own memory at C=");
	if (strstr(row, "999") || !strstr(row, "| 4MB"))
		fail_msg("memory row not from rss_cell_bytes: %s", row);
	free(rep);

	fixture_copy(run, sizeof(run), "bench-mem-rss",
		     "[(r.pop('rss_cell_bytes', None), r.pop('mem_isolation', None)) for r in rows]");
	rep = plot_report(run);
	assert_non_null(rep);
	expect_in(rep, "the process's RSS: a cell also carries what the cells before it");
	line_of(rep, "| RSS at C=");
	free(rep);
}

/*
 * The probe columns are in the probed repeat of each cell only: the blocked-time figure must be
 * drawn from those rows (it was drawn from the timed ones, and every panel said "no model ran
 * this cell"). A copy of the bench fixture gets a probed twin of each matrix row.
 */
static void test_plot_blocked_from_probed_rows(void **state)
{
	char run[PATH_MAX], path[PATH_MAX + 16], *svg;

	if (!have_matplotlib())
		iom_skip("python3-matplotlib is not installed");
	fixture_copy(run, sizeof(run), "bench-probed",
		     "rows += [dict(r, probed='1', blocked_ns_per_task='50000') for r in rows "
		     "if r['section'] == 'matrix' and r['status'] == 'ok']");
	free(plot_report(run));
	snprintf(path, sizeof(path), "%s/blocked.svg", run);
	svg = iomt_slurp_or_null(path);
	assert_non_null(svg);
	if (strstr(svg, "no model ran this cell"))
		fail_msg("blocked.svg has an empty panel though every cell has a probed row");
	free(svg);
}

/*
 * A synthetic run (three repeats per point, written here) checks the report's judgement, not a
 * measurement: overlapping ranges are "within noise", disjoint ones are ranked with a ratio, a
 * flagged pair is not compared, and the crossover along C is where uring gets ahead for good.
 */
static const char synthetic[] =
	"model,workload,concurrency,cpus,mode,ops_per_s,ops_per_cpu_s,cpu_ns_per_task,"
	"latency_us,cpu_work_us,n_samples,lat_p50_ns,lat_p99_ns,lat_p999_ns,flags,status,reason\n"
	"threads,timer,1,0,closed,1000,5000,200000,1000,0,3000,1000000,1100000,,,ok,\n"
	"threads,timer,1,0,closed,1010,5000,200000,1000,0,3000,1000000,1100000,,,ok,\n"
	"threads,timer,1,0,closed,990,5000,200000,1000,0,3000,1000000,1100000,,,ok,\n"
	"uring,timer,1,0,closed,950,6000,170000,1000,0,3000,1000000,1100000,,,ok,\n"
	"uring,timer,1,0,closed,1005,6000,170000,1000,0,3000,1000000,1100000,,,ok,\n"
	"uring,timer,1,0,closed,1020,6000,170000,1000,0,3000,1000000,1100000,,,ok,\n"
	"threads,timer,16,0,closed,15000,50000,20000,1000,0,45000,1000000,1100000,,,ok,\n"
	"threads,timer,16,0,closed,15100,50000,20000,1000,0,45000,1000000,1100000,,,ok,\n"
	"threads,timer,16,0,closed,14900,50000,20000,1000,0,45000,1000000,1100000,,,ok,\n"
	"uring,timer,16,0,closed,15500,90000,11000,1000,0,45000,1000000,1100000,,,ok,\n"
	"uring,timer,16,0,closed,15800,90000,11000,1000,0,45000,1000000,1100000,,,ok,\n"
	"uring,timer,16,0,closed,15600,90000,11000,1000,0,45000,1000000,1100000,,,ok,\n"
	"threads,timer,256,0,closed,100000,90000,11000,1000,0,300000,2000000,9000000,,"
	"foreign_cpu,ok,\n"
	"threads,timer,256,0,closed,101000,90000,11000,1000,0,300000,2000000,9000000,,,ok,\n"
	"threads,timer,256,0,closed,99000,90000,11000,1000,0,300000,2000000,9000000,,,ok,\n"
	"uring,timer,256,0,closed,230000,2000000,500,1000,0,690000,1100000,1300000,,,ok,\n"
	"uring,timer,256,0,closed,231000,2000000,500,1000,0,690000,1100000,1300000,,,ok,\n"
	"uring,timer,256,0,closed,229000,2000000,500,1000,0,690000,1100000,1300000,,,ok,\n";

/*
 * fio beside iomodels: a ratio beside foreign CPU is printed with its caveat, never hidden
 * ("not compared" hid it). Synthetic: a judgement, not a measurement.
 */
static void test_plot_fio_ratio_with_caveat(void **state)
{
	char run[PATH_MAX], path[PATH_MAX], *rep;

	if (!have_matplotlib())
		iom_skip("python3-matplotlib is not installed");
	snprintf(run, sizeof(run), "%s/fio-caveat", dir);
	mkdir(run, 0755);
	snprintf(path, sizeof(path), "%s/runs.csv", run);
	iomt_write_file(path, "model,workload,bench_workload,placement,concurrency,cpus,mode,ops_per_s,"
		   "cpu_ns_per_task,latency_us,n_samples,lat_p50_ns,lat_p99_ns,flags,status,reason\n"
		   "threads,file,file,core,1,0,closed,1000,200000,0,3000,1000000,1100000,"
		   "foreign_cpu,ok,\n"
		   "threads,file,file,core,1,0,closed,1010,200000,0,3000,1000000,1100000,,ok,\n"
		   "threads,file,file,core,1,0,closed,990,200000,0,3000,1000000,1100000,,ok,\n");
	snprintf(path, sizeof(path), "%s/fio.csv", run);
	iomt_write_file(path, "bench_workload,placement,concurrency,engine,model,ops_per_s,status\n"
		   "file,core,1,psync,threads,800,ok\n");
	rep = plot_report(run);
	assert_non_null(rep);
	expect_in(rep, "| threads | 1k [990–1.01k] cv 1% | 1.25× [1.24–1.26] (one fio run; "
		  "foreign CPU) |");
	assert_null(strstr(rep, "not compared"));
	free(rep);
}

static void test_plot_judges_noise_and_crossover(void **state)
{
	char run[PATH_MAX], path[PATH_MAX], *rep;

	if (!have_matplotlib())
		iom_skip("python3-matplotlib is not installed");
	snprintf(run, sizeof(run), "%s/synthetic", dir);
	mkdir(run, 0755);
	snprintf(path, sizeof(path), "%s/runs.csv", run);
	iomt_write_file(path, synthetic);
	rep = plot_report(run);
	assert_non_null(rep);
	expect_in(rep, "| 1 | 1k [990–1.01k] cv 1% | 1k [950–1.02k] cv 3% |");
	/* Ratios with their interval, never hidden: within noise, ahead, beside foreign CPU. */
	expect_in(rep, "| uring 1.00× [0.94–1.03], within noise |");
	expect_in(rep, "| uring 1.04× [1.03–1.06] |");
	/* Two of threads' three repeats ran clean: the one beside foreign CPU is set aside. */
	expect_in(rep, "| uring 2.30× [2.27–2.33] (1 repeat(s) beside foreign CPU set aside) |");
	expect_in(rep, "- **timer, one CPU** (C=1–256, D=1000 µs, W=0 µs): uring leads at C=16, 256 "
		  "by 1.04× to 2.30× [2.27–2.33] over threads at C=256; no clear leader, within "
		  "noise, at C=1");
	expect_in(rep, "within noise, at C=1 (uring vs threads 1.00× [0.94–1.03])");
	expect_in(rep, "0 of 3 cells stayed noisy");
	expect_in(rep, "| timer | uring | concurrency C (one CPU; D=1000 µs, W=0 µs) | "
		  "async overtakes sync at C ≥ 16 (not at 1) |");
	free(rep);
}

/*
 * The verdict follows the rows, not the usual outcome: threads ahead of uring on timers at every
 * C (made up here, opposite to what this machine measures), on nop threads and uring within
 * noise of each other and both ahead of epoll; and two uring
 * variants in one cell (two runs concatenated: timer-heap and timeout-per-task) are two series,
 * not six repeats of one.
 */
static const char contrary[] =
	"model,workload,concurrency,cpus,mode,ops_per_s,latency_us,cpu_work_us,variant,flags,status\n"
	"threads,timer,1,0,closed,2000,1000,0,blocking,,ok\n"
	"threads,timer,1,0,closed,2050,1000,0,blocking,,ok\n"
	"threads,timer,1,0,closed,1980,1000,0,blocking,,ok\n"
	"uring,timer,1,0,closed,900,1000,0,regring+timer-heap,,ok\n"
	"uring,timer,1,0,closed,910,1000,0,regring+timer-heap,,ok\n"
	"uring,timer,1,0,closed,905,1000,0,regring+timer-heap,,ok\n"
	"uring,timer,1,0,closed,700,1000,0,regring+timeout-per-task,,ok\n"
	"uring,timer,1,0,closed,710,1000,0,regring+timeout-per-task,,ok\n"
	"uring,timer,1,0,closed,705,1000,0,regring+timeout-per-task,,ok\n"
	"threads,timer,64,0,closed,60000,1000,0,blocking,,ok\n"
	"threads,timer,64,0,closed,61000,1000,0,blocking,,ok\n"
	"threads,timer,64,0,closed,59000,1000,0,blocking,,ok\n"
	"uring,timer,64,0,closed,30000,1000,0,regring+timer-heap,,ok\n"
	"uring,timer,64,0,closed,31000,1000,0,regring+timer-heap,,ok\n"
	"uring,timer,64,0,closed,29000,1000,0,regring+timer-heap,,ok\n"
	"uring,timer,64,0,closed,20000,1000,0,regring+timeout-per-task,,ok\n"
	"uring,timer,64,0,closed,21000,1000,0,regring+timeout-per-task,,ok\n"
	"uring,timer,64,0,closed,19000,1000,0,regring+timeout-per-task,,ok\n"
	"threads,nop,1,0,closed,1000,,0,blocking,,ok\n"
	"threads,nop,1,0,closed,1100,,0,blocking,,ok\n"
	"threads,nop,1,0,closed,900,,0,blocking,,ok\n"
	"uring,nop,1,0,closed,1050,,0,regring,,ok\n"
	"uring,nop,1,0,closed,950,,0,regring,,ok\n"
	"uring,nop,1,0,closed,1000,,0,regring,,ok\n"
	"epoll,nop,1,0,closed,500,,0,eventfd,foreign_cpu,ok\n"
	"epoll,nop,1,0,closed,510,,0,eventfd,foreign_cpu,ok\n"
	"epoll,nop,1,0,closed,490,,0,eventfd,,ok\n";

static void test_plot_verdict_follows_rows(void **state)
{
	char run[PATH_MAX], path[PATH_MAX], *rep;

	if (!have_matplotlib())
		iom_skip("python3-matplotlib is not installed");
	snprintf(run, sizeof(run), "%s/contrary", dir);
	mkdir(run, 0755);
	snprintf(path, sizeof(path), "%s/runs.csv", run);
	iomt_write_file(path, contrary);
	rep = plot_report(run);
	assert_non_null(rep);
	expect_in(rep, "- **timer, one CPU** (C=1–64, D=1000 µs, W=0 µs): threads leads everywhere "
		  "measured by 2.00× to 2.21× [2.18–2.28] over uring (timer-heap) at C=1.");
	/* Two models within noise of each other lead together, by their margin over the third. */
	expect_in(rep, "- **nop, one CPU** (C=1, W=0 µs): threads ≈ uring lead, within noise of each "
		  "other, everywhere measured by 2.00× [1.86–2.14] ‡ over epoll.");
	/* Two of epoll's three repeats beside foreign CPU: kept, marked, the interval widened. */
	expect_in(rep, "epoll 0.50× [0.45–0.57] ‡ (foreign CPU)");
	expect_in(rep, "1 of 3 cells stayed noisy");
	/* epoll's nop carries the producer's eventfd write: the report says so beside it. */
	expect_in(rep, "An epoll nop task is an eventfd write (the producer's signal) and its read");
	/* Two variants, two series, each with its own three repeats. */
	expect_in(rep, "| C | threads tasks/s | uring (timeout-per-task) tasks/s | uring (timer-heap) "
		  "tasks/s |");
	expect_in(rep, "| 1 | 2k [1.98k–2.05k] cv 1% | 705 [700–710] cv 1% | 905 [900–910] cv 0% |");
	free(rep);
}

/* report.md of a run directory NAME holding only runs.csv = csv (skipped without matplotlib). */
static char *synthetic_report(const char *name, const char *csv)
{
	char run[PATH_MAX], path[PATH_MAX], *rep;

	if (!have_matplotlib())
		iom_skip("python3-matplotlib is not installed");
	snprintf(run, sizeof(run), "%s/%s", dir, name);
	mkdir(run, 0755);
	snprintf(path, sizeof(path), "%s/runs.csv", run);
	iomt_write_file(path, csv);
	rep = plot_report(run);
	assert_non_null(rep);
	return rep;
}

/*
 * A cell whose rpc server was the bottleneck (rows flagged backend_bound) measured the server:
 * the verdict names it server-bound and ranks no client there (it ranked uring 2.50x over
 * threads at C=256 before), while the clean cell is still ranked.
 */
static const char server_bound[] =
	"model,workload,concurrency,cpus,mode,ops_per_s,latency_us,cpu_work_us,variant,flags,status\n"
	"threads,rpc,1,0,closed,2000,0,0,blocking,,ok\n"
	"threads,rpc,1,0,closed,2050,0,0,blocking,,ok\n"
	"threads,rpc,1,0,closed,1980,0,0,blocking,,ok\n"
	"uring,rpc,1,0,closed,4000,0,0,regring,,ok\n"
	"uring,rpc,1,0,closed,4100,0,0,regring,,ok\n"
	"uring,rpc,1,0,closed,3900,0,0,regring,,ok\n"
	"threads,rpc,256,0,closed,20000,0,0,blocking,backend_bound,ok\n"
	"threads,rpc,256,0,closed,20500,0,0,blocking,backend_bound,ok\n"
	"threads,rpc,256,0,closed,19800,0,0,blocking,backend_bound,ok\n"
	"uring,rpc,256,0,closed,50000,0,0,regring,backend_bound,ok\n"
	"uring,rpc,256,0,closed,51000,0,0,regring,,ok\n"
	"uring,rpc,256,0,closed,49000,0,0,regring,backend_bound,ok\n";

static void test_plot_verdict_server_bound(void **state)
{
	char *rep = synthetic_report("server_bound", server_bound);

	expect_in(rep, "- **rpc, one CPU** (C=1–256, D=0 µs, W=0 µs): uring leads at C=1 by 2.00× "
		  "[1.90–2.07] over threads; server-bound at C=256 (the rpc server used over 70% of "
		  "its CPUs): the clients not ranked there.");
	free(rep);
}

/*
 * CPU per task is never ranked closer than its own error bound (cpu_res_ns_per_task): at C=1
 * uring's 170 us against threads' 200 us is inside uring's 40 us bound, so the crossover's
 * tasks-per-CPU-second verdict calls it noise there (it said "async ahead at every measured
 * point" before); at C=16 11 us against 20 us is far outside a 0.1 us bound.
 */
static const char cpu_bound[] =
	"model,workload,concurrency,cpus,mode,ops_per_s,ops_per_cpu_s,cpu_ns_per_task,"
	"cpu_res_ns_per_task,latency_us,cpu_work_us,flags,status,reason\n"
	"threads,timer,1,0-1,closed,1000,5000,200000,1000,1000,0,,ok,\n"
	"threads,timer,1,0-1,closed,1010,5000,200000,1000,1000,0,,ok,\n"
	"threads,timer,1,0-1,closed,990,5000,200000,1000,1000,0,,ok,\n"
	"uring,timer,1,0-1,closed,1000,5880,170000,40000,1000,0,,ok,\n"
	"uring,timer,1,0-1,closed,1005,5880,170000,40000,1000,0,,ok,\n"
	"uring,timer,1,0-1,closed,995,5880,170000,40000,1000,0,,ok,\n"
	"threads,timer,16,0-1,closed,15000,50000,20000,100,1000,0,,ok,\n"
	"threads,timer,16,0-1,closed,15100,50000,20000,100,1000,0,,ok,\n"
	"threads,timer,16,0-1,closed,14900,50000,20000,100,1000,0,,ok,\n"
	"uring,timer,16,0-1,closed,15000,90000,11000,100,1000,0,,ok,\n"
	"uring,timer,16,0-1,closed,15100,90000,11000,100,1000,0,,ok,\n"
	"uring,timer,16,0-1,closed,14900,90000,11000,100,1000,0,,ok,\n";

static void test_plot_cpu_not_ranked_within_bound(void **state)
{
	char *rep = synthetic_report("cpu_bound", cpu_bound);

	expect_in(rep, "| not within the measured range (C = 1–16) | async overtakes sync at C = 16 "
		  "(not at 1) |");
	free(rep);
}

/*
 * scripts/compare: the fixture's run against a second small real run with uring's other timer
 * variant. Every cell of both side by side, each run's machine, kernel, commit and flags on top,
 * the variant named where it differs (never pooled), markdown, CSV and JSON; bad input: exit 2.
 */
static void test_compare_runs(void **state)
{
	const char *bin = getenv("IOM_BIN");
	char cmd[2048], err[4096], path[PATH_MAX], *md, *csv;
	int lines = 0;

	assert_non_null(bin);
	snprintf(cmd, sizeof(cmd), "%s run --model threads,uring --workload nop,timer "
		 "--concurrency 1,4 --tasks 400 --latency-us 100 --uring-timer op --quiet "
		 "--output %s/run-op", bin, dir);
	if (sh(cmd, err, sizeof(err)))
		fail_msg("%s: %s", cmd, err);
	snprintf(cmd, sizeof(cmd), "%s scripts/compare %s/run %s/run-op --output %s/cmp", iomt_python(),
		 dir, dir, dir);
	if (sh(cmd, err, sizeof(err)))
		fail_msg("%s: %s", cmd, err);
	snprintf(path, sizeof(path), "%s/cmp/compare.md", dir);
	md = iomt_slurp_or_null(path);
	assert_non_null(md);
	expect_in(md, "| | `run` | `run-op` |");
	expect_in(md, "| kernel | ");
	expect_in(md, "| commit | ");
	expect_in(md, "| compiler flags | ");
	expect_in(md, "| command line | `run --model threads,uring");
	expect_in(md, "## Significant changes in tasks/s (");
	expect_in(md, "| timer, all CPUs, C=4 D=100 W=0 | uring | ");
	/* The key that differs is named (the ring flags before it vary with kernel and depth). */
	expect_in(md, "variant: single_issuer+");
	expect_in(md, "+timer-heap+timeout → single_issuer+");
	expect_in(md, "+timeout-per-task |");
	free(md);
	snprintf(path, sizeof(path), "%s/cmp/compare.csv", dir);
	csv = iomt_slurp_or_null(path);
	assert_non_null(csv);
	for (const char *c = csv; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 1 + 8); /* 2 models x 2 workloads x 2 C */
	expect_in(csv, "ops_per_s_ratio,ops_per_s_lo95,ops_per_s_hi95");
	free(csv);
	snprintf(cmd, sizeof(cmd), "%s -c \"import json; d = json.load(open('%s/cmp/compare.json')); "
		 "assert d['baseline'] == 'run' and len(d['cells']) == 8 and d['runs'][1]['meta']\"",
		 iomt_python(), dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/cmp/compare.png", dir);
	if (have_matplotlib()) {
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_true(st.st_size > 1000);
	}
	/* Bad input: one line on stderr, exit 2. */
	snprintf(cmd, sizeof(cmd), "%s scripts/compare %s/run", iomt_python(), dir);
	assert_int_equal(sh(cmd, err, sizeof(err)), 2);
	expect_in(err, "compare: want at least two runs");
	snprintf(cmd, sizeof(cmd), "%s scripts/compare %s/run %s/nonexistent", iomt_python(), dir, dir);
	assert_int_equal(sh(cmd, err, sizeof(err)), 2);
	expect_in(err, "is not a directory");
	assert_true(strchr(err, '\n') && strchr(err, '\n')[1] == '\0');
}

/*
 * report.html in a real browser (headless Chromium, tests/browser_check.py): a small real run
 * with the probes' timeline; the page loads with no console error, its numbers equal runs.csv's
 * medians, a model's chip hides its series, the lanes' animation advances, hover shows values,
 * the screenshot is not blank. The page fetches nothing: no external src or href.
 */
static void test_html_report_in_browser(void **state)
{
	const char *bin = getenv("IOM_BIN");
	char cmd[4096], err[4096], path[PATH_MAX], *page;
	int rc;

	if (!have_matplotlib())
		iom_skip("python3-matplotlib is not installed");
	assert_non_null(bin);
	snprintf(cmd, sizeof(cmd), "%s run --model threads,uring --workload timer --concurrency 1,4 "
		 "--latency-us 2000 --cpu-work-us 200 --runtime 200ms --repeat 2 --probes on "
		 "--timeline %s/tl.csv --quiet --output %s/html && mv %s/tl.csv %s/html/timeline.csv "
		 "&& mv %s/tl.csv-marks.csv %s/html/timeline.csv-marks.csv", bin, dir, dir, dir, dir,
		 dir, dir);
	if (sh(cmd, err, sizeof(err)))
		fail_msg("%s: %s", cmd, err);
	snprintf(path, sizeof(path), "%s/html", dir);
	free(plot_report(path));
	snprintf(path, sizeof(path), "%s/html/report.html", dir);
	page = iomt_slurp_or_null(path);
	assert_non_null(page);
	expect_in(page, "Verdict on this machine");
	if (strstr(page, "src=\"http") || strstr(page, "href=\"http") || strstr(page, "@import") ||
	    strstr(page, "<link rel=\"stylesheet"))
		fail_msg("report.html refers to something outside itself");
	free(page);
	snprintf(cmd, sizeof(cmd), "%s tests/browser_check.py %s/html %s/html/shot.png", iomt_python(),
		 dir, dir);
	rc = sh(cmd, err, sizeof(err));
	if (rc == 77)
		iom_skip("%s", err);
	if (rc)
		fail_msg("browser_check: exit %d: %s", rc, err);
}

/* One line on stderr naming the file and the line, exit 1. */
static void expect_one_line_error(const char *name, const char *text, const char *want)
{
	char cmd[2048], err[4096], path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/bad/%s", dir, name);
	iomt_write_file(path, text);
	snprintf(cmd, sizeof(cmd), "%s scripts/plot.py %s/bad", iomt_python(), dir);
	assert_int_equal(sh(cmd, err, sizeof(err)), 1);
	if (!strstr(err, want))
		fail_msg("want '%s' in: %s", want, err);
	assert_non_null(strchr(err, '\n'));
	assert_true(strchr(err, '\n')[1] == '\0');
}

static void test_plot_rejects_bad_csv(void **state)
{
	char good[8192] = "", path[PATH_MAX];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/bad", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/run/runs.csv", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(good, 1, sizeof(good) - 1, f);
	fclose(f);
	good[n] = '\0';
	/* Truncated: cut the last row in half. */
	good[n - 40] = '\0';
	expect_one_line_error("runs.csv", good, "runs.csv:");
	expect_one_line_error("runs.csv", "", "runs.csv:1: empty");
	expect_one_line_error("runs.csv", "model,workload\nx,y\n", "runs.csv:1: header lacks");
	expect_one_line_error("runs.csv", "model,workload,concurrency,status,ops_per_s\n"
			      "uring,nop,lots,ok,1\n", "runs.csv:2:");
	expect_one_line_error("runs.csv", "model,workload,concurrency,status,ops_per_s\n"
			      "uring,nop,1,ok,fast\n", "runs.csv:2: ops_per_s");
}

/* The bench's other files: fio's figures, the models' caps, a raw histogram, calibration. */
static void test_plot_rejects_bad_side_files(void **state)
{
	static const char ok_runs[] = "model,workload,concurrency,status,ops_per_s,cell_dir\n"
				      "uring,nop,1,ok,1,c\n";
	char path[PATH_MAX], cmd[PATH_MAX + 64], err[4096];

	snprintf(path, sizeof(path), "%s/side", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/side/c", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/side/runs.csv", dir);
	iomt_write_file(path, ok_runs);
	if (!have_matplotlib())
		iom_skip("python3-matplotlib is not installed");

#define SIDE(name, text, want)                                                                 \
	do {                                                                                   \
		snprintf(path, sizeof(path), "%s/side/%s", dir, name);                         \
		iomt_write_file(path, text);                                                        \
		snprintf(cmd, sizeof(cmd), "%s scripts/plot.py %s/side", iomt_python(), dir);       \
		assert_int_equal(sh(cmd, err, sizeof(err)), 1);                                \
		if (!strstr(err, want))                                                        \
			fail_msg("want '%s' in: %s", want, err);                               \
		assert_true(strchr(err, '\n') && strchr(err, '\n')[1] == '\0');                \
		unlink(path);                                                                  \
	} while (0)

	SIDE("fio.csv", "bench_workload,placement,concurrency,engine,model,ops_per_s,status\n"
	     "file,core,1,psync,threads,100,ok\nfile,core,4,psync\n", "fio.csv:3: 4 fields");
	SIDE("fio.csv", "bench_workload,placement,concurrency,engine,model,ops_per_s,status\n"
	     "file,core,1,psync,threads,100,fine\n", "fio.csv:2: unknown status");
	SIDE("models.csv", "model,desc\nuring,x\n", "models.csv:1: header lacks column 'caps'");
	SIDE("c/hist.csv", "row,lo_ns,width_ns,count\n0,100,1,x\n", "hist.csv:2: want four");
	SIDE("calibrate.csv", "name,value\nsyscall_ns\n", "calibrate.csv:2: 1 fields");
#undef SIDE
}

/*
 * make bench's noise handling, on known rows: a cell whose repeats disagree (cv > 10%) and a
 * cell whose repeats all ran beside foreign CPU get one more repeat per round, up to the cap; a
 * steady clean cell gets none; a spent budget adds nothing; a second bench into the same
 * --output (its cells numbered after the first's) is judged on its own rows only. Then the
 * fixture's bench.json says what it did.
 */
static void test_bench_adds_repeats_to_noisy_cells(void **state)
{
	char cmd[4096], err[4096], path[PATH_MAX], *json;

	snprintf(cmd, sizeof(cmd),
		 "%s -c \"from importlib.machinery import SourceFileLoader as L\n"
		 "import csv, os, tempfile\n"
		 "b = L('bench', 'scripts/bench').load_module()\n"
		 "d = tempfile.mkdtemp(dir='%s')\n"
		 "cells = [b.cell('matrix', m, 'timer', ['--workload', 'timer'], 4, 'core', r)\n"
		 "         for m in ('threads', 'uring', 'epoll') for r in range(2)]\n"
		 "vals = {'threads': ('1000', '1500', ''), 'uring': ('1000', '1010', ''),\n"
		 "        'epoll': ('1000', '1010', 'foreign_cpu')}\n"
		 "with open(d + '/runs.csv', 'w', newline='') as f:\n"
		 "    w = csv.writer(f); w.writerow(['cell_dir', 'ops_per_s', 'flags', 'status'])\n"
		 "    for i, c in enumerate(cells):\n"
		 "        v = vals[c['model']]; w.writerow([f'cells/{i:04d}', v[c['repeat']], v[2], 'ok'])\n"
		 "n = b.Noise(cells, 0, d + '/runs.csv', 3, 60.0, 1)\n"
		 "more = n.more()\n"
		 "assert sorted(c['model'] for c in more) == ['epoll', 'threads'], more\n"
		 "assert all(c['repeat'] == 2 and not c['probed'] for c in more)\n"
		 "cells += more\n"
		 "with open(d + '/runs.csv', 'a', newline='') as f:\n"
		 "    w = csv.writer(f)\n"
		 "    for i, c in enumerate(more, 6): w.writerow([f'cells/{i:04d}', '1200', vals[c['model']][2], 'ok'])\n"
		 "assert n.more() == [], 'at the cap (3 repeats): no more'\n"
		 "s = n.summary()\n"
		 "assert s['cells_retried'] == 2 and s['repeats_added'] == 2 and s['still_noisy'] == 2, s\n"
		 "assert b.Noise(cells, 0, d + '/runs.csv', 9, 0.0, 1).more() == [], 'budget spent'\n"
		 "steady = [dict(c) for c in cells[:6]]\n"
		 "with open(d + '/runs.csv', 'a', newline='') as f:\n"
		 "    w = csv.writer(f)\n"
		 "    for i in range(len(cells), len(cells) + 6): w.writerow([f'cells/{i:04d}', '1000', '', 'ok'])\n"
		 "more = b.Noise(steady, len(cells), d + '/runs.csv', 3, 60.0, 1).more()\n"
		 "assert more == [], ('an earlier bench in the same --output is not this one', more)\n\"",
		 iomt_python(), dir);
	if (sh(cmd, err, sizeof(err)))
		fail_msg("Noise: %s", err);
	snprintf(path, sizeof(path), "%s/bench/bench.json", dir);
	json = iomt_slurp_or_null(path);
	assert_non_null(json);
	expect_in(json, "\"noise\": {");
	expect_in(json, "\"cells_retried\": ");
	free(json);
}

/*
 * "PREFIX OPTIONS" of each case exits 2 with one line on stderr holding its message; nothing is
 * written at unwritten (when not NULL).
 */
static void expect_bad_options(const char *prefix, const char *const (*cases)[2], size_t n,
			       const char *unwritten)
{
	char cmd[1024], err[4096];
	struct stat st;

	for (size_t i = 0; i < n; i++) {
		snprintf(cmd, sizeof(cmd), "%s %s", prefix, cases[i][0]);
		assert_int_equal(sh(cmd, err, sizeof(err)), 2);
		if (!strstr(err, cases[i][1]))
			fail_msg("%s: want '%s', got: %s", cases[i][0], cases[i][1], err);
		assert_true(strchr(err, '\n') && strchr(err, '\n')[1] == '\0');
		if (unwritten && stat(unwritten, &st) == 0)
			fail_msg("%s: %s written", cases[i][0], unwritten);
	}
}

/* Bad options: one line, exit 2, before anything runs. */
static void test_bench_rejects_bad_options(void **state)
{
	static const char *const cases[][2] = {
		{ "--sections matrix,bogus", "bench: --sections: unknown 'bogus'" },
		{ "--concurrency 1,0", "bench: --concurrency: want whole numbers of at least 1" },
		{ "--concurrency x", "bench: --concurrency: want a comma list" },
		{ "--runtime fast", "bench: --runtime: want a duration" },
		{ "--noise-cap 0", "bench: --noise-cap: want at least 1" },
		{ "--noise-budget soon", "bench: --noise-budget: want a duration" },
		{ "--size 12Q", "bench: --size: want a size" },
		{ "--directory /nonexistent", "bench: --directory: '/nonexistent' is not a directory" },
	};
	char prefix[256];

	snprintf(prefix, sizeof(prefix), "%s scripts/bench --dry-run --probes off", iomt_python());
	expect_bad_options(prefix, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

/*
 * One data row of compare-fio.csv (no field of an ok row is quoted): its fields split in place
 * at the commas into f, how many there were.
 */
static int split_csv_row(char *line, char **f, int max)
{
	int n = 0;

	for (char *p = line; n < max; p++) {
		f[n++] = p;
		p = strchr(p, ',');
		if (!p)
			break;
		*p = '\0';
	}
	return n;
}

/*
 * compare-fio --quick on a 1 MiB file: one pair per point (iomodels then fio), each pair's
 * ratio is its iomodels tasks/s over its fio IOPS, every figure positive; an O_DIRECT point the
 * filesystem refuses is a skipped row of the summary with its reason, not a failure.
 */
static void test_compare_fio_quick_pairs(void **state)
{
	char cmd[2048], err[4096], path[PATH_MAX], *csv, *line, *next, *sum;
	int rows = 0;

	if (!have_fio)
		iom_skip("fio not installed (make deps)");
	snprintf(cmd, sizeof(cmd), "%s scripts/compare-fio --quick --size 1M --dir %s "
		 "--output %s/cf", iomt_python(), dir, dir);
	if (sh(cmd, err, sizeof(err)))
		fail_msg("%s: %s", cmd, err);
	snprintf(path, sizeof(path), "%s/cf/compare-fio.csv", dir);
	csv = iomt_slurp_or_null(path);
	assert_non_null(csv);
	assert_true(strncmp(csv, "point,pair,order,iomodels_tasks_per_s,fio_iops,ratio,", 53) == 0);
	for (line = strchr(csv, '\n') + 1; *line; line = next) {
		char *f[16];
		double iom, fio, ratio;

		next = strchr(line, '\n');
		assert_non_null(next);
		*next++ = '\0';
		assert_int_equal(split_csv_row(line, f, 16), 14);
		assert_string_equal(f[1], "1");
		assert_string_equal(f[2], "iomodels-fio");
		assert_string_equal(f[12], "ok");
		iom = strtod(f[3], NULL);
		fio = strtod(f[4], NULL);
		ratio = strtod(f[5], NULL);
		assert_true(iom > 0 && fio > 0 && ratio > 0);
		if (fabs(ratio - iom / fio) > 1e-3 * ratio)
			fail_msg("%s: ratio %s, but %s / %s = %.4f", f[0], f[5], f[3], f[4], iom / fio);
		assert_true(strtod(f[6], NULL) > 0 && strtod(f[7], NULL) > 0); /* CPU per op */
		rows++;
	}
	free(csv);
	snprintf(path, sizeof(path), "%s/cf/compare-fio-summary.csv", dir);
	sum = iomt_slurp_or_null(path);
	assert_non_null(sum);
	expect_in(sum, "\ncached-psync-1,");
	expect_in(sum, "\ncached-uring-8,");
	if (rows == 2)
		expect_in(sum, ",skipped,the filesystem refuses O_DIRECT (");
	else
		assert_int_equal(rows, 3);
	free(sum);
	snprintf(path, sizeof(path), "%s/cf/compare-fio.md", dir);
	sum = iomt_slurp_or_null(path);
	assert_non_null(sum);
	expect_in(sum, "| point | pairs | iomodels tasks/s (median) | fio IOPS (median) | ratio min |");
	free(sum);
	/* The check that skips O_DIRECT points: procfs refuses O_DIRECT on every kernel. */
	snprintf(cmd, sizeof(cmd), "%s -c \"from importlib.machinery import SourceFileLoader as L; "
		 "m = L('cf', 'scripts/compare-fio').load_module(); "
		 "assert m.direct_refused('/proc/self/status', 4096).startswith('O_DIRECT')\"",
		 iomt_python());
	assert_int_equal(system(cmd), 0);
	/* A directory that holds a compare-fio run is not written over. */
	snprintf(cmd, sizeof(cmd), "%s scripts/compare-fio --quick --size 1M --dir %s "
		 "--output %s/cf", iomt_python(), dir, dir);
	assert_int_equal(sh(cmd, err, sizeof(err)), 2);
	expect_in(err, "already holds a compare-fio run");
}

/* compare-fio's bad input: one line on stderr, exit 2, no results directory. */
static void test_compare_fio_rejects_bad_input(void **state)
{
	static const char *const cases[][2] = {
		{ "--pairs 0", "compare-fio: --pairs: want a whole number from 1 to 100" },
		{ "--runtime soon", "compare-fio: --runtime: want a duration" },
		{ "--size 12Q", "compare-fio: --size: want a size" },
		{ "--size 6K", "compare-fio: --size: want a multiple of --bs" },
		{ "--bs 100", "compare-fio: --bs: want a multiple of 512" },
		{ "--only cached-psync-1,bogus", "compare-fio: --only: unknown point 'bogus'" },
		{ "--dir /nonexistent", "compare-fio: --dir: '/nonexistent' is not a directory" },
		{ "--frobnicate", "compare-fio: unrecognized arguments: --frobnicate" },
	};
	char prefix[PATH_MAX + 256], out[PATH_MAX];

	snprintf(out, sizeof(out), "%s/cf-bad", dir);
	snprintf(prefix, sizeof(prefix), "%s scripts/compare-fio --quick --output %s", iomt_python(),
		 out);
	expect_bad_options(prefix, cases, sizeof(cases) / sizeof(cases[0]), out);
}

/*
 * What test_targets_quick checks in OUT (argv[1]) with scripts/targets' own definitions: each
 * pair's ratio is its measured sides' (reference/ours for a cost, ours/reference for a rate, the
 * figure itself for a bound), each summary is the min/median/max of its pairs' ratios and the
 * verdict judge() gives them; then judge() and the summary on fixed inputs, a straddling range
 * among them.
 */
static const char targets_check[] =
	"import csv, statistics, sys\n"
	"from importlib.machinery import SourceFileLoader as L\n"
	"m = L('tg', 'scripts/targets').load_module()\n"
	"with open(sys.argv[1] + '/targets.csv', newline='') as f:\n"
	"    rows = list(csv.DictReader(f))\n"
	"assert list(rows[0]) == m.FIELDS, list(rows[0])\n"
	"pairs = [r for r in rows if r['row'] == 'pair']\n"
	"sums = [r for r in rows if r['row'] == 'summary']\n"
	"assert [s['target'] for s in sums] == list(m.QUICK_TARGETS), sums\n"
	"for s in sums:\n"
	"    t = m.TARGETS[s['target']]\n"
	"    ps = [r for r in pairs if r['target'] == s['target']]\n"
	"    assert [p['order'] for p in ps] == ['ours-reference', 'reference-ours'], ps\n"
	"    for p in ps:\n"
	"        assert p['status'] == 'ok', p\n"
	"        o, r = float(p['ours']), float(p['ratio'])\n"
	"        want = o\n"
	"        if t['ratio']:\n"
	"            ref = float(p['reference'])\n"
	"            want = ref / o if t['ratio'] == 'reference/ours' else o / ref\n"
	"        assert o > 0 and abs(r - want) <= 1e-4 * want, (p, want)\n"
	"    rs = [float(p['ratio']) for p in ps]\n"
	"    for k, f in (('ratio_min', min), ('ratio_median', statistics.median),\n"
	"                 ('ratio_max', max)):\n"
	"        assert abs(float(s[k]) - f(rs)) <= 1e-3 * f(rs), (s, k)\n"
	"    assert s['verdict'] == m.judge(rs, t['op'], t['thr']), s\n"
	"with open(sys.argv[1] + '/targets.md') as f:\n"
	"    md = f.read()\n"
	"assert '| target | threshold | ours (median) | reference (median) |' in md\n"
	"for s in sums:\n"
	"    line = next(x for x in md.splitlines() if x.startswith('| ' + s['target'] + ':'))\n"
	"    assert '| ' + s['verdict'] + ' |' in line and '`' in line, line\n"
	"assert m.pair_ratio('reference/ours', 100.0, 80.0) == 0.8\n"
	"assert m.pair_ratio('ours/reference', 110.0, 100.0) == 1.1\n"
	"assert m.pair_ratio('ours/reference', None, 100.0) is None\n"
	"assert m.judge([0.81, 0.9], '>=', 0.8) == 'met'\n"
	"assert m.judge([0.7, 0.79], '>=', 0.8) == 'not met'\n"
	"assert m.judge([0.79, 0.85], '>=', 0.8) == 'within noise'\n"
	"assert m.judge([6.5, 7.2], '<=', 7.0) == 'within noise'\n"
	"assert m.judge([], '>=', 1.0) == 'no data'\n"
	"fixed = [dict(status='ok', ratio=x, ours='1', reference='1')\n"
	"         for x in ('0.79', '0.85', '0.9', '0.82')]\n"
	"s = m.summary_row('nop-uring-128', fixed)\n"
	"assert (s['ratio_min'], s['ratio_median'], s['ratio_max'], s['verdict']) == \\\n"
	"    ('0.79', '0.835', '0.9', 'within noise'), s\n";

/*
 * scripts/targets --quick (one round: two pairs a target, 200 ms windows): the CSV's and the
 * table's shape, ratios made from the measured pairs (targets_check), a directory that holds a
 * run not written over. Figures are a benchmark's business: no bound on them here.
 */
static void test_targets_quick(void **state)
{
	char cmd[2048], err[4096], path[PATH_MAX];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s scripts/targets --quick --output %s/tg", iomt_python(), dir);
	if (sh(cmd, err, sizeof(err)))
		fail_msg("%s: %s", cmd, err);
	snprintf(path, sizeof(path), "%s/check_targets.py", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(targets_check, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s %s %s/tg", iomt_python(), path, dir);
	if (sh(cmd, err, sizeof(err)))
		fail_msg("targets.csv/md: %s", err);
	snprintf(cmd, sizeof(cmd), "%s scripts/targets --quick --output %s/tg", iomt_python(), dir);
	assert_int_equal(sh(cmd, err, sizeof(err)), 2);
	expect_in(err, "already holds a targets run");
}

/* targets' bad input: one line on stderr, exit 2, no results directory. */
static void test_targets_rejects_bad_input(void **state)
{
	static const char *const cases[][2] = {
		{ "--only nop-uring-128,bogus", "targets: --only: unknown target 'bogus'" },
		{ "--rounds 0", "targets: --rounds: want a whole number from 1 to 50" },
		{ "--rounds two", "targets: --rounds: want a whole number from 1 to 50" },
		{ "--runtime soon", "targets: --runtime: want a duration" },
		{ "--size 12Q", "targets: --size: want a size" },
		{ "--dir /nonexistent", "targets: --dir: '/nonexistent' is not a directory" },
		{ "--frobnicate", "targets: unrecognized arguments: --frobnicate" },
	};
	char prefix[PATH_MAX + 256], out[PATH_MAX];

	snprintf(out, sizeof(out), "%s/tg-bad", dir);
	snprintf(prefix, sizeof(prefix), "%s scripts/targets --quick --output %s", iomt_python(),
		 out);
	expect_bad_options(prefix, cases, sizeof(cases) / sizeof(cases[0]), out);
}

/*
 * probe-overhead with args (100 ms windows) into dir/sub; its probe-overhead-runs.csv
 * (malloc'd), checked to hold nr_runs runs.
 */
static char *probe_overhead_runs(const char *args, const char *sub, int nr_runs)
{
	char cmd[1024], err[4096], path[PATH_MAX];
	char *csv;
	int lines = 0;

	snprintf(cmd, sizeof(cmd), "%s scripts/probe-overhead --runtime 100ms %s --output %s/%s",
		 iomt_python(), args, dir, sub);
	if (sh(cmd, err, sizeof(err)) != 0)
		fail_msg("probe-overhead %s: %s", args, err);
	snprintf(path, sizeof(path), "%s/%s/probe-overhead-runs.csv", dir, sub);
	csv = iomt_slurp_or_null(path);
	assert_non_null(csv);
	for (const char *c = csv; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 1 + nr_runs);
	return csv;
}

/*
 * make probe-overhead judges the probes' cost pair by pair: the median of each repeat's
 * probed/unprobed ratio and a distribution-free 95% interval from the pair ratios' order
 * statistics (ranks 2 and 8 of 9; none below 6 pairs). The statistic on known values, then a
 * small real run: the median lies inside its interval, which with 6 pairs is their min and max.
 */
static void test_probe_overhead_paired(void **state)
{
	char cmd[2048], err[4096], path[PATH_MAX];
	char *csv;
	double med, lo, hi, mn, mx;
	int got;

	(void)state;
	snprintf(cmd, sizeof(cmd),
		 "%s -c \"from importlib.machinery import SourceFileLoader as L; "
		 "m = L('po', 'scripts/probe-overhead').load_module(); "
		 "assert m.median_ci([9, 1, 8, 2, 7, 3, 6, 4, 5]) == (5, 2, 8); "
		 "assert m.median_ci(range(1, 16)) == (8, 4, 12); "
		 "assert m.median_ci([1, 2, 3, 4, 5]) == (3, None, None); "
		 "assert m.median_ci([1, 2, 3, 4, 5, 6]) == (3.5, 1, 6)\"",
		 iomt_python());
	if (sh(cmd, err, sizeof(err)) != 0)
		fail_msg("median_ci: %s", err);

	snprintf(cmd, sizeof(cmd), "%s scripts/probe-overhead --repeat 0", iomt_python());
	assert_int_equal(sh(cmd, err, sizeof(err)), 2);
	expect_in(err, "probe-overhead: --repeat: want 1 to 20");

	/* Every run behind the ratios: 6 repeats x 2 sides, ABBA. */
	csv = probe_overhead_runs("--models uring --workloads nop --repeat 6 --no-direct", "po",
				  6 * 2);
	expect_in(csv, "uring,nop,0,off,");
	expect_in(csv, "uring,nop,0,on,");
	expect_in(strstr(csv, "uring,nop,1,on,"), "uring,nop,1,off,");
	free(csv);
	snprintf(path, sizeof(path), "%s/po/probe-overhead.csv", dir);
	csv = iomt_slurp_or_null(path);
	assert_non_null(csv);
	expect_in(csv, "cpu_ratio_lo95,cpu_ratio_hi95,cpu_ratio_min,cpu_ratio_max");
	snprintf(cmd, sizeof(cmd),
		 "%s -c \"import csv; r = list(csv.DictReader(open('%s')))[0]; "
		 "print(r['status'], r['ratio_cpu_ns_per_task'], r['cpu_ratio_lo95'], "
		 "r['cpu_ratio_hi95'], r['cpu_ratio_min'], r['cpu_ratio_max'])\" > %s/po/got",
		 iomt_python(), path, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/po/got", dir);
	free(csv);
	csv = iomt_slurp_or_null(path);
	assert_non_null(csv);
	got = sscanf(csv, "ok %lf %lf %lf %lf %lf", &med, &lo, &hi, &mn, &mx);
	if (got != 5)
		fail_msg("want an ok row with five ratios, got: %s", csv);
	assert_true(med > 0 && lo <= med && med <= hi);
	assert_true(lo == mn && hi == mx);
	free(csv);

	/* --in-process: the 6 pairs are windows of one run (--probe-repeats abba). */
	csv = probe_overhead_runs("--models uring --workloads nop --repeat 6 --in-process", "po-ab",
				  6 * 2);
	expect_in(csv, "uring,nop,5,off,");
	expect_in(csv, "uring,nop,5,on,");
	free(csv);
	snprintf(path, sizeof(path), "%s/po-ab/probe-overhead.csv", dir);
	csv = iomt_slurp_or_null(path);
	assert_non_null(csv);
	expect_in(csv, "uring,nop,ok,");
	free(csv);

	/* The default third side (bpf-stats), over two cells: the second one too. */
	csv = probe_overhead_runs("--models uring,epoll --workloads nop --repeat 1", "po-direct",
				  2 * 3);
	expect_in(csv, "epoll,nop,0,\"on,bpf-stats\",");
	free(csv);
}


/*
 * hotpath: the callgrind parser counts a function's self cost and not what it calls (the line
 * after calls= is the callee's inclusive cost); a bad option is one line and exit 2; a real
 * small cell under perf prints the split by object and the top symbols.
 */
static void test_hotpath(void **state)
{
	char cmd[2048], err[4096], path[PATH_MAX];
	char *out;

	(void)state;
	snprintf(path, sizeof(path), "%s/cg.out", dir);
	iomt_write_file(path, "events: Ir\nob=(1) /x/iomodels\nfl=(1) a.c\nfn=(1) job_loop\n10 7\n"
			"cob=(2) /usr/lib/liburing.so.2\ncfn=(2) io_uring_submit\ncalls=1 0\n"
			"11 100\n+1 3\nob=(2)\nfn=(2)\n0 40\nfn=(3) other\n* 2\n");
	snprintf(cmd, sizeof(cmd),
		 "%s -c \"from importlib.machinery import SourceFileLoader as L; "
		 "m = L('hp', 'scripts/hotpath').load_module(); c = m.parse_callgrind('%s'); "
		 "assert c == {('/x/iomodels', 'job_loop'): 10, "
		 "('/usr/lib/liburing.so.2', 'io_uring_submit'): 40, "
		 "('/usr/lib/liburing.so.2', 'other'): 2}, c; "
		 "assert m.group_of('/usr/lib/liburing.so.2') == 'liburing'; "
		 "assert m.cell_for_tasks(['--runtime', '1s', '--ramp=1ms', '--cpus', '0'], 5) == "
		 "['--cpus', '0', '--tasks', '5']\"", iomt_python(), path);
	if (sh(cmd, err, sizeof(err)) != 0)
		fail_msg("parse_callgrind: %s", err);

	snprintf(cmd, sizeof(cmd), "%s scripts/hotpath --freq x", iomt_python());
	assert_int_equal(sh(cmd, err, sizeof(err)), 2);
	expect_in(err, "hotpath: --freq: not a positive integer: x");
	assert_true(strchr(err, '\n') && strchr(err, '\n')[1] == '\0');

	snprintf(path, sizeof(path), "%s/hotpath.txt", dir);
	snprintf(cmd, sizeof(cmd), "(%s scripts/hotpath --no-callgrind --top 3 --bin %s -- "
		 "--model uring --workload nop --concurrency 8 --runtime 200ms >%s)", iomt_python(),
		 getenv("IOM_BIN"), path);
	if (sh(cmd, err, sizeof(err)) != 0)
		fail_msg("hotpath: %s", err);
	out = iomt_slurp_or_null(path);
	assert_non_null(out);
	expect_in(out, "unprofiled: ");
	expect_in(out, "split (perf record");
	expect_in(out, "  ours ");
	expect_in(out, "  kernel ");
	expect_in(out, "top symbols");
	free(out);
}
/*
 * Every scenario, small, into its own directory; make plot draws each one's figure from its
 * CSV (stale-status's directory holds part (b)'s durability.csv too: two figures).
 */
static void test_plot_scenarios(void **state)
{
	static const struct {
		const char *args, *figs[2];
	} cases[] = {
		{ "two-generals --tasks 20 --concurrency 4", { "two_generals" } },
		{ "thundering-herd --waiters 2 --connections 5", { "herd" } },
		{ "retry-storm --rate 300 --capacity 1", { "retry_storm" } },
		{ "stale-status --tasks 30 --size 1M --directory /tmp", { "stale_status",
									  "durability" } },
		{ "faults --tasks 10", { "faults" } },
	};
	const char *bin = getenv("IOM_BIN");
	char cmd[2048], err[4096], path[PATH_MAX];
	struct stat st;

	if (system("/usr/bin/python3 -c 'import matplotlib' 2>/dev/null"))
		iom_skip("python3-matplotlib is not installed");
	assert_non_null(bin);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(cmd, sizeof(cmd), "%s scenario %s --output %s/sc%zu", bin, cases[i].args,
			 dir, i);
		if (sh(cmd, err, sizeof(err)))
			fail_msg("%s: %s", cmd, err);
		snprintf(cmd, sizeof(cmd), "%s scripts/plot.py %s/sc%zu", iomt_python(), dir, i);
		if (sh(cmd, err, sizeof(err)))
			fail_msg("%s: %s", cmd, err);
		for (int f = 0; f < 2 && cases[i].figs[f]; f++) {
			snprintf(path, sizeof(path), "%s/sc%zu/%s.png", dir, i, cases[i].figs[f]);
			if (stat(path, &st) || st.st_size < 1000)
				fail_msg("%s missing or empty after: %s", path, cmd);
		}
	}
	/* A scenario CSV cut short (its third line): one line naming file and line, exit 1. */
	snprintf(cmd, sizeof(cmd), "{ head -n 2 %s/sc4/faults.csv; printf 'errno:EIO@0.05,thr'; } "
		 "> %s/sc4/f && mv %s/sc4/f %s/sc4/faults.csv", dir, dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s scripts/plot.py %s/sc4", iomt_python(), dir);
	assert_int_equal(sh(cmd, err, sizeof(err)), 1);
	assert_non_null(strstr(err, "faults.csv:3:"));
	assert_true(strchr(err, '\n') && strchr(err, '\n')[1] == '\0');
}

/*
 * README's results block is scripts/readme-results' output for results/reference, byte for byte:
 * a hand edit of a figure in README, or a change to the reference run without regenerating, fails.
 */
static void test_readme_results_generated(void **state)
{
	char cmd[PATH_MAX + 256], path[PATH_MAX], err[1024];
	char *want, *readme, *begin, *end;

	(void)state;
	snprintf(path, sizeof(path), "%s/readme-block", dir);
	snprintf(cmd, sizeof(cmd), "%s scripts/readme-results results/reference > %s", iomt_python(), path);
	assert_int_equal(system(cmd), 0);
	want = iomt_slurp_or_null(path);
	readme = iomt_slurp_or_null("README.md");
	assert_non_null(want);
	assert_non_null(readme);
	assert_non_null(strstr(want, "| timer 1 ms, one CPU, C=1024 |"));
	begin = strstr(readme, "<!-- results:begin -->");
	end = begin ? strstr(begin, "<!-- results:end -->\n") : NULL;
	assert_non_null(end);
	end[strlen("<!-- results:end -->\n")] = '\0';
	if (strcmp(begin, want))
		fail_msg("README's results block is not `scripts/readme-results results/reference`; "
			 "run it with --write README.md");
	free(readme);
	/*
	 * A run with targets/targets.md (scripts/targets): its table joins the block without its
	 * last column (the commands stay in targets.md).
	 */
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/rr/targets && for f in results/reference/*; do "
		 "[ \"${f##*/}\" = targets ] || ln -s \"$PWD/$f\" %s/rr/; done && "
		 "printf '# t\\n\\nwhen, where.  \\nHow.  \\n"
		 "Load average at the end 1.\\n\\n| target | threshold | command |\\n|---|---|---|\\n"
		 "| nop-uring-128: x | y | `run` |\\n\\n## Pairs\\n\\n| target | pair |\\n' "
		 "> %s/rr/targets/targets.md && %s scripts/readme-results %s/rr > %s",
		 dir, dir, dir, iomt_python(), dir, path);
	assert_int_equal(system(cmd), 0);
	free(want);
	want = iomt_slurp_or_null(path);
	assert_non_null(want);
	expect_in(want, "targets/targets.md), `make targets`; each target's commands there): when, "
		  "where. Load average at the end 1.\n\n| target | threshold |\n|---|---|\n"
		  "| nop-uring-128: x | y |\n<!-- results:end -->\n");
	free(want);
	/* Not a bench run: one line, exit 2. */
	snprintf(cmd, sizeof(cmd), "%s scripts/readme-results %s", iomt_python(), dir);
	assert_int_equal(sh(cmd, err, sizeof(err)), 2);
	assert_true(strchr(err, '\n') && strchr(err, '\n')[1] == '\0');
}

/* Every relative link of README and docs/ resolves, and a broken one is reported. */
static void test_doc_links_resolve(void **state)
{
	char cmd[PATH_MAX + 256], err[1024];

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s scripts/check-links", iomt_python());
	if (sh(cmd, err, sizeof(err)))
		fail_msg("%s", err);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/links/docs && printf '[x](docs/gone.md) [y](#nowhere)\\n' "
		 "> %s/links/README.md && cd %s/links && %s %s/scripts/check-links",
		 dir, dir, dir, iomt_python(), getcwd(err, sizeof(err)));
	assert_int_equal(sh(cmd, err, sizeof(err)), 1);
	assert_non_null(strstr(err, "docs/gone.md"));
	assert_non_null(strstr(err, "#nowhere"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plot_makes_every_file),
		cmocka_unit_test(test_plot_bench_makes_every_file),
		cmocka_unit_test(test_plot_kmem_noise),
		cmocka_unit_test(test_plot_memory_per_cell),
		cmocka_unit_test(test_plot_blocked_from_probed_rows),
		cmocka_unit_test(test_plot_judges_noise_and_crossover),
		cmocka_unit_test(test_plot_fio_ratio_with_caveat),
		cmocka_unit_test(test_plot_verdict_follows_rows),
		cmocka_unit_test(test_plot_verdict_server_bound),
		cmocka_unit_test(test_plot_cpu_not_ranked_within_bound),
		cmocka_unit_test(test_compare_runs),
		cmocka_unit_test(test_html_report_in_browser),
		cmocka_unit_test(test_plot_rejects_bad_csv),
		cmocka_unit_test(test_plot_rejects_bad_side_files),
		cmocka_unit_test(test_bench_rejects_bad_options),
		cmocka_unit_test(test_compare_fio_quick_pairs),
		cmocka_unit_test(test_compare_fio_rejects_bad_input),
		cmocka_unit_test(test_targets_quick),
		cmocka_unit_test(test_targets_rejects_bad_input),
		cmocka_unit_test(test_bench_adds_repeats_to_noisy_cells),
		cmocka_unit_test(test_probe_overhead_paired),
		cmocka_unit_test(test_hotpath),
		cmocka_unit_test(test_plot_scenarios),
		cmocka_unit_test(test_readme_results_generated),
		cmocka_unit_test(test_doc_links_resolve),
	};

	return cmocka_run_group_tests(tests, make_fixture, remove_fixture);
}
