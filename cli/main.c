// SPDX-License-Identifier: MIT
/*
 * iomodels: the command line. `run` crosses the comma lists of --model, --workload and
 * --concurrency and runs every cell through the one driver; `list` says which cells this kernel
 * and user can run, found by probing. Every bad input is one line on stderr and exit 2, before
 * anything is written.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "backend/relay.h"
#include "server/server.h"
#include "calibrate/calibrate.h"
#include "core/cluster.h"
#include "scenario/scenario.h"
#include "core/driver.h"
#include "ui/watch.h"
#include "core/meta.h"
#include "core/model.h"
#include "core/parse.h"
#include "core/probe.h"
#include "core/report.h"

#define MAX_LIST 64
#define MAX_MODEL_OPTS		64	/* a model's own options given on one command line */
#define MAX_OPT_MODELS		16	/* distinct models with options in one run */
#define MODEL_OPTS_BYTES	512	/* the largest model's options struct */

struct opts {
	const struct iom_model *models[MAX_LIST];
	unsigned int nr_models;
	enum iom_wl_kind workloads[MAX_LIST];
	unsigned int nr_workloads;
	unsigned int concurrency[MAX_LIST];
	unsigned int nr_concurrency;
	unsigned int repeat;
	const char *output;
	bool append, force;	/* --append, --force: what to do with a run already there */
	bool fork_cells;			/* each cell in a child process of its own */
	bool quiet;
	struct iom_cfg cfg;	/* everything but model, workload and concurrency */
	/* watch only, and what watch must tell apart from a default */
	unsigned int concurrency_max;
	enum iom_thread_states thread_states;
	bool thread_states_given;
	bool models_given, runtime_given, ramp_given, repeat_given, deadline_given;
	bool poll_interval_given;
	uint64_t poll_interval_ns;	/* --poll-interval-us: the async API's (a model may take it) */
	bool poll_interval_taken;	/* ... and a model of the run did */
	/* The models' own options: as given (applied once the models are known), then per model. */
	struct { const char *name, *arg; } given_model_opts[MAX_MODEL_OPTS];
	unsigned int nr_given_model_opts;
	struct iom_model_opts model_opts[MAX_OPT_MODELS];
	unsigned int nr_model_opts;
	_Alignas(max_align_t) unsigned char model_opts_mem[MAX_OPT_MODELS][MODEL_OPTS_BYTES];
	/*
	 * --probe-repeats abba: --probes on repeats 1 and 2 of every 4 only (off, on, on, off),
	 * so that make probe-overhead compares probed and unprobed windows inside one process.
	 */
	bool probe_abba;
};

static const char run_options_text[] =
	"run options (lists are comma-separated; durations take s, ms, us or m; sizes K, M, G):\n"
	"  --model LIST         threads,uring (default: every model)\n"
	"  --workload LIST      nop,timer,file (default: timer)\n"
	"  --concurrency LIST   tasks in flight, C (default: 16; with --rate, 1024)\n"
	"  --jobs J             submitter threads of an async model, depth C/J (default 1);\n"
	"                       a sync model always runs C threads\n"
	"  --cpus LIST          pin every thread (io-wq and SQPOLL too) inside these CPUs\n"
	"  --runtime T          measured window (default 3s)   --tasks N  measure N tasks instead\n"
	"  --ramp T             unmeasured warm-up (default: 10% of runtime, at most 1s; 0 with "
	"--tasks)\n"
	"  --repeat N           run every cell N times (default 1)\n"
	"  --rate R             open loop at R tasks/s (default: closed loop)\n"
	"  --rate-process P     uniform|poisson arrivals for --rate (default uniform)\n"
	"  --latency-us D       timer duration / service time (default 1000)\n"
	"  --latency-dist S     fixed|exp|lognormal|bimodal:P,X (X in us; default fixed)\n"
	"  --deadline-us T      a task not done T us after its start is EXPIRED\n"
	"  --cpu-work-us W      CPU work the submitter does per completed task\n"
	"  --seed S             seeds offsets and service times (default 1)\n"
	"  --filename F | --directory D   the file workload's file (default ./iomodels.<size>.dat)\n"
	"  --size S  --bs B     file size (default 1G) and block size (default 4K)\n"
	"  --rw read|write      (default read)   --direct  O_DIRECT   --cold  drop the file's pages\n"
	"  --allow-overwrite    write to a file iomodels did not make\n"
	"  --allow-device       use a block device\n"
	"  --probes LIST        eBPF probes: off (default), on (= sched,uring), or a list of\n"
	"                       sched,uring,uring-lat,syscalls (uring-lat: every request's\n"
	"                       submit and completion too, ~130 ns each), bpf-stats (the\n"
	"                       probes' own run time per task, from the kernel's BPF stats),\n"
	"                       sched-full (sched following every wake-up and switch-in as\n"
	"                       it happens; sched alone accounts at switch-outs)\n"
	"  --timeline FILE      record per-thread state intervals to FILE (with --probes)\n"
	"  --probe-repeats P    all|abba: --probes on every repeat (default), or on repeats\n"
	"                       1, 2 of every 4 (off, on, on, off: probed vs not in one process)\n"
	"  --verify             check every block read against the file's pattern\n"
	"  --on-partial P       resubmit|accept a short transfer (default resubmit)\n"
	"  --batch-complete N   reap waits for N completions (default auto: half of those in\n"
	"                       flight for O_DIRECT reads/writes of a CQ model, closed loop, no\n"
	"                       deadline, variant +bc=auto; 1 elsewhere). Latency is submit to\n"
	"                       reap, so a wait for more raises it\n"
	"  --on-expired P       drop|retry an EXPIRED task (default drop)\n"
	"  --on-failed P        drop|retry a FAILED task (default drop)\n"
	"  --retry-max N        attempts after the first (default 3)\n"
	"  --backoff B          none|exp|exp-jitter (full jitter; default exp-jitter)\n"
	"  --backoff-base-us B  first backoff (default 1000)  --backoff-cap-us C (default 100000)\n"
	"  --idempotency-key    rpc: requests carry their id as an idempotency key\n"
	"  --fault LIST         faults, comma-separated (--fault may repeat):\n"
	"                       errno:E@P  the fraction P of operations fails with errno E\n"
	"                         (e.g. errno:EIO@0.05): it runs, its success is reported as -E\n"
	"                       kill-worker@P  kernel_free: the worker dies holding the task\n"
	"                         (the pool replaces it; the task ends FAILED EOWNERDEAD)\n"
	"                       drop-conn@P  rpc: the backend does the work, then drops the\n"
	"                         connection in place of the answer (FAILED ECONNRESET)\n"
	"                       cq-overflow:E  uring: a CQ of E entries (completions overflow;\n"
	"                         pair with --batch-complete N for a slow reaper)\n"
	"  --payload BYTES      rpc: request and reply payload (default 64)\n"
	"  --connect HOST:PORT  rpc: use a running backend (iomodels serve) instead of starting one\n"
	"  --unix PATH          rpc: over a Unix socket\n"
	"  --backend-cpus LIST  rpc: pin the backend this run starts\n"
	"  --server-model M     rpc: the server this run starts: epoll (default), threads, ...\n"
	"  --service sleep:D|cpu:D|file:BS  rpc: that server's service for every request (wait or\n"
	"                       burn D us, or read BS bytes of the file workload's file), in place\n"
	"                       of --latency-us\n"
	"  --backend-capacity N rpc: the backend answers BUSY past N requests in service\n"
	"  --poll-interval-us P --api async: time between STATUS polls (default 1000); also a\n"
	"                       model's own option (kernel_free's --notify poll)\n"
	"  --api sync|async     rpc: one echo after the service (default), or the async API: SUBMIT,\n"
	"                       then STATUS polls until COMPLETED (docs/async-api.md)\n"
	"  --wait               --api async: one long-poll WAIT in place of STATUS polls\n"
	"  --output DIR         results directory (default results/<UTC>-<host>, made unique);\n"
	"                       one that holds a run is refused unless --append (add rows,\n"
	"                       same columns) or --force (replace every file of that run)\n"
	"  --fork-cells         run each cell in a child process of its own: its memory\n"
	"                       columns are then its alone (docs/results.md)\n"
	"  --quiet              no status line, no per-cell lines\n";

static void usage_error(const char *fmt, const char *arg) __attribute__((noreturn));
static void usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "iomodels: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see iomodels help)\n");
	exit(2);
}

/* --probes LIST: off, on, or known probes, comma-separated; a usage error (exit 2) otherwise. */
static void check_probe_list(const char *list)
{
	static const char *const ok[] = { "off", "on", "sched", "uring", "uring-lat",
					  "syscalls", "bpf-stats", "sched-full" };
	const size_t nr_ok = sizeof(ok) / sizeof(ok[0]);
	char buf[128], *save = NULL, *item;

	if (strlen(list) >= sizeof(buf) || !*list)
		usage_error("--probes: want off, on, or a list of sched,uring,uring-lat,"
			    "syscalls,bpf-stats,sched-full%s",
			    "");
	snprintf(buf, sizeof(buf), "%s", list);
	for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		size_t i = 0;

		while (i < nr_ok && strcmp(item, ok[i]))
			i++;
		if (i == nr_ok)
			usage_error("--probes: unknown probe '%s' (off, on, sched, uring, "
				    "uring-lat, syscalls, bpf-stats, sched-full)", item);
	}
}

/* The one parser (core/parse.h), and a usage error that names the option. */
static uint64_t parse_size(const char *opt, const char *s)
{
	uint64_t v;

	if (iom_parse_size(s, 0, 1ull << 50, &v))
		usage_error("%s: want a size such as 4096, 4K or 1G", opt);
	return v;
}

static double parse_double(const char *opt, const char *s, double lo, double hi)
{
	double v;

	if (iom_parse_double(s, lo, hi, &v)) {
		char msg[160];

		snprintf(msg, sizeof(msg), "%%s: want a number from %g to %g", lo, hi);
		usage_error(msg, opt);
	}
	return v;
}

static unsigned int parse_uint(const char *opt, const char *s, unsigned int lo, unsigned int hi)
{
	uint64_t v;

	if (iom_parse_u64(s, lo, hi, &v)) {
		char msg[160];

		snprintf(msg, sizeof(msg), "%%s: want a whole number from %u to %u", lo, hi);
		usage_error(msg, opt);
	}
	return (unsigned int)v;
}

/* An option in microseconds: whole ones, or a duration with its unit (2ms). */
static uint64_t parse_us(const char *opt, const char *s, uint64_t hi)
{
	uint64_t v;

	if (iom_parse_us(s, 0, hi, &v)) {
		char msg[160];

		snprintf(msg, sizeof(msg), "%%s: want whole microseconds from 0 to %llu, or a "
			 "duration such as 2ms", (unsigned long long)hi);
		usage_error(msg, opt);
	}
	return v;
}

/* An errno by name (EIO) or number (5); 0 if it is neither. */
static int parse_errno(const char *s, size_t len)
{
	char name[32];
	char *end;
	long v;

	if (!len || len >= sizeof(name))
		return 0;
	memcpy(name, s, len);
	name[len] = '\0';
	v = strtol(name, &end, 10);
	if (!*end)
		return v > 0 && v < 4096 ? (int)v : 0;
	for (int e = 1; e < 4096; e++) {
		const char *n = strerrorname_np(e);

		if (n && strcmp(n, name) == 0)
			return e;
	}
	return 0;
}

