// SPDX-License-Identifier: MIT
/*
 * Workloads nop / timer / file. The file workload never harms user data: it makes and fills its
 * own file with a verifiable pattern, and refuses to write to a file it did not make (without
 * --allow-overwrite) or to touch a block device (without --allow-device).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/mask.h"
#include "workload.h"

static const char *const wl_names[IOM_NR_WL] = {
	[IOM_WL_NOP] = "nop", [IOM_WL_TIMER] = "timer", [IOM_WL_FILE] = "file",
	[IOM_WL_RPC] = "rpc",
};

const char *iom_wl_name(enum iom_wl_kind k)
{
	return (unsigned)k < IOM_NR_WL ? wl_names[k] : "?";
}

int iom_wl_parse(const char *s)
{
	for (int i = 0; i < IOM_NR_WL; i++)
		if (!strcmp(s, wl_names[i]))
			return i;
	return -1;
}

const char *iom_dist_name(enum iom_dist d)
{
	switch (d) {
	case IOM_DIST_FIXED: return "fixed";
	case IOM_DIST_EXP: return "exp";
	case IOM_DIST_LOGNORMAL: return "lognormal";
	case IOM_DIST_BIMODAL: return "bimodal";
	}
	return "?";
}

int iom_dist_parse(const char *s, struct iom_wl_params *p, struct iom_err *err)
{
	double prob, x_us;
	char *end;

	if (!strcmp(s, "fixed"))
		p->dist = IOM_DIST_FIXED;
	else if (!strcmp(s, "exp"))
		p->dist = IOM_DIST_EXP;
	else if (!strcmp(s, "lognormal"))
		p->dist = IOM_DIST_LOGNORMAL;
	else if (!strncmp(s, "bimodal:", 8)) {
		errno = 0;
		prob = strtod(s + 8, &end);
		if (errno || end == s + 8 || *end != ',' || !(prob >= 0 && prob <= 1))
			return iom_err_msg(err, "--latency-dist %s: want bimodal:P,X with 0 <= P <= 1", s);
		x_us = strtod(end + 1, &end);
		if (errno || *end || !(x_us >= 0 && x_us <= 3.6e9))
			return iom_err_msg(err, "--latency-dist %s: X must be microseconds >= 0", s);
		p->dist = IOM_DIST_BIMODAL;
		p->bimodal_p = prob;
		p->bimodal_ns = (uint64_t)(x_us * 1000.0);
	} else {
		return iom_err_msg(err, "--latency-dist %s: want fixed, exp, lognormal or bimodal:P,X",
				   s);
	}
	return 0;
}

uint64_t iom_workload_latency(const struct iom_wl_params *p, uint64_t seq)
{
	double u, d = (double)p->latency_ns;

	switch (p->dist) {
	case IOM_DIST_FIXED:
		return p->latency_ns;
	case IOM_DIST_EXP:
		u = iom_unit(iom_mix64(p->seed ^ 0x6c6174656e6379ull ^ iom_mix64(seq)));
		return (uint64_t)(-log(u) * d);
	case IOM_DIST_LOGNORMAL: {
		/* Box-Muller from two hashes; mu chosen so the mean is D with sigma 1. */
		double u1 = iom_unit(iom_mix64(p->seed ^ 0x6c6f676e6f726d31ull ^ iom_mix64(seq)));
		double u2 = iom_unit(iom_mix64(p->seed ^ 0x6c6f676e6f726d32ull ^ iom_mix64(seq)));
		double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);

		return d > 0 ? (uint64_t)exp(log(d) - 0.5 + z) : 0;
	}
	case IOM_DIST_BIMODAL:
		/* Deterministic: task seq is slow when floor((seq+1)P) > floor(seq P), so exactly
		 * round(nP) of any n consecutive tasks are slow, with no randomness to flake a test. */
		if (floor((double)(seq + 1) * p->bimodal_p) > floor((double)seq * p->bimodal_p))
			return p->bimodal_ns;
		return p->latency_ns;
	}
	return p->latency_ns;
}

/*
 * rpc: t's first frame. sync: the echo, answered after the service. async: a SUBMIT carrying
 * the service time (its 16-byte body unused), answered at once with the server's task id.
 */
