// SPDX-License-Identifier: MIT
/* What the cmocka tests share (helpers.h). */
#include "tests/helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/model.h"
#include "core/rpc.h"
#include "core/workload.h"
#include "server/server.h"

/* As the CLI does: the rpc workload starts its server through the server table. */
__attribute__((constructor)) static void iomt_register_server(void)
{
	iom_workload_set_server(iom_server_serve_wl);
}

/*
 * IOM_TEST_FILTER=GLOB: only the tests whose names match run (cmocka's filter), in every test
 * binary, so make mutate can run the one test that kills a mutant, not its whole binary.
 */
__attribute__((constructor)) static void iomt_test_filter(void)
{
	const char *glob = getenv("IOM_TEST_FILTER");

	if (glob && *glob)
		cmocka_set_test_filter(glob);
}

bool iomt_strict(void)
{
	const char *s = getenv("IOM_TEST_STRICT");

	return s && *s && strcmp(s, "0") && strcasecmp(s, "no") && strcasecmp(s, "false") &&
	       strcasecmp(s, "off");
}

int64_t iomt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int iomt_mkdtemp(char *buf, size_t len, const char *name)
{
	if ((size_t)snprintf(buf, len, "/tmp/iom_test_%s.XXXXXX", name) >= len)
		return -1;
	return mkdtemp(buf) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void iomt_rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
	char *nb = realloc(*buf, *len + n + 1);

	assert_non_null(nb);
	memcpy(nb + *len, data, n);
	*len += n;
	nb[*len] = '\0';
	*buf = nb;
}

char *iomt_slurp_or_null(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL, chunk[4096];
	size_t len = 0, got;

	if (!f)
		return NULL;
	append(&buf, &len, "", 0);
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		append(&buf, &len, chunk, got);
	fclose(f);
	return buf;
}

char *iomt_slurp(const char *path)
{
	char *buf = iomt_slurp_or_null(path);

	if (!buf)
		fail_msg("cannot read %s: %s", path, strerror(errno));
	return buf;
}

const char *iomt_python(void)
{
	const char *py = getenv("PYTHON");

	return py ? py : "/usr/bin/python3";
}

void iomt_run_cli(struct iomt_proc *r, const char *cwd, const char *base,
		  const char *const *args, int timeout_ms)
{
	static char paths[IOMT_MAX_ARGS][PATH_MAX];
	char *argv[IOMT_MAX_ARGS + 2];
	int n = 0;

	argv[n++] = (char *)iomt_bin();
	for (int i = 0; args[i]; i++, n++) {
		assert_true(i < IOMT_MAX_ARGS);
		argv[n] = (char *)args[i];
		if (!strcmp(args[i], "@") || !strncmp(args[i], "@/", 2)) {
			snprintf(paths[i], sizeof(paths[i]), "%s%s", base, args[i] + 1);
			argv[n] = paths[i];
		}
	}
	argv[n] = NULL;
	iomt_run(r, cwd, argv, timeout_ms);
}

char *iomt_slurp_in(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return iomt_slurp(path);
}

void iomt_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f)
		fail_msg("cannot write %s: %s", path, strerror(errno));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

char iomt_tmpdir[64];

int iomt_tmpdir_setup(void **state)
{
	return iomt_mkdtemp(iomt_tmpdir, sizeof(iomt_tmpdir), "group");
}

int iomt_tmpdir_teardown(void **state)
{
	iomt_rm_tree(iomt_tmpdir);
	return 0;
}

const char *iomt_bin(void)
{
	const char *bin = getenv("IOM_BIN");

	if (!bin || !*bin)
		fail_msg("IOM_BIN is not set: run these tests with `make test` (it exports IOM_BIN)");
	if (access(bin, X_OK))
		fail_msg("IOM_BIN=%s is not executable: %s", bin, strerror(errno));
	return bin;
}