/* "@P" at the end of a fault item: the fraction P (0..1) as parts per million. */
static uint32_t parse_fault_p(const char *item, const char *at)
{
	char msg[160];

	if (!at)
		usage_error("--fault: '%s' wants @P, the fraction of operations (e.g. @0.05)", item);
	snprintf(msg, sizeof(msg), "--fault %s's fraction", item);
	return (uint32_t)(parse_double(msg, at + 1, 0, 1) * 1e6 + 0.5);
}

/*
 * --fault LIST, comma-separated (and --fault may be given again: the items add up):
 *   errno:E@P       the fraction P of operations fails with errno E (injection on return)
 *   kill-worker@P   kernel_free: the worker running the fraction P of tasks dies holding it
 *   drop-conn@P     rpc: the backend drops the connection of the fraction P of requests
 *   cq-overflow:E   uring: a CQ (and SQ) of E entries, so completions take the overflow path
 */
static void add_fault(struct opts *o, const char *opt, const char *item)
{
	struct iom_cfg *cfg = &o->cfg;
	const char *at = strchr(item, '@');

	if (!strncmp(item, "errno:", 6)) {
		if (!at)
			usage_error("--fault: want errno:E@P, e.g. errno:EIO@0.05 (got '%s')", item);
		cfg->fault_errno = parse_errno(item + 6, (size_t)(at - (item + 6)));
		if (!cfg->fault_errno)
			usage_error("--fault: unknown errno in '%s' (want a name like EIO or a number)",
				    item);
		cfg->fault_ppm = parse_fault_p(item, at);
	} else if (!strncmp(item, "kill-worker@", 12) || !strcmp(item, "kill-worker")) {
		cfg->fault_kill_ppm = parse_fault_p(item, at);
	} else if (!strncmp(item, "drop-conn@", 10) || !strcmp(item, "drop-conn")) {
		cfg->fault_drop_ppm = parse_fault_p(item, at);
	} else if (!strncmp(item, "cq-overflow:", 12)) {
		unsigned int e = parse_uint("--fault cq-overflow:E", item + 12, 4, 4096);

		if (e & (e - 1))
			usage_error("--fault: cq-overflow:E wants a power of two from 4 to 4096 "
				    "(got '%s')", item);
		cfg->fault_cq_entries = e;
	} else {
		usage_error("--fault: unknown fault '%s' (errno:E@P, kill-worker@P, drop-conn@P, "
			    "cq-overflow:E)", item);
	}
	(void)opt;
}

/* Seconds, or a number with ns, us, ms, s, m or h; at most 7 days. */
static uint64_t parse_duration(const char *opt, const char *s)
{
	uint64_t ns;
	int ret = iom_parse_duration(s, 0, 86400ull * 7 * 1000000000ull, &ns);

	if (ret == -ERANGE)
		usage_error("%s: want a duration from 0 to 7 days", opt);
	if (ret)
		usage_error("%s: want a duration such as 5, 5s, 500ms, 200us or 1m", opt);
	return ns;
}

/* Split a comma list; each item goes to fn. */
static void each_item(const char *opt, const char *list, void (*fn)(struct opts *, const char *,
								    const char *),
		      struct opts *o)
{
	char buf[1024], *rest = buf, *item;

	if (strlen(list) >= sizeof(buf) || !*list)
		usage_error("%s: empty or too long", opt);
	snprintf(buf, sizeof(buf), "%s", list);
	/* strsep, not strtok: "1,,2" has an empty item, which is an error, not nothing. */
	while ((item = strsep(&rest, ","))) {
		if (!*item)
			usage_error("%s: empty item in the list", opt);
		fn(o, opt, item);
	}
}

static void add_model(struct opts *o, const char *opt, const char *name)
{
	const struct iom_model *m = iom_model_find(name);

	if (!strcmp(name, "all")) {
		for (size_t i = 0; iom_models[i]; i++)
			add_model(o, opt, iom_models[i]->name);
		return;
	}
	if (!m)
		usage_error("--model: unknown model '%s'", name);
	if (o->nr_models == MAX_LIST)
		usage_error("%s: too many items", opt);
	o->models[o->nr_models++] = m;
}

static void add_workload(struct opts *o, const char *opt, const char *name)
{
	int w = iom_wl_parse(name);

	if (w < 0)
		usage_error("--workload: unknown workload '%s' (nop, timer, file, rpc)", name);
	if (o->nr_workloads == MAX_LIST)
		usage_error("%s: too many items", opt);
	o->workloads[o->nr_workloads++] = (enum iom_wl_kind)w;
}

static void add_concurrency(struct opts *o, const char *opt, const char *s)
{
	if (o->nr_concurrency == MAX_LIST)
		usage_error("%s: too many items", opt);
	o->concurrency[o->nr_concurrency++] = parse_uint(opt, s, 1, 65536);
}

/* "0-1,3" into a CPU set; every CPU must be one this process may run on. */
static void parse_cpus(struct iom_cfg *cfg, const char *s)
{
	cpu_set_t allowed;
	char buf[128], *rest = buf, *item;

	if (strlen(s) >= sizeof(buf) || !*s)
		usage_error("--cpus: want a list such as 0 or 0-1 or 0,2 (got '%s')", s);
	snprintf(buf, sizeof(buf), "%s", s);
	snprintf(cfg->cpus_str, sizeof(cfg->cpus_str), "%s", s);
	CPU_ZERO(&cfg->cpus);
	sched_getaffinity(0, sizeof(allowed), &allowed);
	while ((item = strsep(&rest, ","))) {
		char *dash = strchr(item, '-');
		unsigned int lo, hi;

		if (dash)
			*dash = '\0';
		lo = parse_uint("--cpus", item, 0, CPU_SETSIZE - 1);
		hi = dash ? parse_uint("--cpus", dash + 1, 0, CPU_SETSIZE - 1) : lo;
		if (hi < lo)
			usage_error("--cpus: a range must go up (got '%s')", s);
		for (unsigned int c = lo; c <= hi; c++) {
			if (!CPU_ISSET(c, &allowed))
				usage_error("--cpus: CPU in '%s' is not online or not allowed", s);
			CPU_SET(c, &cfg->cpus);
		}
	}
	cfg->cpus_set = true;
}

enum {
	OPT_MODEL = 256, OPT_WORKLOAD, OPT_CONCURRENCY, OPT_JOBS, OPT_CPUS, OPT_TASKS,
	OPT_RUNTIME, OPT_RAMP, OPT_REPEAT, OPT_RATE, OPT_RATE_PROCESS, OPT_LATENCY_US,
	OPT_LATENCY_DIST, OPT_DEADLINE_US, OPT_CPU_WORK_US, OPT_SEED, OPT_FILENAME, OPT_DIRECTORY,
	OPT_SIZE, OPT_BS, OPT_DIRECT, OPT_RW, OPT_COLD, OPT_ALLOW_OVERWRITE, OPT_ALLOW_DEVICE,
	OPT_ON_PARTIAL, OPT_BATCH_COMPLETE, OPT_OUTPUT, OPT_QUIET,
	OPT_ON_EXPIRED, OPT_ON_FAILED, OPT_RETRY_MAX, OPT_BACKOFF, OPT_BACKOFF_BASE_US,
	OPT_BACKOFF_CAP_US, OPT_IDEMPOTENCY_KEY, OPT_BACKEND_CAPACITY,
	OPT_PAYLOAD, OPT_CONNECT, OPT_UNIX, OPT_BACKEND_CPUS, OPT_SERVER_MODEL, OPT_SERVICE,
	OPT_VERIFY, OPT_PROBES, OPT_PROBE_REPEATS, OPT_TIMELINE, OPT_POLL_INTERVAL_US,
	OPT_FAULT, OPT_CONCURRENCY_MAX,
	OPT_THREAD_STATES, OPT_APPEND, OPT_FORCE, OPT_FORK_CELLS, OPT_API, OPT_WAIT,
	OPT_MODEL_OPT,	/* + k: all_long_opts[k], a model's own option (build_long_opts) */
};

static const struct option long_opts[] = {
	{ "model", required_argument, NULL, OPT_MODEL },
	{ "workload", required_argument, NULL, OPT_WORKLOAD },
	{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
	{ "jobs", required_argument, NULL, OPT_JOBS },
	{ "numjobs", required_argument, NULL, OPT_JOBS },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "cpus_allowed", required_argument, NULL, OPT_CPUS },
	{ "tasks", required_argument, NULL, OPT_TASKS },
	{ "runtime", required_argument, NULL, OPT_RUNTIME },
	{ "ramp", required_argument, NULL, OPT_RAMP },
	{ "ramp_time", required_argument, NULL, OPT_RAMP },
	{ "repeat", required_argument, NULL, OPT_REPEAT },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "rate-process", required_argument, NULL, OPT_RATE_PROCESS },
	{ "latency-us", required_argument, NULL, OPT_LATENCY_US },
	{ "latency-dist", required_argument, NULL, OPT_LATENCY_DIST },
	{ "deadline-us", required_argument, NULL, OPT_DEADLINE_US },
	{ "cpu-work-us", required_argument, NULL, OPT_CPU_WORK_US },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "filename", required_argument, NULL, OPT_FILENAME },
	{ "directory", required_argument, NULL, OPT_DIRECTORY },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "bs", required_argument, NULL, OPT_BS },
	{ "direct", optional_argument, NULL, OPT_DIRECT },
	{ "rw", required_argument, NULL, OPT_RW },
	{ "cold", no_argument, NULL, OPT_COLD },
	{ "allow-overwrite", no_argument, NULL, OPT_ALLOW_OVERWRITE },
	{ "allow-device", no_argument, NULL, OPT_ALLOW_DEVICE },
	{ "on-partial", required_argument, NULL, OPT_ON_PARTIAL },
	{ "batch-complete", required_argument, NULL, OPT_BATCH_COMPLETE },
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "append", no_argument, NULL, OPT_APPEND },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "fork-cells", no_argument, NULL, OPT_FORK_CELLS },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "payload", required_argument, NULL, OPT_PAYLOAD },
	{ "on-expired", required_argument, NULL, OPT_ON_EXPIRED },
	{ "on-failed", required_argument, NULL, OPT_ON_FAILED },
	{ "retry-max", required_argument, NULL, OPT_RETRY_MAX },
	{ "backoff", required_argument, NULL, OPT_BACKOFF },
	{ "backoff-base-us", required_argument, NULL, OPT_BACKOFF_BASE_US },
	{ "backoff-cap-us", required_argument, NULL, OPT_BACKOFF_CAP_US },
	{ "idempotency-key", no_argument, NULL, OPT_IDEMPOTENCY_KEY },
	{ "backend-capacity", required_argument, NULL, OPT_BACKEND_CAPACITY },
	{ "connect", required_argument, NULL, OPT_CONNECT },
	{ "unix", required_argument, NULL, OPT_UNIX },
	{ "backend-cpus", required_argument, NULL, OPT_BACKEND_CPUS },
	{ "server-model", required_argument, NULL, OPT_SERVER_MODEL },
	{ "service", required_argument, NULL, OPT_SERVICE },
	{ "probes", required_argument, NULL, OPT_PROBES },
	{ "probe-repeats", required_argument, NULL, OPT_PROBE_REPEATS },
	{ "timeline", required_argument, NULL, OPT_TIMELINE },
	{ "poll-interval-us", required_argument, NULL, OPT_POLL_INTERVAL_US },
	{ "fault", required_argument, NULL, OPT_FAULT },
	{ "concurrency-max", required_argument, NULL, OPT_CONCURRENCY_MAX },
	{ "thread-states", required_argument, NULL, OPT_THREAD_STATES },
	{ "api", required_argument, NULL, OPT_API },
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ NULL, 0, NULL, 0 },
};