static void rpc_fill_request(const struct iom_wl_params *p, struct iom_task *t)
{
	uint16_t flags = p->idempotency_key ? IOM_RPC_F_IDEMPOTENT : 0;
	uint32_t service_us = (uint32_t)(t->latency_ns / 1000);

	if (p->api == IOM_API_ASYNC) {
		t->len = (uint32_t)iom_rpc_fill(t->buf, t->id, service_us,
						sizeof(struct iom_rpc_async),
						(uint16_t)(IOM_RPC_SUBMIT << IOM_RPC_TYPE_SHIFT));
		memset((char *)t->buf + sizeof(struct iom_rpc_hdr), 0, sizeof(struct iom_rpc_async));
		return;
	}
	t->len = (uint32_t)iom_rpc_fill(t->buf, t->id, service_us, p->payload, flags);
}

int iom_workload_async_next(const struct iom_wl_params *p, struct iom_task *t,
			    uint64_t *delay_ns, uint64_t *learned_us)
{
	struct iom_rpc_hdr h;
	struct iom_rpc_async body;
	unsigned int type, state;

	if (t->len != sizeof(h) + sizeof(body))
		return -EBADMSG;
	memcpy(&h, t->buf, sizeof(h));
	memcpy(&body, (const char *)t->buf + sizeof(h), sizeof(body));
	type = iom_rpc_type(h.flags);
	state = iom_rpc_state(h.flags);
	if (h.magic != IOM_RPC_MAGIC || h.id != t->id || h.len != sizeof(body) ||
	    type == IOM_RPC_ECHO || type >= IOM_RPC_NR_TYPES)
		return -EBADMSG;
	if (state == IOM_RPC_ST_COMPLETED && type != IOM_RPC_SUBMIT) {
		*learned_us = body.aux;
		return 1;
	}
	if (state == IOM_RPC_ST_UNKNOWN && type != IOM_RPC_SUBMIT)
		return -ENOENT;
	if (state == IOM_RPC_ST_FAILED)
		return -EIO;
	if (type == IOM_RPC_SUBMIT) {
		if (state != IOM_RPC_ST_SCHEDULED || !body.task)
			return -EBADMSG;
		type = p->async_wait ? IOM_RPC_WAIT : IOM_RPC_STATUS;
	}
	/* Not done yet: poll again after the interval; a WAIT that said "not yet" goes at once. */
	*delay_ns = type == IOM_RPC_WAIT ? 0 : p->async_poll_ns;
	t->len = (uint32_t)iom_rpc_fill_async(t->buf, t->id, type, body.task);
	return 0;
}

void iom_workload_set_latency(const struct iom_workload *wl, struct iom_task *t,
			      uint64_t latency_ns)
{
	switch (wl->p.kind) {
	case IOM_WL_TIMER:
		t->latency_ns = latency_ns;
		break;
	case IOM_WL_RPC:
		/* The service time travels in the request: build it again. */
		t->latency_ns = latency_ns;
		rpc_fill_request(&wl->p, t);
		break;
	default:
		break;	/* nop and file tasks take the time they take */
	}
}

void iom_workload_fill(const struct iom_workload *wl, uint64_t seq, struct iom_task *t)
{
	switch (wl->p.kind) {
	case IOM_WL_NOP:
		iom_workload_next(wl, seq, t);
		break;
	case IOM_WL_RPC:
		/* fd: the slot's own connection, made once by the driver. */
		t->op = IOM_OP_RPC;
		t->latency_ns = iom_workload_latency(&wl->p, seq);
		rpc_fill_request(&wl->p, t);
		break;
	case IOM_WL_TIMER:
		t->op = IOM_OP_TIMER;
		t->len = 0;
		t->fd = -1;
		t->latency_ns = iom_workload_latency(&wl->p, seq);
		break;
	case IOM_WL_FILE:
		t->op = wl->p.write ? IOM_OP_WRITE : IOM_OP_READ;
		t->fd = wl->fd;
		t->len = wl->p.bs;
		t->latency_ns = 0;
		t->offset = (iom_mix64(wl->p.seed ^ iom_mix64(seq)) % wl->nr_blocks) * wl->p.bs;
		if (wl->p.write)
			iom_pattern_fill(t->buf, t->offset, t->len);
		break;
	case IOM_NR_WL:
		break;
	}
}

