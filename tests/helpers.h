/* SPDX-License-Identifier: MIT */
/*
 * What the cmocka tests share: skips that fail in strict mode, temporary directories, running
 * the CLI with its exit code and output captured, reading a CSV by column name, and running one
 * cell in process. Linked into every test binary (tests/helpers.c).
 */
#ifndef IOM_TEST_HELPERS_H
#define IOM_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>

#include "core/driver.h"
#include "core/model.h"
#include "core/workload.h"
#include "kernel_free/kernel_free.h"
#include "uring/uring.h"

/* IOM_TEST_STRICT set to anything but "", "0", "no", "false" or "off": a skip is a failure. */
bool iomt_strict(void);

/*
 * A test that cannot run here (no io_uring, not root) says why and skips; in strict mode, as CI
 * sets it, the skip is a failure: our CI machine has everything.
 */
#define iom_skip(...)                                                                          \
	do {                                                                                   \
		char _why[256];                                                                \
		snprintf(_why, sizeof(_why), __VA_ARGS__);                                     \
		if (iomt_strict())                                                             \
			fail_msg("skip not allowed (IOM_TEST_STRICT): %s", _why);              \
		print_message("skip: %s\n", _why);                                             \
		skip();                                                                        \
	} while (0)

int64_t iomt_now_ms(void);

/* mkdtemp of "/tmp/iom_test_<name>.XXXXXX" into buf; 0 or -1. */
int iomt_mkdtemp(char *buf, size_t len, const char *name);
/* A group's temporary directory: cmocka group setup and teardown (iomt_mkdtemp, rm -rf). */
extern char iomt_tmpdir[64];
int iomt_tmpdir_setup(void **state);
int iomt_tmpdir_teardown(void **state);
/* rm -rf dir (no shell). */
void iomt_rm_tree(const char *dir);
/* A file's whole text, NUL-terminated, malloc'd; the test fails when it cannot be read. */
char *iomt_slurp(const char *path);
/* The same, or NULL when it cannot be read. */
char *iomt_slurp_or_null(const char *path);
/* iomt_slurp of dir/name. */
char *iomt_slurp_in(const char *dir, const char *name);
/* Write text to path (the test fails when it cannot). */
void iomt_write_file(const char *path, const char *text);

/* A finished child process: exit status (128 + signal when killed), its stdout and stderr. */
struct iomt_proc {
	int status;
	bool timed_out;
	char *out, *err;	/* NUL-terminated, never NULL after iomt_run */
	size_t out_len, err_len;
};

/* $PYTHON, as make test exports it, or /usr/bin/python3. */
const char *iomt_python(void);
/* $IOM_BIN (the test fails when unset or not executable). */
const char *iomt_bin(void);
/*
 * Run argv (argv[0] the program's path) in cwd (NULL: this one) with stdin from /dev/null,
 * capturing stdout and stderr, killed after timeout_ms (timed_out set). r's old buffers are
 * freed first, so one iomt_proc can serve several runs; iomt_proc_free at the end.
 */
void iomt_run(struct iomt_proc *r, const char *cwd, char *const argv[], int timeout_ms);
void iomt_proc_free(struct iomt_proc *r);
/*
 * Run "$IOM_BIN" args... (NULL-terminated, at most IOMT_MAX_ARGS) with iomt_run in cwd; an
 * argument "@" is base and "@/NAME" is base/NAME: the test's temporary directory, known only
 * once the test runs, in the tables of arguments written before it.
 */
#define IOMT_MAX_ARGS	64
void iomt_run_cli(struct iomt_proc *r, const char *cwd, const char *base,
		  const char *const *args, int timeout_ms);
/* stderr's lines that start with prefix. */
int iomt_count_lines(const char *text, const char *prefix);
/* A number of process pid's /proc status ("Threads", "VmRSS" in kB ...), -1 if none. */
long iomt_proc_status(pid_t pid, const char *key);