#define OFF(field)	offsetof(struct opts, field)
#define NO_GIVEN	SIZE_MAX

static const char *opt_name(int val);

/* An option that is a switch: sets a bool of struct opts. */
static const struct flag_opt {
	int opt;
	size_t off;
} flag_opts[] = {
	{ OPT_COLD, OFF(cfg.wl.cold) },
	{ OPT_ALLOW_OVERWRITE, OFF(cfg.wl.allow_overwrite) },
	{ OPT_ALLOW_DEVICE, OFF(cfg.wl.allow_device) },
	{ OPT_QUIET, OFF(quiet) },
	{ OPT_APPEND, OFF(append) },
	{ OPT_FORCE, OFF(force) },
	{ OPT_FORK_CELLS, OFF(fork_cells) },
	{ OPT_VERIFY, OFF(cfg.verify) },
	{ OPT_IDEMPOTENCY_KEY, OFF(cfg.wl.idempotency_key) },
	{ OPT_WAIT, OFF(cfg.wl.async_wait) },
};

/* An option that takes one word of a set: stored as an enum (an int) or a bool. */
static const struct word_opt {
	int opt;
	size_t off, given_off;
	bool is_bool;
	const char *want;
	struct { const char *word; int value; } words[5];
} word_opts[] = {
	{ OPT_RATE_PROCESS, OFF(cfg.rate_process), NO_GIVEN, false, "uniform or poisson",
	  { { "uniform", IOM_RATE_UNIFORM }, { "linear", IOM_RATE_UNIFORM },
	    { "poisson", IOM_RATE_POISSON } } },
	{ OPT_RW, OFF(cfg.wl.write), NO_GIVEN, true, "read or write",
	  { { "read", 0 }, { "randread", 0 }, { "write", 1 }, { "randwrite", 1 } } },
	{ OPT_ON_PARTIAL, OFF(cfg.on_partial), NO_GIVEN, false, "resubmit or accept",
	  { { "resubmit", IOM_PARTIAL_RESUBMIT }, { "accept", IOM_PARTIAL_ACCEPT } } },
	{ OPT_ON_EXPIRED, OFF(cfg.retry_expired), NO_GIVEN, true, "drop or retry",
	  { { "drop", 0 }, { "retry", 1 } } },
	{ OPT_ON_FAILED, OFF(cfg.retry_failed), NO_GIVEN, true, "drop or retry",
	  { { "drop", 0 }, { "retry", 1 } } },
	{ OPT_BACKOFF, OFF(cfg.backoff), NO_GIVEN, false, "none, exp or exp-jitter",
	  { { "none", IOM_BACKOFF_NONE }, { "exp", IOM_BACKOFF_EXP },
	    { "exp-jitter", IOM_BACKOFF_EXP_JITTER } } },
	{ OPT_THREAD_STATES, OFF(thread_states), OFF(thread_states_given), false,
	  "auto, probes or proc", { { "auto", IOM_STATES_FROM_AUTO },
				    { "probes", IOM_STATES_FROM_PROBES },
				    { "proc", IOM_STATES_FROM_PROC } } },
	{ OPT_PROBE_REPEATS, OFF(probe_abba), NO_GIVEN, true, "all or abba",
	  { { "all", 0 }, { "abba", 1 } } },
	{ OPT_API, OFF(cfg.wl.api), NO_GIVEN, false, "sync or async",
	  { { "sync", IOM_API_SYNC }, { "async", IOM_API_ASYNC } } },
};

/* An option that takes a number: how it is read, and where it goes. */
enum num_kind {
	NUM_UINT,	/* unsigned int, lo..hi */
	NUM_US,		/* microseconds (a decimal), lo..hi, into uint64_t ns */
	NUM_DURATION,	/* a duration (parse.h), into uint64_t ns */
	NUM_SIZE,	/* a size (parse.h), lo..hi, into uint64_t */
	NUM_DOUBLE,	/* a decimal, lo..hi, into double */
};

static const struct num_opt {
	int opt;
	enum num_kind kind;
	size_t off, given_off;
	double lo, hi;
} num_opts[] = {
	{ OPT_JOBS, NUM_UINT, OFF(cfg.jobs), NO_GIVEN, 1, 4096 },
	{ OPT_TASKS, NUM_SIZE, OFF(cfg.tasks), NO_GIVEN, 1, 1ull << 50 },
	{ OPT_RUNTIME, NUM_DURATION, OFF(cfg.runtime_ns), OFF(runtime_given), 0, 0 },
	{ OPT_RAMP, NUM_DURATION, OFF(cfg.ramp_ns), OFF(ramp_given), 0, 0 },
	{ OPT_REPEAT, NUM_UINT, OFF(repeat), OFF(repeat_given), 1, 1000 },
	{ OPT_RATE, NUM_DOUBLE, OFF(cfg.rate), NO_GIVEN, 1e-3, 1e9 },
	{ OPT_LATENCY_US, NUM_US, OFF(cfg.wl.latency_ns), NO_GIVEN, 0, 3.6e9 },
	{ OPT_DEADLINE_US, NUM_US, OFF(cfg.deadline_ns), OFF(deadline_given), 1, 3.6e9 },
	{ OPT_CPU_WORK_US, NUM_US, OFF(cfg.cpu_work_ns), NO_GIVEN, 0, 1e6 },
	{ OPT_SEED, NUM_SIZE, OFF(cfg.wl.seed), NO_GIVEN, 0, 1ull << 50 },
	{ OPT_SIZE, NUM_SIZE, OFF(cfg.wl.size), NO_GIVEN, 0, 1ull << 50 },
	{ OPT_BATCH_COMPLETE, NUM_UINT, OFF(cfg.batch_complete), NO_GIVEN, 1, 65536 },
	{ OPT_RETRY_MAX, NUM_UINT, OFF(cfg.retry_max), NO_GIVEN, 0, 100 },
	{ OPT_BACKOFF_BASE_US, NUM_US, OFF(cfg.backoff_base_ns), NO_GIVEN, 1, 1e8 },
	{ OPT_BACKOFF_CAP_US, NUM_US, OFF(cfg.backoff_cap_ns), NO_GIVEN, 1, 1e9 },
	{ OPT_CONCURRENCY_MAX, NUM_UINT, OFF(concurrency_max), NO_GIVEN, 1, 4096 },
	{ OPT_BACKEND_CAPACITY, NUM_UINT, OFF(cfg.wl.backend_capacity), NO_GIVEN, 1, 1u << 30 },
	{ OPT_POLL_INTERVAL_US, NUM_US, OFF(poll_interval_ns), OFF(poll_interval_given), 0,
	  1e7 },
};

#define NR(a)	(sizeof(a) / sizeof((a)[0]))

_Static_assert(sizeof(enum iom_backoff) == sizeof(int), "word options store enums as int");

static void set_given(struct opts *o, size_t given_off)
{
	if (given_off != NO_GIVEN)
		*(bool *)((char *)o + given_off) = true;
}

static bool parse_flag_opt(struct opts *o, int c)
{
	for (size_t i = 0; i < NR(flag_opts); i++)
		if (flag_opts[i].opt == c) {
			*(bool *)((char *)o + flag_opts[i].off) = true;
			return true;
		}
	return false;
}

static bool parse_word_opt(struct opts *o, int c, const char *arg)
{
	for (size_t i = 0; i < NR(word_opts); i++) {
		const struct word_opt *w = &word_opts[i];
		char msg[160];

		if (w->opt != c)
			continue;
		for (size_t k = 0; k < NR(w->words) && w->words[k].word; k++) {
			if (strcmp(arg, w->words[k].word))
				continue;
			if (w->is_bool)
				*(bool *)((char *)o + w->off) = w->words[k].value;
			else
				memcpy((char *)o + w->off, &w->words[k].value, sizeof(int));
			set_given(o, w->given_off);
			return true;
		}
		snprintf(msg, sizeof(msg), "%s: want %s (got '%%s')", opt_name(c), w->want);
		usage_error(msg, arg);
	}
	return false;
}

static bool parse_num_opt(struct opts *o, int c, const char *arg)
{
	for (size_t i = 0; i < NR(num_opts); i++) {
		const struct num_opt *n = &num_opts[i];
		void *dst = (char *)o + n->off;
		const char *name = opt_name(c);
		uint64_t u;
		double d;

		if (n->opt != c)
			continue;
		switch (n->kind) {
		case NUM_UINT:
			*(unsigned int *)dst = parse_uint(name, arg, (unsigned int)n->lo,
							  (unsigned int)n->hi);
			break;
		case NUM_US:
			*(uint64_t *)dst = (uint64_t)(parse_double(name, arg, n->lo, n->hi) * 1e3);
			break;
		case NUM_DURATION:
			*(uint64_t *)dst = parse_duration(name, arg);
			break;
		case NUM_SIZE:
			u = parse_size(name, arg);
			if (u < (uint64_t)n->lo)
				usage_error("%s: want at least 1", name);
			*(uint64_t *)dst = u;
			break;
		case NUM_DOUBLE:
			d = parse_double(name, arg, n->lo, n->hi);
			*(double *)dst = d;
			break;
		}
		set_given(o, n->given_off);
		return true;
	}
	return false;
}

/* The file workload's options that need more than a number or a word. */
static bool parse_file_opt(struct opts *o, int c, const char *arg)
{
	struct iom_wl_params *wl = &o->cfg.wl;
	struct stat st;

	switch (c) {
	case OPT_FILENAME:
		if (strlen(arg) >= sizeof(wl->path) || !*arg)
			usage_error("--filename: empty or too long%s", "");
		snprintf(wl->path, sizeof(wl->path), "%s", arg);
		return true;
	case OPT_DIRECTORY:
		if (strlen(arg) >= sizeof(wl->directory) - 64 || !*arg)
			usage_error("--directory: empty or too long%s", "");
		if (stat(arg, &st) || !S_ISDIR(st.st_mode))
			usage_error("--directory: '%s' is not a directory", arg);
		snprintf(wl->directory, sizeof(wl->directory), "%s", arg);
		return true;
	case OPT_BS:
		wl->bs = (uint32_t)parse_size("--bs", arg);
		if (!wl->bs || wl->bs % 512 || wl->bs > (64u << 20))
			usage_error("--bs: want a multiple of 512 up to 64M (got '%s')", arg);
		return true;
	case OPT_DIRECT:
		if (arg && strcmp(arg, "1") && strcmp(arg, "0"))
			usage_error("--direct: want no value, 0 or 1 (got '%s')", arg);
		wl->direct = !arg || !strcmp(arg, "1");
		return true;
	}
	return false;
}