void iom_pattern_fill(void *buf, uint64_t off, size_t len)
{
	uint64_t *w = buf;

	for (size_t i = 0; i < len / 8; i++)
		w[i] = iom_pattern_word(off + 8 * i);
}

long iom_pattern_check(const void *buf, uint64_t off, size_t len)
{
	const uint64_t *w = buf;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != iom_pattern_word(off + 8 * i))
			return (long)(8 * i);
	return -1;
}

/* cachestat(2), syscall 451 since Linux 6.5; glibc 2.36 has no wrapper. */
struct iom_cachestat_range {
	uint64_t off, len;
};
struct iom_cachestat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

double iom_cache_fraction(int fd, uint64_t size)
{
	struct iom_cachestat_range range = { 0, size };
	struct iom_cachestat cs;
	long page = sysconf(_SC_PAGESIZE);

	if (fd < 0 || !size || iom_masked("cachestat") || syscall(451, fd, &range, &cs, 0) < 0)
		return -1;
	return (double)cs.nr_cache / (double)((size + (uint64_t)page - 1) / (uint64_t)page);
}

/*
 * Our file: the pattern over --size bytes, then a header kept in one block past the end (a
 * trailer: no task reads or writes there, and block 0 stays pattern for --verify):
 * "iomodels-file v1 size=<bytes> run=<16 hex digits> made=<UTC>".
 * Ours when the header names this size and a sample of blocks spread over the file (the first,
 * the middle and the last among them) still carries the pattern: a file with foreign blocks is
 * no longer ours, and is not written to without --allow-overwrite.
 */
#define FILE_TRAILER_LEN	4096
#define FILE_TRAILER_MAGIC	"iomodels-file v1 "
#define FILE_SAMPLES	65

static bool file_is_ours(int fd, uint64_t size)
{
	static char buf[FILE_TRAILER_LEN] __attribute__((aligned(8)));
	unsigned long long made_size;
	uint64_t span, nr;
	struct stat st;
	size_t len;

	if (fstat(fd, &st) || (uint64_t)st.st_size != size + FILE_TRAILER_LEN || size < 8)
		return false;
	if (pread(fd, buf, FILE_TRAILER_LEN, (off_t)size) != FILE_TRAILER_LEN)
		return false;
	buf[FILE_TRAILER_LEN - 1] = '\0';
	if (strncmp(buf, FILE_TRAILER_MAGIC, strlen(FILE_TRAILER_MAGIC)) ||
	    sscanf(buf + strlen(FILE_TRAILER_MAGIC), "size=%llu ", &made_size) != 1 ||
	    made_size != size)
		return false;
	/* Sample i of nr starts i/(nr-1) of the way to the last whole block: both ends, the middle. */
	span = size > sizeof(buf) ? size - sizeof(buf) : 0;
	len = size < sizeof(buf) ? (size_t)size & ~7ul : sizeof(buf);
	nr = span / sizeof(buf) + 1 < FILE_SAMPLES ? span / sizeof(buf) + 1 : FILE_SAMPLES;
	for (uint64_t i = 0; i < nr; i++) {
		uint64_t off = nr > 1 ? span * i / (nr - 1) & ~7ull : 0;

		if (pread(fd, buf, len, (off_t)off) != (ssize_t)len ||
		    iom_pattern_check(buf, off, len) >= 0)
			return false;
	}
	return true;
}

/* Write all of buf at off; a short write goes on, so the error is the one that stopped it. */
static int pwrite_all(int fd, const char *buf, size_t n, uint64_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, buf, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -ENOSPC;
		buf += w, n -= (size_t)w, off += (uint64_t)w;
	}
	return 0;
}