void iomt_proc_free(struct iomt_proc *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* Read both pipes until they close or the deadline passes (then the child is killed). */
static void drain(struct iomt_proc *r, pid_t pid, int out_fd, int err_fd, int timeout_ms)
{
	struct pollfd pfd[2] = { { .fd = out_fd, .events = POLLIN },
				 { .fd = err_fd, .events = POLLIN } };
	int64_t deadline = iomt_now_ms() + timeout_ms;

	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		int64_t left = deadline - iomt_now_ms();
		char buf[4096];

		if (left <= 0) {
			r->timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		if (poll(pfd, 2, (int)left) < 0) {
			assert_int_equal(errno, EINTR);
			continue;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t got;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			got = read(pfd[i].fd, buf, sizeof(buf));
			if (got > 0 && i == 0)
				append(&r->out, &r->out_len, buf, (size_t)got);
			else if (got > 0)
				append(&r->err, &r->err_len, buf, (size_t)got);
			else if (got == 0 || errno != EINTR) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
}

void iomt_run(struct iomt_proc *r, const char *cwd, char *const argv[], int timeout_ms)
{
	int po[2], pe[2], wstatus;
	pid_t pid;

	iomt_proc_free(r);
	append(&r->out, &r->out_len, "", 0);
	append(&r->err, &r->err_len, "", 0);
	assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0 ||
		    (cwd && chdir(cwd)))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	drain(r, pid, po[0], pe[0], timeout_ms);
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	r->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
	if (r->status == 126 || r->status == 127)
		fail_msg("could not run %s (exit %d)", argv[0], r->status);
}

long iomt_proc_status(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':' &&
		    sscanf(line + klen + 1, "%ld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

int iomt_count_lines(const char *text, const char *prefix)
{
	size_t plen = strlen(prefix);
	int n = 0;

	for (const char *line = text; line && *line;) {
		if (!strncmp(line, prefix, plen))
			n++;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return n;
}

/* One RFC 4180 field at *s into a malloc'd string; advance *s; false on an unclosed quote. */
static bool csv_field(const char **s, char **out)
{
	const char *p = *s;
	size_t len = 0;
	char *f = malloc(strlen(p) + 1);

	assert_non_null(f);
	if (*p == '"') {
		for (p++;; p++) {
			if (!*p) {
				free(f);
				return false;
			}
			if (*p == '"' && p[1] == '"')
				f[len++] = *p++;
			else if (*p == '"')
				break;
			else
				f[len++] = *p;
		}
		p++;
	}
	while (*p && *p != ',' && *p != '\n')
		f[len++] = *p++;
	f[len] = '\0';
	*out = f;
	*s = p;
	return true;
}

bool iomt_csv_parse(struct iomt_csv *c, const char *text)
{
	const char *s = text;

	memset(c, 0, sizeof(*c));
	while (*s) {
		char **row = NULL;
		int n = 0;

		for (;;) {
			char **nrow = realloc(row, (size_t)(n + 1) * sizeof(*row));

			assert_non_null(nrow);
			row = nrow;
			if (!csv_field(&s, &row[n])) {
				for (int i = 0; i < n; i++)
					free(row[i]);
				free(row);
				return false;
			}
			n++;
			if (*s != ',')
				break;
			s++;
		}
		if (*s == '\n')
			s++;
		c->f = realloc(c->f, (size_t)(c->nr + 1) * sizeof(*c->f));
		c->nf = realloc(c->nf, (size_t)(c->nr + 1) * sizeof(*c->nf));
		assert_true(c->f && c->nf);
		c->f[c->nr] = row;
		c->nf[c->nr++] = n;
	}
	return true;
}

void iomt_csv_load(struct iomt_csv *c, const char *path)
{
	char *text = iomt_slurp(path);
	bool ok = iomt_csv_parse(c, text);

	if (!ok)
		fail_msg("%s: malformed CSV:\n%s", path, text);
	free(text);
}

void iomt_csv_free(struct iomt_csv *c)
{
	for (int r = 0; r < c->nr; r++) {
		for (int i = 0; i < c->nf[r]; i++)
			free(c->f[r][i]);
		free(c->f[r]);
	}
	free(c->f);
	free(c->nf);
	memset(c, 0, sizeof(*c));
}

int iomt_csv_col(const struct iomt_csv *c, const char *name)
{
	for (int i = 0; c->nr && i < c->nf[0]; i++)
		if (!strcmp(c->f[0][i], name))
			return i;
	return -1;
}

const char *iomt_csv_str(const struct iomt_csv *c, int r, const char *name)
{
	int col = iomt_csv_col(c, name);

	if (col < 0)
		fail_msg("no column %s in the CSV", name);
	if (r < 0 || r >= c->nr)
		fail_msg("no row %d in the CSV (%d rows)", r, c->nr);
	return col < c->nf[r] ? c->f[r][col] : "";
}

double iomt_csv_num(const struct iomt_csv *c, int r, const char *name)
{
	const char *s = iomt_csv_str(c, r, name);
	char *end;
	double v;

	if (!*s)
		return NAN;
	v = strtod(s, &end);
	if (*end)
		fail_msg("row %d's %s is '%s', not a number", r, name, s);
	return v;
}

int iomt_csv_find(const struct iomt_csv *c, const char *name, const char *value)
{
	for (int r = 1; r < c->nr; r++)
		if (!strcmp(iomt_csv_str(c, r, name), value))
			return r;
	return -1;
}

struct iom_kf_opts iomt_kfo;
struct iom_uring_opts iomt_uo;

void iomt_model_opts(struct iom_cfg *cfg)
{
	static struct iom_model_opts mos[2];

	iomt_kfo = iom_kf_opts_defaults;
	iomt_uo = iom_uring_opts_defaults;
	mos[0] = (struct iom_model_opts){ iom_model_find("kernel_free"), &iomt_kfo };
	mos[1] = (struct iom_model_opts){ iom_model_find("uring"), &iomt_uo };
	cfg->model_opts = mos;
	cfg->nr_model_opts = 2;
}

struct iom_cfg iomt_cfg(const struct iom_model *m, enum iom_wl_kind wl, unsigned int c,
			const char *dir)
{
	struct iom_cfg cfg;

	iom_cfg_init(&cfg);
	iomt_model_opts(&cfg);
	cfg.model = m;
	cfg.wl.kind = wl;
	cfg.wl.latency_ns = 200000;
	cfg.wl.seed = 7;
	cfg.wl.size = 4 << 20;
	if (dir)
		snprintf(cfg.wl.directory, sizeof(cfg.wl.directory), "%s", dir);
	cfg.concurrency = c;
	cfg.tasks = 500;
	cfg.batch_complete = 1;
	return cfg;
}

double iomt_terminal(const struct iom_row *row)
{
	return row->num[IOM_COL_n_completed] + row->num[IOM_COL_n_failed] +
	       row->num[IOM_COL_n_aborted] + row->num[IOM_COL_n_partial] +
	       row->num[IOM_COL_n_expired];
}

bool iomt_model_available(const struct iom_model *m, enum iom_wl_kind wl)
{
	struct iom_err err = { "" };
	int ret = m->probe(wl, &err);

	if (ret < 0)
		iom_skip("%s %s unavailable: %s", m->name, iom_wl_name(wl), err.msg);
	return ret == 0;
}

void iomt_run_ok(const struct iom_cfg *cfg, struct iom_row *row, struct iom_hist *hist)
{
	int ret = iom_run_cell(cfg, row, hist);

	if (strcmp(row->str[IOM_COL_status], "ok"))
		fail_msg("%s %s C=%u [%s]: status %s: %s", cfg->model->name,
			 iom_wl_name(cfg->wl.kind), cfg->concurrency, row->str[IOM_COL_variant],
			 row->str[IOM_COL_status], row->str[IOM_COL_reason]);
	assert_int_equal(ret, 0);
	if (row->num[IOM_COL_submitted] != iomt_terminal(row))
		fail_msg("%s %s: submitted %g, terminal %g", cfg->model->name,
			 iom_wl_name(cfg->wl.kind), row->num[IOM_COL_submitted], iomt_terminal(row));
}

void iomt_hand_prepare(struct iomt_hand *h, const struct iom_cfg *cfg)
{
	struct iom_err err = { "" };

	memset(h, 0, sizeof(*h));
	h->cfg = *cfg;
	assert_int_equal(posix_memalign(&h->buf, 4096, 1 << 16), 0);
	if (iom_workload_open(&h->wl, &h->cfg.wl, &err))
		fail_msg("%s: %s", iom_wl_name(cfg->wl.kind), err.msg);
	h->t.slot = 0;
	h->t.fd = -1;
	h->t.buf = h->buf;
	if (cfg->wl.kind == IOM_WL_RPC) {
		h->t.fd = iom_rpc_connect(&h->wl.addr, &err);
		if (h->t.fd < 0)
			fail_msg("rpc connect: %s", err.msg);
	}
	h->ctx.cfg = &h->cfg;
	h->ctx.wl = &h->wl;
	h->ctx.depth = 1;
	h->ctx.tasks = &h->t;
}

void iomt_hand_setup(struct iomt_hand *h)
{
	assert_int_equal(h->cfg.model->setup(&h->ctx), 0);
	iom_task_init(&h->t, iom_task_id(1, 0), iom_now_ns(), 0);
	iom_workload_next(&h->wl, 1, &h->t);
}

void iomt_hand_open(struct iomt_hand *h, const struct iom_cfg *cfg)
{
	iomt_hand_prepare(h, cfg);
	iomt_hand_setup(h);
}

void iomt_hand_wait(struct iomt_hand *h, uint64_t t0, uint64_t within_ns)
{
	const struct iom_model *m = h->cfg.model;

	if (m->flush)
		assert_true(m->flush(&h->ctx) >= 0);
	while (!h->ctx.nr_reported && iom_now_ns() - t0 < within_ns)
		assert_true(m->reap(&h->ctx, 1, 1, 100000000) >= 0);
}

void iomt_hand_close(struct iomt_hand *h)
{
	h->cfg.model->teardown(&h->ctx);
	if (h->t.fd >= 0)
		close(h->t.fd);
	iom_workload_close(&h->wl);
	free(h->buf);
}