/* The rpc workload's options that need more than a number or a word. */
static bool parse_rpc_opt(struct opts *o, int c, const char *arg)
{
	struct iom_wl_params *wl = &o->cfg.wl;
	struct iom_err err = { "" };
	struct iom_rpc_addr a;
	struct iom_cfg tmp;

	switch (c) {
	case OPT_PAYLOAD:
		wl->payload = (uint32_t)parse_size("--payload", arg);
		if (wl->payload > IOM_RPC_MAX_PAYLOAD)
			usage_error("--payload: at most 1M (got '%s')", arg);
		return true;
	case OPT_CONNECT:
		if (strlen(arg) >= sizeof(wl->connect) || iom_rpc_addr_parse(&a, arg, &err))
			usage_error("--connect: want HOST:PORT (got '%s')", arg);
		snprintf(wl->connect, sizeof(wl->connect), "%s", arg);
		return true;
	case OPT_UNIX:
		if (!*arg || strlen(arg) >= sizeof(wl->unix_path))
			usage_error("--unix: empty or too long path '%s'", arg);
		snprintf(wl->unix_path, sizeof(wl->unix_path), "%s", arg);
		return true;
	case OPT_BACKEND_CPUS:
		parse_cpus(&tmp, arg);
		snprintf(wl->backend_cpus, sizeof(wl->backend_cpus), "%s", arg);
		return true;
	case OPT_SERVER_MODEL:
		if (!iom_server_model_find(arg))
			usage_error("--server-model: unknown server model '%s'", arg);
		snprintf(wl->server_model, sizeof(wl->server_model), "%s", arg);
		return true;
	case OPT_SERVICE: {
		struct iom_server_opts so;

		iom_server_opts_init(&so);
		if (strlen(arg) >= sizeof(wl->service) || iom_service_parse(arg, &so, &err))
			usage_error("%s", err.msg[0] ? err.msg : "--service: too long");
		snprintf(wl->service, sizeof(wl->service), "%s", arg);
		return true;
	}
	}
	return false;
}

/* Everything else: lists, the CPU set, the latency distribution, faults, probes, output. */
static bool parse_other_opt(struct opts *o, int c, const char *arg)
{
	struct iom_cfg *cfg = &o->cfg;
	struct iom_err err = { "" };

	switch (c) {
	case OPT_MODEL:
		each_item("--model", arg, add_model, o);
		o->models_given = true;
		return true;
	case OPT_WORKLOAD: each_item("--workload", arg, add_workload, o); return true;
	case OPT_CONCURRENCY: each_item("--concurrency", arg, add_concurrency, o); return true;
	case OPT_CPUS: parse_cpus(cfg, arg); return true;
	case OPT_LATENCY_DIST:
		if (iom_dist_parse(arg, &cfg->wl, &err))
			usage_error("%s", err.msg);
		return true;
	case OPT_OUTPUT:
		if (!*arg)
			usage_error("--output: empty%s", "");
		o->output = arg;
		return true;
	case OPT_FAULT: each_item("--fault", arg, add_fault, o); return true;
	case OPT_PROBES:
		check_probe_list(arg);
		cfg->probes = arg;
		return true;
	case OPT_TIMELINE:
		if (!*arg)
			usage_error("--timeline: empty file name%s", "");
		cfg->timeline = arg;
		return true;
	}
	return false;
}

/*
 * The models' own options (core/opt.h): after run's own long_opts, every name a model's table
 * declares that run does not, once; getopt's value for all_long_opts[k] is OPT_MODEL_OPT + k.
 */
#define MAX_ALL_OPTS	192
static struct option all_long_opts[MAX_ALL_OPTS];

/* Every model the binary knows: the table's, then a test build's extra ones; NULL past them. */
static const struct iom_model *any_model(size_t i)
{
	size_t n = 0;

	while (iom_models[n])
		n++;
	if (i < n)
		return iom_models[i];
	for (size_t k = 0; iom_models_extra && iom_models_extra[k]; k++)
		if (k == i - n)
			return iom_models_extra[k];
	return NULL;
}

static bool long_opt_known(const char *name, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		if (!strcmp(all_long_opts[i].name, name))
			return true;
	return false;
}

static void build_long_opts(void)
{
	static bool built;
	size_t nr = 0;

	if (built)
		return;
	for (; long_opts[nr].name; nr++)
		all_long_opts[nr] = long_opts[nr];
	for (size_t m = 0; any_model(m); m++)
		for (const struct iom_opt *t = any_model(m)->opts; t && t->name; t++) {
			if (long_opt_known(t->name, nr) || nr + 1 >= MAX_ALL_OPTS)
				continue;
			all_long_opts[nr] = (struct option){ t->name, iom_opt_has_arg(t) ?
							     required_argument : no_argument,
							     NULL, OPT_MODEL_OPT + (int)nr };
			nr++;
		}
	all_long_opts[nr] = (struct option){ NULL, 0, NULL, 0 };
	built = true;
}

/* "--name" of a run option, for the messages. */
static const char *opt_name(int val)
{
	static char buf[64];

	build_long_opts();
	for (size_t i = 0; all_long_opts[i].name; i++)
		if (all_long_opts[i].val == val) {
			snprintf(buf, sizeof(buf), "--%s", all_long_opts[i].name);
			return buf;
		}
	return "option";
}

/* Does any model declare an option called name? */
static const struct iom_model *opt_owner(const char *name)
{
	for (size_t m = 0; any_model(m); m++)
		if (iom_opt_find(any_model(m)->opts, name))
			return any_model(m);
	return NULL;
}

/* A model's own option as given: kept until the run's models are known (--model may follow). */
static void keep_model_opt(struct opts *o, const char *name, const char *arg)
{
	if (o->nr_given_model_opts == MAX_MODEL_OPTS)
		usage_error("--%s: too many of the models' own options", name);
	o->given_model_opts[o->nr_given_model_opts].name = name;
	o->given_model_opts[o->nr_given_model_opts++].arg = arg;
}

/* Model m's options struct for this run, starting from its defaults (NULL: it has none). */
static void *model_opts_for(struct opts *o, const struct iom_model *m)
{
	void *mem;

	for (unsigned int i = 0; i < o->nr_model_opts; i++)
		if (o->model_opts[i].model == m)
			return o->model_opts[i].opts;
	if (!m->opts || !m->opts_defaults)
		return NULL;
	if (o->nr_model_opts == MAX_OPT_MODELS || m->opts_size > MODEL_OPTS_BYTES)
		usage_error("--model: %s's options do not fit (a build limit)", m->name);
	mem = o->model_opts_mem[o->nr_model_opts];
	memcpy(mem, m->opts_defaults, m->opts_size);
	o->model_opts[o->nr_model_opts].model = m;
	o->model_opts[o->nr_model_opts++].opts = mem;
	return mem;
}

/* A model's option given to a run of none of the models that have it: one line, exit 2. */
static void refuse_model_opt(const char *name)
{
	const struct iom_model *owner = opt_owner(name);

	fprintf(stderr, "iomodels: --%s: an option of --model %s, not of this run's models (see "
		"iomodels help %s)\n", name, owner->name, owner->name);
	exit(2);
}

/*
 * The models' own options, once the run's models are known: each goes to every model of the
 * run that declares it (a name run has too, --poll-interval-us, goes to both); one that no
 * model of the run has is refused. Then each model checks its set against the rest.
 */
static void apply_model_opts(struct opts *o)
{
	struct iom_err err = { "" };
	char msg[256];

	o->nr_model_opts = 0;
	o->poll_interval_taken = false;
	for (unsigned int m = 0; m < o->nr_models; m++)
		model_opts_for(o, o->models[m]);
	for (unsigned int i = 0; i < o->nr_given_model_opts; i++) {
		const char *name = o->given_model_opts[i].name;
		bool taken = false;

		for (unsigned int k = 0; k < o->nr_model_opts; k++) {
			const struct iom_opt *t = iom_opt_find(o->model_opts[k].model->opts, name);

			if (t && iom_opt_parse(t, o->model_opts[k].opts, o->given_model_opts[i].arg,
					       msg, sizeof(msg)))
				usage_error("%s", msg);
			taken |= t != NULL;
		}
		if (!strcmp(name, "poll-interval-us"))
			o->poll_interval_taken = taken;
		else if (!taken)
			refuse_model_opt(name);
	}
	for (unsigned int k = 0; k < o->nr_model_opts; k++) {
		const struct iom_model *m = o->model_opts[k].model;

		if (m->opts_check && m->opts_check(o->model_opts[k].opts, &o->cfg, &err))
			usage_error("%s", err.msg);
	}
	o->cfg.model_opts = o->model_opts;
	o->cfg.nr_model_opts = o->nr_model_opts;
}

/* The defaults of run and watch, before any option. */
static void run_opts_defaults(struct opts *o)
{
	iom_cfg_init(&o->cfg);
	o->repeat = 1;
}

/*
 * --api async: rpc only; its frames are a header and a 16-byte body whatever --payload says;
 * --poll-interval-us is kernel_free's own under --notify poll, else only the async API's.
 */
static void run_opts_check_api(struct opts *o)
{
	struct iom_cfg *cfg = &o->cfg;

	if (cfg->wl.api != IOM_API_ASYNC) {
		if (cfg->wl.async_wait)
			usage_error("--wait: only with --api async%s", "");
		if (o->poll_interval_given && !o->poll_interval_taken)
			usage_error("--poll-interval-us: only with --api async (or a model's own "
				    "option of that name: iomodels help MODEL)%s", "");
		return;
	}
	for (unsigned int w = 0; w < o->nr_workloads; w++)
		if (o->workloads[w] != IOM_WL_RPC)
			usage_error("--api async: only with --workload rpc (got %s)",
				    iom_wl_name(o->workloads[w]));
	if (cfg->wl.async_wait && o->poll_interval_given)
		usage_error("--wait and --poll-interval-us: a WAIT does not poll%s", "");
	if (cfg->verify)
		usage_error("--verify: checks the sync API's echoes, not --api async%s", "");
	cfg->wl.payload = sizeof(struct iom_rpc_async);
	cfg->wl.async_poll_ns = o->poll_interval_given ? o->poll_interval_ns : 1000000;
}