/* A CSV file (RFC 4180 quotes undone), row 0 the header. */
struct iomt_csv {
	int nr;			/* rows, header included */
	int *nf;		/* fields per row */
	char ***f;		/* f[row][field], each malloc'd */
};

/* Parse text; false on a malformed record (an unclosed quote). */
bool iomt_csv_parse(struct iomt_csv *c, const char *text);
/* Load path; the test fails when it cannot be read or parsed. */
void iomt_csv_load(struct iomt_csv *c, const char *path);
void iomt_csv_free(struct iomt_csv *c);
/* The header's column named name, or -1. */
int iomt_csv_col(const struct iomt_csv *c, const char *name);
/* Row r's field in column name ("" past the row's end); the test fails without that column. */
const char *iomt_csv_str(const struct iomt_csv *c, int r, const char *name);
/* As a number: NAN when empty; the test fails when it is not a number. */
double iomt_csv_num(const struct iomt_csv *c, int r, const char *name);
/* The first row (after the header) whose column name holds value, or -1. */
int iomt_csv_find(const struct iomt_csv *c, const char *name, const char *value);

/*
 * Every model of the models table (iom_models), m a const struct iom_model *: a case written
 * over FOR_EACH_MODEL runs on a new model as soon as it is in the table.
 */
#define FOR_EACH_MODEL(m)                                                                      \
	for (const struct iom_model *const *m##_at = iom_models, *m = *m##_at; m; m = *++m##_at)

/*
 * The models' own options (core/opt.h) of the cell iomt_cfg or iomt_model_opts made last: set
 * to their defaults there, then changed by the test (iomt_uo.sqpoll = true); a cell of either
 * model reads its own.
 */
extern struct iom_kf_opts iomt_kfo;
extern struct iom_uring_opts iomt_uo;
void iomt_model_opts(struct iom_cfg *cfg);

/* One cell in process: everything small and deterministic (200 us timers, a 4 MiB file in dir
 * read in 4 KiB blocks, 64-byte rpc payloads, seed 7, 500 tasks, reaped one at a time). */
struct iom_cfg iomt_cfg(const struct iom_model *m, enum iom_wl_kind wl, unsigned int c,
			const char *dir);
double iomt_terminal(const struct iom_row *row);
/* Skip (or, in strict mode, fail) when the model cannot run wl here; true when it can. */
bool iomt_model_available(const struct iom_model *m, enum iom_wl_kind wl);
/* iom_run_cell that must end "ok" with every submitted task in exactly one terminal state. */
void iomt_run_ok(const struct iom_cfg *cfg, struct iom_row *row, struct iom_hist *hist);

/*
 * One task of one model driven by hand, set up as the driver sets a slot up: a 64 KiB aligned
 * buffer, for rpc the slot's connection (made before the model's setup, which registers it),
 * the model set up, the task made (seq 1, slot 0) but not started. The caller may adjust the
 * task, then iom_task_start and ->submit; iomt_hand_wait reaps until it is reported.
 */
struct iomt_hand {
	struct iom_cfg cfg;
	struct iom_workload wl;
	struct iom_task t;
	struct iom_ctx ctx;
	void *buf;
};
void iomt_hand_open(struct iomt_hand *h, const struct iom_cfg *cfg);
/*
 * iomt_hand_open in two steps: the workload (rpc: its server, a fork) and the slot, then the
 * model's setup and the task. A sync model's setup runs in its submitter thread, and a fork
 * belongs before any thread is made (TSan refuses threads in a child of a threaded process).
 */
void iomt_hand_prepare(struct iomt_hand *h, const struct iom_cfg *cfg);
void iomt_hand_setup(struct iomt_hand *h);
/* ->flush if any, then ->reap until the task is reported or within_ns passed since t0. */
void iomt_hand_wait(struct iomt_hand *h, uint64_t t0, uint64_t within_ns);
void iomt_hand_close(struct iomt_hand *h);

#endif