static int write_trailer(int fd, uint64_t size)
{
	static char trailer[FILE_TRAILER_LEN];
	unsigned long long run_id = 0;
	time_t now = time(NULL);
	char made[32];

	if (getrandom(&run_id, sizeof(run_id), 0) != sizeof(run_id))
		run_id = (unsigned long long)now << 20 ^ (unsigned long long)getpid();
	strftime(made, sizeof(made), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	memset(trailer, 0, sizeof(trailer));
	snprintf(trailer, sizeof(trailer), FILE_TRAILER_MAGIC "size=%llu run=%016llx made=%s\n",
		 (unsigned long long)size, run_id, made);
	return pwrite_all(fd, trailer, sizeof(trailer), size);
}

static int fill_file(int fd, uint64_t size, struct iom_err *err, const char *path)
{
	const size_t chunk = 1 << 20;
	char *buf = malloc(chunk);
	int ret = 0;

	if (!buf)
		return iom_err_set(err, -ENOMEM, "fill %s", path);
	for (uint64_t off = 0; off < size && !ret; off += chunk) {
		size_t n = size - off < chunk ? (size_t)(size - off) : chunk;

		iom_pattern_fill(buf, off, n);
		ret = pwrite_all(fd, buf, n, off);
	}
	free(buf);
	if (!ret)
		ret = write_trailer(fd, size);
	if (ret)
		return iom_err_set(err, ret, "write %s", path);
	if (fsync(fd))
		return iom_err_set(err, -errno, "fsync %s", path);
	return 0;
}

static int parse_cpu_list(const char *s, cpu_set_t *set)
{
	char buf[64], *rest = buf, *item;

	CPU_ZERO(set);
	snprintf(buf, sizeof(buf), "%s", s);
	while ((item = strsep(&rest, ","))) {
		char *end;
		long lo = strtol(item, &end, 10), hi = lo;

		if (end == item)
			return -EINVAL;
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		if (*end || lo < 0 || hi < lo || hi >= CPU_SETSIZE)
			return -EINVAL;
		for (long c = lo; c <= hi; c++)
			CPU_SET((int)c, set);
	}
	return 0;
}

static iom_wl_serve_fn wl_serve;

void iom_workload_set_server(iom_wl_serve_fn serve)
{
	wl_serve = serve;
}

/* The server's first line, "port=N": 0 when read, -ETIMEDOUT after 5 s, -EPIPE if it exited. */
static int rpc_read_port(int fd, unsigned int *port)
{
	char line[64];
	size_t len = 0;

	while (len < sizeof(line) - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		/* It binds within milliseconds; give it 5 s on a loaded machine. */
		if (poll(&pfd, 1, 5000) <= 0)
			return -ETIMEDOUT;
		n = read(fd, line + len, 1);
		if (n <= 0)
			return -EPIPE;
		if (line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	return sscanf(line, "port=%u", port) == 1 ? 0 : -EPIPE;
}

/*
 * Start the server in its own process (forked, not exec'd: the test binaries are not
 * iomodels) and wait until it says which port it got, on a pipe: nothing on disk, so nothing
 * is left behind whatever becomes of either process. Called before any thread of the cell
 * exists, so the fork copies a single-threaded process.
 */
static int rpc_start_backend(struct iom_workload *wl, struct iom_err *err)
{
	char hostport[64];
	unsigned int port;
	cpu_set_t cpus;
	pid_t pid, parent = getpid();
	int pfd[2], ret;

	if (!wl_serve)
		return iom_err_msg(err, "rpc: no server to start here: give --connect HOST:PORT");
	if (wl->p.backend_cpus[0]) {
		if (parse_cpu_list(wl->p.backend_cpus, &cpus))
			return iom_err_msg(err, "rpc: bad --backend-cpus '%s'", wl->p.backend_cpus);
	} else {
		/* Not the client's --cpus: by default the backend may use every online CPU. */
		CPU_ZERO(&cpus);
		for (long c = 0; c < sysconf(_SC_NPROCESSORS_ONLN) && c < CPU_SETSIZE; c++)
			CPU_SET((int)c, &cpus);
	}
	if (pipe2(pfd, O_CLOEXEC))
		return iom_err_set(err, -errno, "rpc: pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return iom_err_set(err, -errno, "rpc: fork the backend");
	}
	if (pid == 0) {
		/* Killed with its parent, even by kill -9: no server outlives its run. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		close(pfd[0]);
		_exit(wl_serve(&wl->p, &cpus, pfd[1]) ? 1 : 0);
	}
	close(pfd[1]);
	wl->backend_pid = pid;
	wl->backend_fd = pfd[0];
	ret = rpc_read_port(wl->backend_fd, &port);
	if (ret) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		wl->backend_pid = 0;
		return iom_err_msg(err, ret == -EPIPE ? "rpc: the server exited at start (its "
				   "line above says why)" : "rpc: the server did not start in 5 s");
	}
	/* Listening, no client yet: the RSS its connections and tasks grow from. */
	iom_workload_backend_sample(wl);
	wl->backend_rss0 = wl->backend_rss_max;
	if (wl->p.unix_path[0])
		return iom_rpc_addr_unix(&wl->addr, wl->p.unix_path, err);
	snprintf(hostport, sizeof(hostport), "127.0.0.1:%u", port);
	return iom_rpc_addr_parse(&wl->addr, hostport, err);
}

static int rpc_open(struct iom_workload *wl, struct iom_err *err)
{
	if (wl->p.payload > IOM_RPC_MAX_PAYLOAD)
		return iom_err_msg(err, "rpc: --payload over %u bytes", IOM_RPC_MAX_PAYLOAD);
	if (wl->p.connect[0])
		return iom_rpc_addr_parse(&wl->addr, wl->p.connect, err);
	if (wl->p.unix_path[0] && wl->p.backend_cpus[0] == '\0' && access(wl->p.unix_path, F_OK) == 0)
		return iom_rpc_addr_unix(&wl->addr, wl->p.unix_path, err);
	return rpc_start_backend(wl, err);
}

void iom_workload_backend_sample(struct iom_workload *wl)
{
	char path[64], line[128];
	unsigned int n = 0;
	long long rss_kb = -1;
	FILE *f;

	if (!wl->backend_pid)
		return;
	/*
	 * Each server model has its own threads (one per connection, a loop per CPU, a pool);
	 * its RSS, against the one once listening, is what its clients' connections and pending
	 * tasks cost it (the async API's srv_rss_per_pending).
	 */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)wl->backend_pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %lld kB", &rss_kb);
		if (sscanf(line, "Threads: %u", &n) == 1)
			break;	/* after VmRSS in the file */
	}
	if (f)
		fclose(f);
	if (n > wl->backend_threads)
		wl->backend_threads = n;
	if (rss_kb >= 0 && rss_kb * 1024 > wl->backend_rss_max)
		wl->backend_rss_max = rss_kb * 1024;
}

double iom_workload_backend_cpus(const struct iom_workload *wl)
{
	double threads = wl->backend_threads;
	cpu_set_t set;
	double cpus;

	if (wl->p.backend_cpus[0] && !parse_cpu_list(wl->p.backend_cpus, &set))
		cpus = CPU_COUNT(&set);
	else
		cpus = (double)sysconf(_SC_NPROCESSORS_ONLN);
	return threads && threads < cpus ? threads : cpus;
}

int64_t iom_workload_backend_cpu_ns(const struct iom_workload *wl)
{
	struct timespec ts;
	clockid_t clk;

	/*
	 * The backend's CPU clock: its threads' scheduler run time in ns. /proc/PID/stat's
	 * utime+stime is the same sum in USER_HZ ticks (10 ms), too coarse for a 0.5 s window.
	 */
	if (!wl->backend_pid || clock_getcpuclockid(wl->backend_pid, &clk) ||
	    clock_gettime(clk, &ts))
		return -1;
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* One "key=value" count of the backend's exit report into c (others are ignored). */
static void backend_count(struct iom_backend_counts *c, const char *key, unsigned long long v)
{
	if (!strcmp(key, "duplicates"))
		c->duplicates = (int64_t)v;
	else if (!strcmp(key, "async_pending_max"))
		c->async_pending_max = (int64_t)v;
	else if (!strcmp(key, "async_bytes_at_max"))
		c->async_bytes_at_max = (int64_t)v;
}

bool iom_workload_backend_stop(struct iom_workload *wl, struct iom_backend_counts *c)
{
	char key[32];
	unsigned long long v;
	FILE *f;

	c->duplicates = c->async_pending_max = c->async_bytes_at_max = -1;
	if (!wl->backend_pid)
		return false;
	kill(wl->backend_pid, SIGTERM);
	waitpid(wl->backend_pid, NULL, 0);
	wl->backend_pid = 0;
	/* It wrote its counts to the pipe as it exited. */
	f = fdopen(wl->backend_fd, "r");
	while (f && fscanf(f, "%31[^=]=%llu\n", key, &v) == 2)
		backend_count(c, key, v);
	if (f)
		fclose(f);
	else
		close(wl->backend_fd);
	wl->backend_fd = -1;
	return true;
}

void iom_workload_file_path(const struct iom_wl_params *p, char *path, size_t len)
{
	if (p->path[0])
		snprintf(path, len, "%s", p->path);
	else
		snprintf(path, len, "%s/iomodels.%llu.dat", p->directory[0] ? p->directory : ".",
			 (unsigned long long)p->size);
}

/*
 * The file workload's file: its path into path, whether it exists and is ours (file_is_ours:
 * the trailer names this size, the sampled blocks carry the pattern), and whether it may be used.
 * An existing regular file that is not ours is used only when big enough and, for writes,
 * with --allow-overwrite.
 */
static int file_check(const struct iom_wl_params *p, char *path, size_t len, struct stat *st,
		      bool *exists, bool *ours, struct iom_err *err)
{
	int fd;

	iom_workload_file_path(p, path, len);
	*ours = false;
	*exists = stat(path, st) == 0;
	if (!*exists)
		return 0;
	if (S_ISBLK(st->st_mode) && !p->allow_device)
		return iom_err_msg(err, "file: %s is a block device: refusing without --allow-device",
				   path);
	if (!S_ISREG(st->st_mode) && !S_ISBLK(st->st_mode))
		return iom_err_msg(err, "file: %s is not a regular file", path);
	if (!S_ISREG(st->st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return iom_err_set(err, -errno, "open %s", path);
	*ours = file_is_ours(fd, p->size);
	close(fd);
	if (!*ours && (uint64_t)st->st_size < p->size)
		return iom_err_msg(err, "file: %s is smaller than --size and was not made by "
				   "iomodels", path);
	if (!*ours && p->write && !p->allow_overwrite)
		return iom_err_msg(err, "file: %s was not made by iomodels: refusing to write "
				   "without --allow-overwrite", path);
	return 0;
}

int iom_workload_check(const struct iom_wl_params *p, struct iom_err *err)
{
	char path[sizeof(((struct iom_workload *)0)->path)];
	struct stat st;
	bool exists, ours;

	if (p->kind != IOM_WL_FILE)
		return 0;
	return file_check(p, path, sizeof(path), &st, &exists, &ours, err);
}

int iom_workload_open(struct iom_workload *wl, const struct iom_wl_params *p,
		      struct iom_err *err)
{
	struct stat st;
	int fd, flags, ret;
	bool exists;

	memset(wl, 0, sizeof(*wl));
	wl->p = *p;
	wl->fd = -1;
	wl->backend_fd = -1;
	wl->backend_rss0 = wl->backend_rss_max = -1;
	if (p->kind == IOM_WL_RPC)
		return rpc_open(wl, err);
	if (p->kind != IOM_WL_FILE)
		return 0;
	if (!p->bs || p->bs % 512 || p->size < p->bs)
		return iom_err_msg(err, "file: --bs must be a multiple of 512 and <= --size");
	wl->nr_blocks = p->size / p->bs;
	ret = file_check(p, wl->path, sizeof(wl->path), &st, &exists, &wl->created, err);
	if (ret)
		return ret;

	if (!exists) {
		fd = open(wl->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return iom_err_set(err, -errno, "create %s", wl->path);
		ret = fill_file(fd, p->size, err, wl->path);
		if (ret) {
			close(fd);
			unlink(wl->path);
			return ret;
		}
		close(fd);
		wl->created = true;
	}

	flags = (p->write ? O_RDWR : O_RDONLY) | O_CLOEXEC | (p->direct ? O_DIRECT : 0);
	wl->fd = open(wl->path, flags);
	if (wl->fd < 0)
		return iom_err_set(err, -errno, "open %s%s", wl->path, p->direct ? " O_DIRECT" : "");
	/* Random offsets for every model: no readahead to flatter one of them. */
	posix_fadvise(wl->fd, 0, 0, POSIX_FADV_RANDOM);
	if (p->cold && !p->direct) {
		if (fdatasync(wl->fd) == 0)
			posix_fadvise(wl->fd, 0, 0, POSIX_FADV_DONTNEED);
	}
	return 0;
}

void iom_workload_close(struct iom_workload *wl)
{
	if (wl->fd >= 0)
		close(wl->fd);
	wl->fd = -1;
	if (wl->backend_pid) {
		struct iom_backend_counts c;

		iom_workload_backend_stop(wl, &c);
	}
	if (wl->backend_fd >= 0)
		close(wl->backend_fd);
	wl->backend_fd = -1;
}