/* After the options: the lists' defaults, then what only makes sense together. */
static void run_opts_finish(struct opts *o)
{
	struct iom_cfg *cfg = &o->cfg;

	if (o->append && o->force)
		usage_error("--append and --force: give one of them%s", "");
	if ((o->append || o->force) && !o->output)
		usage_error("--append/--force: only with --output DIR%s", "");
	if (!o->nr_models)
		add_model(o, "--model", "all");
	if (!o->nr_workloads)
		add_workload(o, "--workload", "timer");
	/* Open loop: C only caps what may be in flight, so it must not throttle the rate. */
	if (!o->nr_concurrency)
		add_concurrency(o, "--concurrency", cfg->rate > 0 ? "1024" : "16");
	if (cfg->tasks && o->runtime_given)
		usage_error("--tasks and --runtime: give one of them%s", "");
	if (!cfg->tasks && cfg->runtime_ns < 1000000)
		usage_error("--runtime: want at least 1ms%s", "");
	if (!o->ramp_given)
		cfg->ramp_ns = cfg->tasks ? 0 : (cfg->runtime_ns / 10 < 1000000000ull ?
						 cfg->runtime_ns / 10 : 1000000000ull);
	if (cfg->wl.size < cfg->wl.bs)
		usage_error("--size: smaller than --bs%s", "");
	if (cfg->wl.dist == IOM_DIST_BIMODAL && cfg->wl.latency_ns == 0 && cfg->wl.bimodal_ns == 0)
		usage_error("--latency-dist: bimodal with both latencies 0%s", "");
	apply_model_opts(o);
	run_opts_check_api(o);
	for (unsigned int i = 0; i < o->nr_concurrency; i++)
		if (cfg->jobs && o->concurrency[i] / cfg->jobs > IOM_MAX_DEPTH)
			usage_error("--concurrency: at most %s per submitter", "1048576");
}

/* A getopt failure: a value missing or given to a switch, or an option nobody has. */
static void bad_option(char **argv)
{
	for (size_t i = 0; optopt && all_long_opts[i].name; i++)
		if (all_long_opts[i].val == optopt)
			usage_error("--%s: needs a value, or takes none", all_long_opts[i].name);
	usage_error("unknown option '%s'", argv[optind - 1]);
}

/* run's and watch's options: each one in its table or its group, then the checks. */
static void parse_run_opts(struct opts *o, int argc, char **argv)
{
	int c;

	run_opts_defaults(o);
	build_long_opts();
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", all_long_opts, NULL)) != -1) {
		if (c == '?' || c == ':')
			bad_option(argv);
		if (c >= OPT_MODEL_OPT) {
			keep_model_opt(o, all_long_opts[c - OPT_MODEL_OPT].name, optarg);
			continue;
		}
		/* run's own, which a model may declare too (run_opts_check_api says when). */
		if (c == OPT_POLL_INTERVAL_US && opt_owner("poll-interval-us"))
			keep_model_opt(o, "poll-interval-us", optarg);
		if (!(optarg ? parse_word_opt(o, c, optarg) || parse_num_opt(o, c, optarg) ||
			       parse_file_opt(o, c, optarg) || parse_rpc_opt(o, c, optarg) ||
			       parse_other_opt(o, c, optarg) :
			       parse_flag_opt(o, c) || parse_file_opt(o, c, NULL)))
			bad_option(argv);
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	run_opts_finish(o);
}

/* A configuration that cannot work, found before any cell: one line, exit 2, nothing written. */
static void config_error(const char *msg) __attribute__((noreturn));
static void config_error(const char *msg)
{
	/* A check cut short by SIGINT/SIGTERM (connect returns EINTR) is the signal's doing. */
	if (iom_driver_interrupted()) {
		fprintf(stderr, "iomodels: interrupted\n");
		exit(130);
	}
	fprintf(stderr, "iomodels: %s\n", msg);
	exit(2);
}

/*
 * What would make every cell fail, checked once before the first: a file workload's file that
 * is not ours and too small (or would be overwritten), a backend given by --connect that does
 * not answer.
 */
static void check_config(const struct opts *o)
{
	struct iom_err err = { "" };
	char msg[sizeof(err.msg) + 64];

	for (unsigned int w = 0; w < o->nr_workloads; w++) {
		struct iom_wl_params p = o->cfg.wl;

		p.kind = o->workloads[w];
		if (iom_workload_check(&p, &err))
			config_error(err.msg);
		if (p.kind == IOM_WL_RPC && p.service[0] && p.connect[0])
			usage_error("--service: for the server this run starts, not one given by "
				    "--connect%s", "");
		if (p.kind == IOM_WL_RPC && !strncmp(p.service, "file:", 5)) {
			char path[PATH_MAX];

			iom_workload_file_path(&p, path, sizeof(path));
			if (access(path, R_OK)) {
				snprintf(msg, sizeof(msg), "--service %s: cannot read %s (make it with "
					 "--workload file, or give --filename)", p.service, path);
				config_error(msg);
			}
		}
		if (p.kind == IOM_WL_RPC && p.connect[0]) {
			struct iom_rpc_addr a;
			int fd;

			if (iom_rpc_addr_parse(&a, p.connect, &err))
				config_error(err.msg);
			fd = iom_rpc_connect(&a, &err);
			if (fd < 0) {
				snprintf(msg, sizeof(msg), "--connect %s: %s", p.connect, err.msg);
				config_error(msg);
			}
			close(fd);
		}
	}
}

static void default_output(char *buf, size_t len)
{
	char host[64] = "host", stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	gethostname(host, sizeof(host) - 1);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(buf, len, "results/%s-%s", stamp, host);
}

/* The one line a person reads per cell. */
static void print_cell(const struct iom_row *row)
{
	const double *n = row->num;
	char p50[16], p99[16], cpu[16];

	printf("%-8s %-6s C=%-5.0f J=%-4.0f cpus=%-5s %-11s", row->str[IOM_COL_model],
	       row->str[IOM_COL_workload], n[IOM_COL_concurrency], n[IOM_COL_jobs],
	       row->str[IOM_COL_cpus], row->str[IOM_COL_status]);
	if (strcmp(row->str[IOM_COL_status], "ok")) {
		printf(" %s\n", row->str[IOM_COL_reason]);
		return;
	}
	iom_fmt_ns(p50, sizeof(p50), n[IOM_COL_lat_p50_ns]);
	iom_fmt_ns(p99, sizeof(p99), n[IOM_COL_lat_p99_ns]);
	iom_fmt_ns(cpu, sizeof(cpu), n[IOM_COL_cpu_ns_per_task]);
	printf(" %10.0f ops/s  p50 %-8s p99 %-8s cpu/task %-8s inflight %.1f%s%s",
	       n[IOM_COL_ops_per_s], p50, p99, cpu, n[IOM_COL_inflight_avg],
	       row->str[IOM_COL_flags][0] ? "  flags " : "", row->str[IOM_COL_flags]);
	/* iomodels-mpi: the job's row, and its slowest and fastest rank (docs/mpi.md). */
	if (!isnan(n[IOM_COL_ranks]))
		printf("\n         ranks %.0f: %.0f to %.0f ops/s each", n[IOM_COL_ranks],
		       n[IOM_COL_rank_min_ops_per_s], n[IOM_COL_rank_max_ops_per_s]);
	/* --fault: what happened, on the line a person reads. */
	if (row->str[IOM_COL_fault][0]) {
		printf("\n         fault %s: %.0f tasks hit; completed %.0f failed %.0f expired %.0f",
		       row->str[IOM_COL_fault], n[IOM_COL_faults], n[IOM_COL_n_completed],
		       n[IOM_COL_n_failed], n[IOM_COL_n_expired]);
		if (!isnan(n[IOM_COL_retries]))
			printf(" retries %.0f", n[IOM_COL_retries]);
		if (n[IOM_COL_workers_replaced] > 0)
			printf(" workers replaced %.0f", n[IOM_COL_workers_replaced]);
		if (n[IOM_COL_reconnects] > 0)
			printf(" reconnects %.0f", n[IOM_COL_reconnects]);
		if (n[IOM_COL_cq_overflow] > 0)
			printf(" cq overflow seen %.0f times", n[IOM_COL_cq_overflow]);
	}
	putchar('\n');
	fflush(stdout);
}

static void on_sigint(int sig)
{
	(void)sig;
	iom_driver_interrupt();
}

/*
 * run's handlers, installed by main() before anything else: a SIGINT or SIGTERM while the
 * options, the configuration or the metadata are read (probing every model takes a while)
 * ends the run as one mid-cell does, 130. Both are unblocked too: a run started with them
 * blocked (the mask is inherited) would otherwise be deaf to them, and one already pending
 * is taken now, by the handler.
 */
static void run_signals_install(void)
{
	struct sigaction sa = { .sa_handler = on_sigint };
	sigset_t set;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/*
 * Point results/latest at the newest run when the output is under results/: a symlink made
 * under a name of this process, renamed over the old one, so no reader sees it missing.
 */
static void update_latest(const char *dir)
{
	char tmp[64];

	if (strncmp(dir, "results/", 8) || strchr(dir + 8, '/'))
		return;
	snprintf(tmp, sizeof(tmp), "results/.latest.%ld", (long)getpid());
	unlink(tmp);
	if (symlink(dir + 8, tmp) || rename(tmp, "results/latest")) {
		fprintf(stderr, "iomodels: cannot point results/latest at %s: %s (%s)\n", dir + 8,
			iom_errno_name(errno), strerror(errno));
		unlink(tmp);
	}
}

/*
 * A row that could not be written (a full disk) stops the run: said once, with the errno,
 * and its series file goes too, so the directory holds only rows it can account for.
 */
static void forget_row(const struct iom_report *rep, const char *dir, unsigned int row_index)
{
	char path[PATH_MAX + 32];

	fprintf(stderr, "iomodels: %s; the run stops, %s holds its first %lu rows\n",
		iom_report_errmsg(rep), dir, iom_report_nrows(rep));
	snprintf(path, sizeof(path), "%s/series-row%u.csv", dir, row_index);
	unlink(path);
}

/*
 * --fork-cells: the cell runs in a child process, its row and histogram handed back through
 * shared memory. Its memory columns are then its alone: no heap, thread stacks (glibc keeps
 * up to 40 MiB of them for reuse) or caches left by the cells before it.
 */
static int run_cell_forked(const struct iom_cfg *cfg, struct iom_row *row, struct iom_hist *hist)
{
	struct cell_result {
		int ret;
		bool done;
		struct iom_row row;
		struct iom_hist hist;
	} *res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int status = 0, ret = 0;
	pid_t pid;

	iom_row_init(row);
	if (res == MAP_FAILED) {
		snprintf(row->str[IOM_COL_reason], sizeof(row->str[0]), "mmap: %s", strerror(errno));
		goto fail;
	}
	iom_row_init(&res->row);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		res->ret = iom_run_cell(cfg, &res->row, &res->hist);
		if (!isnan(res->row.num[IOM_COL_rss_cell_bytes]))
			snprintf(res->row.str[IOM_COL_mem_isolation], sizeof(row->str[0]), "fork");
		res->done = true;
		fflush(NULL);
		_exit(0);
	}
	if (pid < 0) {
		snprintf(row->str[IOM_COL_reason], sizeof(row->str[0]), "fork: %s", strerror(errno));
		munmap(res, sizeof(*res));
		goto fail;
	}
	/* A signal to this process only (kill PID): the child's cell ends the same way. */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		if (iom_driver_interrupted())
			kill(pid, SIGINT);
	*row = res->row;
	memcpy(hist, &res->hist, sizeof(*hist));
	ret = res->done ? res->ret : -1;
	munmap(res, sizeof(*res));
	if (ret >= 0)
		return ret;
	snprintf(row->str[IOM_COL_reason], sizeof(row->str[0]), "the cell's process %s %d",
		 WIFSIGNALED(status) ? "died of signal" : "exited",
		 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
fail:
	snprintf(row->str[IOM_COL_status], sizeof(row->str[0]), "error");
	return 0;
}

/*
 * rpc: the server the run starts gets a CPU of its own when the client was given --cpus and
 * another CPU is allowed (#20: client and server apart, as on two hosts). True if the run has
 * an rpc cell; its server model and CPUs are recorded in run.json.
 */
static bool rpc_server_placement(struct opts *o)
{
	struct iom_wl_params *wl = &o->cfg.wl;
	bool rpc = false;
	cpu_set_t allowed;

	for (unsigned int w = 0; w < o->nr_workloads; w++)
		rpc |= o->workloads[w] == IOM_WL_RPC;
	if (!rpc || wl->connect[0])
		return rpc;
	/* Before the run pins itself to --cpus: what the process may use at all. */
	if (!wl->backend_cpus[0] && o->cfg.cpus_set &&
	    !sched_getaffinity(0, sizeof(allowed), &allowed)) {
		for (int c = 0; c < CPU_SETSIZE; c++) {
			if (CPU_ISSET(c, &allowed) && !CPU_ISSET(c, &o->cfg.cpus)) {
				snprintf(wl->backend_cpus, sizeof(wl->backend_cpus), "%d", c);
				break;
			}
		}
	}
	return true;
}

static int cmd_run(int argc, char **argv)
{
	static struct iom_row row;
	struct iom_hist *hist = malloc(sizeof(*hist));
	struct opts o = { 0 };
	struct iom_report *rep;
	char outdir[PATH_MAX], errbuf[256], label[128];
	int exit_code = 0, why;
	unsigned int nr_rows = 0;
	bool rpc, write_failed = false;

	if (!hist)
		return 1;
	parse_run_opts(&o, argc, argv);
	if (o.concurrency_max) {
		free(hist);
		usage_error("--concurrency-max: only for watch (run takes --concurrency LIST)%s", "");
	}
	if (o.thread_states_given) {
		free(hist);
		usage_error("--thread-states: only for watch (run's threads are in its probe "
			    "columns)%s", "");
	}
	if (o.probe_abba && (!o.cfg.probes || !strcmp(o.cfg.probes, "off") ||
			     o.cfg.timeline || o.repeat % 2)) {
		free(hist);
		usage_error("--probe-repeats abba: needs --probes, an even --repeat and no "
			    "--timeline%s", "");
	}
	o.cfg.progress = !o.quiet && isatty(STDERR_FILENO);
	check_config(&o);
	/* Interrupted before any output: nothing is written. */
	if (iom_driver_interrupted()) {
		free(hist);
		return 130;
	}
	/* Under mpirun this binary would be N runs writing N results: iomodels-mpi is one. */
	if (iom_cluster_launched_size() > 1 && !iom_cluster_active()) {
		free(hist);
		config_error("unavailable: no MPI in this binary (run iomodels-mpi under mpirun; "
			     "it is built when MPI is present, docs/mpi.md)");
	}

	if (o.output)
		snprintf(outdir, sizeof(outdir), "%s", o.output);
	else
		default_output(outdir, sizeof(outdir));
	rep = iom_report_open_mode(outdir, sizeof(outdir), !o.output ? IOM_REPORT_UNIQUE :
				   o.append ? IOM_REPORT_APPEND : o.force ? IOM_REPORT_FORCE :
				   IOM_REPORT_NEW, argc, argv, errbuf, sizeof(errbuf), &why);
	if (!rep) {
		free(hist);
		/* Output unusable, or a run there that refuses this one: nothing written. */
		config_error(errbuf);
	}
	rpc = rpc_server_placement(&o);
	nr_rows = (unsigned int)iom_report_nrows(rep);
	if (iom_report_models(rep, iom_models)) {
		fprintf(stderr, "iomodels: %s\n", iom_report_errmsg(rep));
		iom_report_close(rep);
		free(hist);
		return 1;
	}
	if (o.cfg.cpus_set && sched_setaffinity(0, sizeof(o.cfg.cpus), &o.cfg.cpus)) {
		fprintf(stderr, "iomodels: sched_setaffinity %s: %s\n", o.cfg.cpus_str,
			strerror(errno));
		iom_report_close(rep);
		free(hist);
		return 1;
	}
	iom_meta_collect(rep, o.cfg.wl.directory[0] ? o.cfg.wl.directory : ".", iom_models);
	iom_report_meta_num(rep, "timer_slack_ns", (double)iom_timer_slack_ns());
	iom_report_meta_str(rep, "cpus", o.cfg.cpus_set ? o.cfg.cpus_str : "all");
	if (rpc) {
		iom_report_meta_str(rep, "server_model", o.cfg.wl.connect[0] ? "external" :
				    o.cfg.wl.server_model[0] ? o.cfg.wl.server_model : "epoll");
		iom_report_meta_str(rep, "backend_cpus", o.cfg.wl.backend_cpus[0] ?
				    o.cfg.wl.backend_cpus : "all");
		iom_report_meta_str(rep, "server_service", o.cfg.wl.service[0] ?
				    o.cfg.wl.service : "request");
	}
	iom_report_meta_num(rep, "seed", (double)o.cfg.wl.seed);
	iom_report_meta_str(rep, "latency_note",
			    "closed loop: from submit; open loop: from the intended start. One "
			    "clock reading per submit batch and per reaped batch.");

	for (unsigned int r = 0; r < o.repeat && !iom_driver_interrupted(); r++)
		for (unsigned int m = 0; m < o.nr_models && !iom_driver_interrupted(); m++)
			for (unsigned int w = 0; w < o.nr_workloads; w++)
				for (unsigned int c = 0; c < o.nr_concurrency; c++) {
					struct iom_cfg cfg = o.cfg;
					int ret;

					if (iom_driver_interrupted() || write_failed)
						break;
					cfg.model = o.models[m];
					cfg.wl.kind = o.workloads[w];
					cfg.concurrency = o.concurrency[c];
					cfg.repeat = r;
					if (o.probe_abba && (r % 4 == 0 || r % 4 == 3))
						cfg.probes = "off";
					snprintf(label, sizeof(label), "%s %s C=%u", cfg.model->name,
						 iom_wl_name(cfg.wl.kind), cfg.concurrency);
					cfg.label = label;
					cfg.out_dir = outdir;
					cfg.row_index = nr_rows++;
					ret = o.fork_cells ? run_cell_forked(&cfg, &row, hist) :
							     iom_run_cell(&cfg, &row, hist);
					if (iom_report_row(rep, &row, hist)) {
						write_failed = true;
						forget_row(rep, outdir, cfg.row_index);
						break;
					}
					if (!o.quiet)
						print_cell(&row);
					else if (!strcmp(row.str[IOM_COL_status], "error") &&
						 ret != IOM_EXIT_BUG)	/* its own line below */
						fprintf(stderr, "iomodels: %s: error: %s\n", label,
							row.str[IOM_COL_reason]);
					if (ret == IOM_EXIT_BUG) {
						fprintf(stderr, "iomodels: %s\n",
							row.str[IOM_COL_reason]);
						exit_code = IOM_EXIT_BUG;
					} else if (ret == 130 && !exit_code) {
						exit_code = 130;
					} else if (!strcmp(row.str[IOM_COL_status], "error") &&
						   !exit_code) {
						exit_code = 1;
					}
				}
	if (iom_driver_interrupted() && exit_code != IOM_EXIT_BUG)
		exit_code = 130;
	if (iom_report_finish(rep, errbuf, sizeof(errbuf)) && !write_failed) {
		fprintf(stderr, "iomodels: %s\n", errbuf);
		exit_code = exit_code ? exit_code : 1;
	}
	if (write_failed)
		exit_code = exit_code ? exit_code : 1;
	update_latest(outdir);
	if (!o.quiet)
		printf("results: %s/runs.csv\n", outdir);
	free(hist);
	return exit_code;
}

/*
 * list --caps: one line per model, "name sync|async[,batch][,cancel][,deadline][,pool][,cq]
 * desc" (pool: --fault kill-worker applies; cq: --fault cq-overflow applies).
 */
static int list_caps(void)
{
	char caps[64];

	for (size_t m = 0; iom_models[m]; m++) {
		iom_caps_format(iom_models[m]->caps, caps, sizeof(caps));
		printf("%-11s %s %s\n", iom_models[m]->name, caps, iom_models[m]->desc);
	}
	return 0;
}

/*
 * watch: the run options for one cell per model, run side by side with live knobs. What only a
 * batch run can mean (lists of workloads or concurrencies, repeats, open loop, a task count) is
 * refused here, before anything starts.
 */
static int cmd_watch(int argc, char **argv)
{
	struct iom_watch_opts w = { 0 };
	struct opts o = { 0 };
	unsigned int cmax;

	parse_run_opts(&o, argc, argv);
	if (o.nr_workloads > 1)
		usage_error("watch: one --workload at a time (got %s)", "a list");
	if (o.nr_concurrency > 1)
		usage_error("watch: one --concurrency to start from (got %s); keys change it",
			    "a list");
	if (o.cfg.rate > 0)
		usage_error("watch: closed loop only (--rate is for %s)", "run");
	if (o.cfg.tasks)
		usage_error("watch: runs for --runtime or until q (--tasks is for %s)", "run");
	if (o.repeat_given || o.ramp_given)
		usage_error("watch: --repeat and --ramp are for %s", "run");
	if (o.cfg.timeline)
		usage_error("watch: --timeline is for %s", "run");
	if (o.append || o.force || o.fork_cells)
		usage_error("watch: --append, --force and --fork-cells are for %s", "run");
	if (o.probe_abba)
		usage_error("watch: --probe-repeats is for %s", "run");
	if (!o.models_given) {
		o.nr_models = 0;
		add_model(&o, "--model", "threads");
		add_model(&o, "--model", "uring");
		apply_model_opts(&o);	/* again: the models' own options go to these two */
	}
	if (o.nr_models > IOM_WATCH_MAX_LANES)
		usage_error("watch: at most 4 models side by side%s", "");
	for (unsigned int i = 0; i < o.nr_models; i++)
		for (unsigned int j = 0; j < i; j++)
			if (o.models[i] == o.models[j])
				usage_error("watch: model '%s' given twice", o.models[i]->name);
	if (o.cfg.probes && *o.cfg.probes && strcmp(o.cfg.probes, "off") && o.nr_models > 1)
		usage_error("watch: --probes counts the whole process: give one --model%s", "");
	/* Slots and threads for the most the keys can ask for: 4 C, at least 64, at most 4096. */
	cmax = o.concurrency_max ? o.concurrency_max :
	       o.concurrency[0] * 4 > 64 ? (o.concurrency[0] * 4 < 4096 ? o.concurrency[0] * 4 : 4096) :
	       64;
	if (o.concurrency[0] > cmax)
		usage_error("--concurrency: above --concurrency-max %s", "");
	if (o.cfg.jobs && cmax / o.cfg.jobs > IOM_MAX_DEPTH)
		usage_error("--concurrency-max: at most %s per submitter", "1048576");
	if (!o.runtime_given)
		o.cfg.runtime_ns = 60000000000ull;
	check_config(&o);
	if (o.cfg.cpus_set && sched_setaffinity(0, sizeof(o.cfg.cpus), &o.cfg.cpus)) {
		fprintf(stderr, "iomodels: sched_setaffinity %s: %s\n", o.cfg.cpus_str,
			strerror(errno));
		return 1;
	}
	w.cfg = o.cfg;
	w.cfg.wl.kind = o.workloads[0];
	for (unsigned int i = 0; i < o.nr_models; i++)
		w.models[w.nr_models++] = o.models[i];
	w.concurrency = o.concurrency[0];
	w.concurrency_max = cmax;
	w.thread_states = o.thread_states;
	w.deadline_on = o.deadline_given;
	w.output = o.output;
	w.argc = argc;
	w.argv = argv;
	return iom_watch(&w);
}

static int cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "auto", no_argument, NULL, 'a' }, { "slow-ms", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' }, { NULL, 0, NULL, 0 },
	};
	struct iom_demo_opts d = { .slow_ns = 2000000000ull };
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a': d.automatic = true; break;
		case 's':
			d.slow_ns = (uint64_t)parse_uint("--slow-ms", optarg, 10, 60000) * 1000000ull;
			break;
		case 'o':
			if (!*optarg)
				usage_error("--output: empty%s", "");
			d.output = optarg;
			break;
		default:
			usage_error("demo: unknown option or missing value '%s' (--auto, --slow-ms MS, "
				    "--output DIR)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("demo: unexpected argument '%s'", argv[optind]);
	return iom_demo(&d);
}

static int cmd_list(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--caps"))
		return list_caps();
	/* models.csv's text, for a script that needs it without a run (bench, plot.py). */
	if (argc == 3 && !strcmp(argv[1], "--caps") && !strcmp(argv[2], "--csv")) {
		iom_models_csv(stdout, iom_models);
		return 0;
	}
	if (argc > 1)
		usage_error("list: unexpected argument '%s'", argv[1]);
	for (size_t m = 0; iom_models[m]; m++) {
		for (int w = 0; w < IOM_NR_WL; w++) {
			struct iom_err err = { "" };
			int ret = iom_models[m]->probe((enum iom_wl_kind)w, &err);

			printf("%-8s %-7s ", iom_models[m]->name, iom_wl_name((enum iom_wl_kind)w));
			if (ret == 0)
				printf("ok\n");
			else if (ret == IOM_PROBE_NA)
				printf("n/a: %s\n", err.msg);
			else
				printf("unavailable: %s\n", err.msg);
		}
	}
	return 0;
}

/*
 * calibrate --only NAME[,NAME]: calibrate.csv's names, as a figure set; a usage error (exit 2,
 * before anything runs or is written) for an unknown or empty name.
 */
static unsigned long long calibrate_only(const char *list)
{
	unsigned long long fields = 0;
	char name[64];

	for (const char *p = list;; p++) {
		size_t n = strcspn(p, ",");
		int bit;

		if (!n || n >= sizeof(name))
			usage_error("calibrate: --only: want calibrate.csv's names, comma-separated "
				    "(got '%s')", list);
		memcpy(name, p, n);
		name[n] = '\0';
		bit = iom_calibration_field(name);
		if (bit < 0)
			usage_error("calibrate: --only: unknown figure '%s' (want calibrate.csv's "
				    "names, e.g. syscall_ns)", name);
		fields |= 1ull << bit;
		p += n;
		if (!*p)
			return fields;
	}
}

static int cmd_calibrate(int argc, char **argv)
{
	struct iom_calibration cal;
	struct iom_probe_cost pc;
	struct iom_err err = { 0 };
	char path[PATH_MAX];
	const char *out = NULL, *probes = NULL;
	unsigned long long fields = IOM_CAL_ALL;
	bool have_pc = false;
	FILE *f;

	for (int i = 1; i < argc; i += 2) {
		if (i + 1 >= argc || !*argv[i + 1])
			usage_error("calibrate: want [--output DIR] [--probes LIST] [--only NAMES] "
				    "(got '%s')", argv[i]);
		if (!strcmp(argv[i], "--output")) {
			out = argv[i + 1];
		} else if (!strcmp(argv[i], "--only")) {
			fields = calibrate_only(argv[i + 1]);
		} else if (!strcmp(argv[i], "--probes")) {
			check_probe_list(argv[i + 1]);
			probes = strcmp(argv[i + 1], "off") ? argv[i + 1] : NULL;
		} else {
			usage_error("calibrate: want [--output DIR] [--probes LIST] [--only NAMES] "
				    "(got '%s')", argv[i]);
		}
	}
	if (out) {
		char cmd[PATH_MAX + 32];

		snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", out);
		if (strchr(out, '\'') || system(cmd)) {
			fprintf(stderr, "iomodels: cannot create %s\n", out);
			return 1;
		}
	}
	iom_calibrate_some(&cal, fields);
	iom_calibration_print_some(&cal, fields, stdout, false);
	/* The probes' cost per switch: unavailable probes are said, and the figures left out. */
	if (probes) {
		have_pc = !iom_calibrate_probe_cost(probes, &pc, &err);
		if (have_pc)
			iom_probe_cost_print(&pc, probes, stdout, false);
		else
			fprintf(stderr, "probes: unavailable: %s\n", err.msg);
	}
	if (out) {
		snprintf(path, sizeof(path), "%s/calibrate.csv", out);
		f = fopen(path, "w");
		if (!f) {
			fprintf(stderr, "iomodels: cannot write %s: %s\n", path, strerror(errno));
			return 1;
		}
		iom_calibration_print_some(&cal, fields, f, true);
		if (have_pc)
			iom_probe_cost_print(&pc, probes, f, true);
		fclose(f);
	}
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' }, { "unix", required_argument, NULL, 'u' },
		{ "threads", required_argument, NULL, 't' }, { "cpus", required_argument, NULL, 'c' },
		{ "capacity", required_argument, NULL, 'k' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "stats-file", required_argument, NULL, 's' },
		{ "frame-timeout-ms", required_argument, NULL, 'f' },
		{ "idle-timeout-ms", required_argument, NULL, 'i' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "max-inflight", required_argument, NULL, 'n' },
		{ "out-cap", required_argument, NULL, 'o' },
		{ "service", required_argument, NULL, 'S' },
		{ "file", required_argument, NULL, 'F' },
		{ "model", required_argument, NULL, 'M' },
		{ "max-pending", required_argument, NULL, 'P' },
		{ "max-pending-conn", required_argument, NULL, 'C' },
		{ "status-ttl-ms", required_argument, NULL, 'T' },
		{ "status-lag-us", required_argument, NULL, 'L' },
		{ "quiet", no_argument, NULL, 'q' }, { NULL, 0, NULL, 0 },
	};
	const struct iom_server_model *m = iom_server_model_find("epoll");
	struct iom_server_opts so;
	struct iom_err err = { "" };
	struct iom_rpc_addr a;
	struct iom_cfg tmp;
	int c;

	iom_server_opts_init(&so);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (iom_rpc_addr_parse(&a, optarg, &err))
				usage_error("serve --listen: want HOST:PORT (got '%s')", optarg);
			so.listen = optarg;
			break;
		case 'u': so.unix_path = optarg; break;
		case 't': so.threads = parse_uint("--threads", optarg, 1, 256); break;
		case 'c':
			parse_cpus(&tmp, optarg);
			so.cpus = tmp.cpus;
			so.cpus_set = true;
			break;
		case 'k': so.capacity = parse_uint("--capacity", optarg, 1, 1u << 30); break;
		case 'p': so.port_file = optarg; break;
		case 's': so.stats_file = optarg; break;
		case 'f':
			so.frame_timeout_ms = parse_uint("--frame-timeout-ms", optarg, 1, 3600000);
			break;
		case 'i':
			so.idle_timeout_ms = parse_uint("--idle-timeout-ms", optarg, 0, 86400000);
			break;
		case 'm': so.max_conns = parse_uint("--max-conns", optarg, 1, 1u << 24); break;
		case 'n': so.max_inflight = parse_uint("--max-inflight", optarg, 1, 1u << 20); break;
		case 'o':
			so.out_cap = parse_size("--out-cap", optarg);
			if (so.out_cap < 4096 || so.out_cap > (1ull << 30))
				usage_error("--out-cap: 4K to 1G bytes (got '%s')", optarg);
			break;
		case 'S':
			if (iom_service_parse(optarg, &so, &err))
				usage_error("serve %s", err.msg);
			break;
		case 'F': so.service_path = optarg; break;
		case 'M':
			m = iom_server_model_find(optarg);
			if (!m)
				usage_error("serve --model: unknown server model '%s'", optarg);
			break;
		case 'P': so.max_pending = parse_uint("--max-pending", optarg, 1, 1u << 20); break;
		case 'C':
			so.max_pending_conn = parse_uint("--max-pending-conn", optarg, 1, 1u << 20);
			break;
		case 'T':
			so.status_ttl_ms = parse_uint("--status-ttl-ms", optarg, 1, 86400000);
			break;
		case 'L':
			so.status_lag_us = (uint32_t)parse_us("--status-lag-us", optarg, 60000000);
			break;
		case 'q': so.quiet = true; break;
		default:
			usage_error("serve: unknown option or missing value '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("serve: unexpected argument '%s'", argv[optind]);
	if (iom_server_serve(m, &so, &err)) {
		fprintf(stderr, "iomodels: serve --model %s: %s\n", m->name, err.msg);
		return 1;
	}
	return 0;
}

static int cmd_relay(int argc, char **argv)
{
	const char *listen_at = NULL, *to = NULL;
	struct iom_err err = { "" };
	uint64_t delay_ns = 0;
	bool quiet = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quiet")) {
			quiet = true;
			continue;
		}
		if (i + 1 >= argc)
			usage_error("relay: '%s' needs a value", argv[i]);
		if (!strcmp(argv[i], "--listen"))
			listen_at = argv[++i];
		else if (!strcmp(argv[i], "--to"))
			to = argv[++i];
		else if (!strcmp(argv[i], "--delay-us"))
			delay_ns = (uint64_t)(parse_double("--delay-us", argv[++i], 0, 1e7) * 1e3);
		else
			usage_error("relay: unknown option '%s'", argv[i]);
	}
	if (!listen_at || !to)
		usage_error("relay: want --listen HOST:PORT --to HOST:PORT [--delay-us D]%s", "");
	if (iom_relay(listen_at, to, delay_ns, quiet, &err)) {
		fprintf(stderr, "iomodels: %s\n", err.msg);
		return 1;
	}
	return 0;
}

#ifndef IOM_PYTHON
#define IOM_PYTHON "/usr/bin/python3"	/* the Makefile passes its PYTHON */
#endif

/*
 * A bundled script's path, found from this binary's own: installed, PREFIX/bin/iomodels beside
 * PREFIX/share/iomodels/scripts (dist/install); in the source tree, build/iomodels or
 * build/<tree>/iomodels (asan, tsan, tests) below scripts/. Not from the cwd or $PATH: the
 * scripts must be the ones this binary was built and installed with.
 */
static bool find_script(const char *name, char *path, size_t len)
{
	static const char *const dirs[] = { "../share/iomodels/scripts", "../scripts",
					    "../../scripts" };
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return false;
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, len, "%s/%s/%s", exe, dirs[i], name);
		if (!access(path, R_OK))
			return true;
	}
	return false;
}

/* compare RUN_A RUN_B ...: scripts/compare does the work and checks its own arguments. */
static int cmd_compare(int argc, char **argv)
{
	char script[PATH_MAX], **args;

	if (!find_script("compare", script, sizeof(script))) {
		fprintf(stderr, "iomodels: compare: scripts/compare not found beside this binary "
			"(installed: ../share/iomodels/scripts; in the tree: ../scripts)\n");
		return 2;
	}
	args = calloc((size_t)argc + 2, sizeof(*args));
	if (!args) {
		fprintf(stderr, "iomodels: compare: %s\n", strerror(errno));
		return 2;
	}
	args[0] = IOM_PYTHON;
	args[1] = script;
	for (int i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	execv(IOM_PYTHON, args);
	fprintf(stderr, "iomodels: compare: cannot run %s: %s\n", IOM_PYTHON, strerror(errno));
	free(args);
	return 2;
}

/* Before any thread exists: what every thread inherits. */
static void process_setup(void)
{
	struct rlimit rl;

	/* 1 ns timer slack: the 50 us default taxes nanosleep and epoll_wait, not io_uring. */
	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * The commands: each one's lines of the help ("iomodels NAME ..." then indented lines), printed
 * by `iomodels help`, by `iomodels NAME --help` and named by "unknown command".
 */
static int cmd_help(int argc, char **argv);

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	bool run_options;	/* its help lists the run options */
} commands[] = {
	{ "run", cmd_run,
	  "iomodels run [options]     run the cross product of --model x --workload x "
	  "--concurrency\n", true },
	{ "list", cmd_list,
	  "iomodels list              every model x workload: ok, unavailable or n/a\n"
	  "iomodels list --caps [--csv]  every model: sync|async, its caps, what it is (--csv:\n"
	  "                           models.csv's columns, the report's checklist text)\n", false },
	{ "calibrate", cmd_calibrate,
	  "iomodels calibrate [--output DIR] [--probes LIST] [--only NAME[,NAME]]  this\n"
	  "                           machine's limits (syscall, switch, wake-up, io_uring NOP,\n"
	  "                           timer overshoot, loopback TCP, memcpy, bare echo loops);\n"
	  "                           with --probes, what LIST adds per switch; --only: just\n"
	  "                           those figures (calibrate.csv's names)\n",
	  false },
	{ "serve", cmd_serve,
	  "iomodels serve [--model M] [--listen HOST:PORT | --unix PATH] [--threads N]\n"
	  "               [--cpus LIST] [--capacity N] [--max-conns N] [--out-cap BYTES]\n"
	  "               [--max-inflight N] [--frame-timeout-ms MS] [--idle-timeout-ms MS]\n"
	  "               [--service sleep:D|cpu:D|file:BS [--file F]]\n"
	  "               [--max-pending N] [--max-pending-conn N] [--status-ttl-ms MS]\n"
	  "               [--status-lag-us US]   the async API's store (docs/async-api.md)\n"
	  "               [--port-file F] [--stats-file F] [--quiet]   an rpc server: M is\n"
	  "                           threads, epoll (default), uring or kernel_free\n", false },
	{ "relay", cmd_relay,
	  "iomodels relay --listen HOST:PORT --to HOST:PORT [--delay-us D] [--quiet]   a delaying\n"
	  "                           TCP relay\n", false },
	{ "scenario", iom_scenario_main,
	  "iomodels scenario NAME [options]   a failure mode of the seed (scenario list;\n"
	  "                           scenario NAME --help)\n", false },
	{ "watch", cmd_watch,
	  "iomodels watch [run options] [--concurrency-max N]   the running benchmark, live,\n"
	  "                           one lane per model, with keys that turn its knobs\n"
	  "                           (default --model threads,uring, --runtime 60s)\n"
	  "               [--thread-states auto|probes|proc]   where the lanes' threads\n"
	  "                           blocked/running/runnable come from: the sched probe,\n"
	  "                           /proc schedstat, or the probe when it loads (default)\n",
	  true },
	{ "compare", cmd_compare,
	  "iomodels compare RUN_A RUN_B [RUN...] [--output DIR] [--format LIST]   results\n"
	  "                           directories cell by cell, each against RUN_A: medians,\n"
	  "                           ratios with 95% intervals, significant changes first,\n"
	  "                           cells in one run only listed (docs/report.md); DIR:\n"
	  "                           default results/compare-<UTC time>; LIST: md,csv,json\n"
	  "                           (default all three)\n", false },
	{ "demo", cmd_demo,
	  "iomodels demo [--auto] [--slow-ms MS] [--output DIR]   the seed's story in five\n"
	  "                           measured scenes (a key between scenes, or --auto)\n", false },
	{ "help", cmd_help,
	  "iomodels help [COMMAND | MODEL]   this text, one command's, or a model's own options\n"
	  "iomodels --version         the build (git describe), liburing, libbpf and kernel\n",
	  false },
};
#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char exit_codes_text[] =
	"exit codes:\n"
	"  0    every cell ran (a cell this machine cannot run is unavailable or n/a, not failed)\n"
	"  1    a cell failed (its status is error; its line says why, or stderr with --quiet)\n"
	"  2    bad usage or configuration, found before any cell ran: nothing written\n"
	"  3    an invariant broke (submitted != the sum of the terminal states): a bug\n"
	"  130  interrupted (SIGINT or SIGTERM): the cell drained, the results were written\n";

/* Each line of text, the first after "usage: ", the others after as many spaces. */
static void put_usage(FILE *f, const char *text, bool first)
{
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		int len = nl ? (int)(nl - line) : (int)strlen(line);

		fprintf(f, "%s%.*s\n", first ? "usage: " : "       ", len, line);
		first = false;
		line += len + (nl ? 1 : 0);
	}
}

/* How an option's value is written in the help: "N", "US", "heap|op", or "" for a switch. */
static void model_opt_metavar(const struct iom_opt *t, char *buf, size_t len)
{
	static const char *const metavars[] = {
		[IOM_OPT_BOOL] = "", [IOM_OPT_UINT] = "N", [IOM_OPT_US] = "US",
		[IOM_OPT_DURATION] = "T", [IOM_OPT_SIZE] = "S",
	};

	if (t->type == IOM_OPT_ENUM)
		iom_opt_type_name(t, buf, len);
	else
		snprintf(buf, len, "%s", metavars[t->type]);
}

/* After run's options: the models, and each one's own options (from its table). */
static void print_models_opts(void)
{
	char arg[64], name[96];

	printf("\nthe models' own options (models:");
	for (size_t m = 0; iom_models[m]; m++)
		printf("%s %s", m ? "," : "", iom_models[m]->name);
	printf("; iomodels help MODEL: types, defaults):\n");
	for (size_t m = 0; iom_models[m]; m++)
		for (const struct iom_opt *t = iom_models[m]->opts; t && t->name; t++) {
			model_opt_metavar(t, arg, sizeof(arg));
			snprintf(name, sizeof(name), "--%s%s%s", t->name, *arg ? " " : "", arg);
			printf("  %-20s%s%s: %s\n", name, strlen(name) < 20 ? " " : "  ",
			       iom_models[m]->name, t->help);
		}
}

/* iomodels help MODEL: what it is, and its own options' table (name, type, default, help). */
static void print_model_help(const struct iom_model *m)
{
	char type[64], def[64];

	printf("%s: %s\n", m->name, m->desc);
	if (!m->opts || !m->opts->name) {
		printf("no options of its own\n");
		return;
	}
	printf("\n  %-18s %-14s %-8s %s\n", "option", "type", "default", "what");
	for (const struct iom_opt *t = m->opts; t->name; t++) {
		iom_opt_type_name(t, type, sizeof(type));
		iom_opt_format(t, m->opts_defaults, def, sizeof(def));
		printf("  --%-16s %-14s %-8s %s\n", t->name, type, def, t->help);
	}
}

/* The whole help (cmd NULL) or one command's, on stdout. */
static void print_help(const struct command *cmd)
{
	for (size_t i = 0; i < NR_COMMANDS; i++)
		if (!cmd || cmd == &commands[i])
			put_usage(stdout, commands[i].usage, !i || cmd);
	if (!cmd || cmd->run_options) {
		putchar('\n');
		fputs(run_options_text, stdout);
		print_models_opts();
	}
	putchar('\n');
	fputs(exit_codes_text, stdout);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* "run, list, ..., help": every command, for the messages that name them. */
static void command_names(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NR_COMMANDS && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
					 commands[i].name);
}

static int cmd_help(int argc, char **argv)
{
	const struct command *cmd = argc > 1 ? find_command(argv[1]) : NULL;
	const struct iom_model *m = argc > 1 && !cmd ? iom_model_find(argv[1]) : NULL;

	if (argc > 2 || (argc == 2 && !cmd && !m))
		usage_error("help: want no argument, a command or a model (got '%s')", argv[1]);
	if (m)
		print_model_help(m);
	else
		print_help(cmd);
	return 0;
}

/* run --model M --help (one model): the model's own options after run's help. */
static void print_help_of_model_given(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--model") && iom_model_find(argv[i + 1])) {
			putchar('\n');
			print_model_help(iom_model_find(argv[i + 1]));
		}
}

/* --version: what this binary is, and what it runs on. */
static int print_version(void)
{
	struct utsname u;
	char buf[128];

	printf("iomodels %s\n", iom_meta_git_commit());
	for (size_t i = 0; iom_models[i]; i++) {
		if (!iom_models[i]->lib || !iom_models[i]->lib_version)
			continue;
		iom_models[i]->lib_version(buf, sizeof(buf));
		printf("%s %s\n", iom_models[i]->lib, buf);
	}
	printf("libbpf %s\n", iom_probe_lib_version());
	printf("kernel %s\n", uname(&u) ? "unknown" : u.release);
	return 0;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const struct command *cmd;
	char names[256];

	/* Only run's: the other commands keep the default action (their loops do not look). */
	if (argc >= 2 && !strcmp(argv[1], "run"))
		run_signals_install();
	command_names(names, sizeof(names));
	if (argc < 2) {
		fprintf(stderr, "iomodels: missing command: %s\n", names);
		return 2;
	}
	if (!strcmp(argv[1], "--version")) {
		if (argc > 2)
			usage_error("--version: unexpected argument '%s'", argv[2]);
		return print_version();
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		argv[1] = "help";
	cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, "iomodels: unknown command '%s' (%s)\n", argv[1], names);
		return 2;
	}
	/* The scenarios answer --help themselves: each knows its options. */
	if (cmd->fn != iom_scenario_main && wants_help(argc - 1, argv + 1)) {
		print_help(cmd);
		if (cmd->run_options)
			print_help_of_model_given(argc - 1, argv + 1);
		return 0;
	}
	process_setup();
	iom_workload_set_server(iom_server_serve_wl);
	return cmd->fn(argc - 1, argv + 1);
}
