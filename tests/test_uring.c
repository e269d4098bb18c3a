// SPDX-License-Identifier: MIT
/*
 * io_uring's own cases: its opt-in variants (SQPOLL, several submitters, fixed buffers, batched
 * completion), its two timer strategies (--uring-timer heap|op), its timer tasks driven by
 * hand against deadlines, the cancel of a nop, file or rpc task, and its rpc client's two ways of
 * reading replies against a server that splits and coalesces them. The cases every model shares
 * are in test_models.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/driver.h"
#include "core/model.h"
#include "core/rpc.h"
#include "tests/helpers.h"
#include "uring/rpcms.h"

static struct iom_row row;
static struct iom_hist hist;

static struct iom_cfg base_cfg(const struct iom_model *m, enum iom_wl_kind wl, unsigned int c)
{
	return iomt_cfg(m, wl, c, iomt_tmpdir);
}

/* uring's opt-in variants and several submitters still conserve every task. */
static void test_uring_variants(void **state)
{
	const struct iom_model *m = iom_model_find("uring");
	static const enum iom_wl_kind wls[] = { IOM_WL_NOP, IOM_WL_TIMER, IOM_WL_FILE };

	assert_non_null(m);
	if (!iomt_model_available(m, IOM_WL_NOP))
		return;
	for (int v = 0; v < 4; v++)
		for (size_t w = 0; w < 3; w++) {
			struct iom_cfg cfg = base_cfg(m, wls[w], 16);

			iomt_uo.sqpoll = v == 0;
			cfg.jobs = v == 1 ? 3 : 0;	/* 16 over 3 submitters: 6 + 5 + 5 */
			iomt_uo.fixed_buffers = v == 2;
			cfg.batch_complete = v == 3 ? 4 : 1;
			if (v == 0) {
				CPU_ZERO(&cfg.cpus);
				CPU_SET(0, &cfg.cpus);
				cfg.cpus_set = true;
			}
			cfg.verify = wls[w] == IOM_WL_FILE;
			cfg.tasks = 1000;
			iomt_run_ok(&cfg, &row, &hist);
			assert_true(row.num[IOM_COL_n_completed] == 1000);
			assert_true(row.num[IOM_COL_jobs] == (v == 1 ? 3 : 1));
			if (v == 0)
				assert_non_null(strstr(row.str[IOM_COL_variant], "sqpoll"));
			if (v == 2 && wls[w] == IOM_WL_FILE)
				assert_non_null(strstr(row.str[IOM_COL_variant], "fixedbufs"));
			/* io-wq capped at one worker per task in flight (DESIGN's checklist). */
			if (v != 1)
				assert_non_null(strstr(row.str[IOM_COL_variant], "+iowq=16"));
		}
}

/*
 * uring's two timer strategies (--uring-timer): each is recorded in variant (heap by default,
 * and neither outside the timer workload), conserves every task, never ends one before its
 * time, and decides deadlines as the other models do: below D all EXPIRED (not before the
 * deadline), above D all COMPLETED, and exactly the slow fraction of a bimodal mix.
 */
static void test_uring_timer_strategies(void **state)
{
	static const struct {
		enum iom_uring_timer how;
		const char *variant;
	} vs[] = {
		{ IOM_URING_TIMER_HEAP, "+timer-heap+timeout" },
		{ IOM_URING_TIMER_OP, "+timeout-per-task" },
	};
	const struct iom_model *m = iom_model_find("uring");
	struct iom_cfg cfg;

	assert_non_null(m);
	if (!iomt_model_available(m, IOM_WL_TIMER))
		return;
	cfg = base_cfg(m, IOM_WL_TIMER, 16);
	iomt_run_ok(&cfg, &row, &hist);
	assert_non_null(strstr(row.str[IOM_COL_variant], "+timer-heap+timeout"));
	cfg = base_cfg(m, IOM_WL_NOP, 16);
	iomt_run_ok(&cfg, &row, &hist);
	assert_null(strstr(row.str[IOM_COL_variant], "time"));
	for (size_t v = 0; v < 2; v++) {
		cfg = base_cfg(m, IOM_WL_TIMER, 16);
		iomt_uo.timer = vs[v].how;
		cfg.wl.latency_ns = 20000;
		cfg.tasks = 2000;
		iomt_run_ok(&cfg, &row, &hist);
		assert_string_equal(row.str[IOM_COL_variant] + strlen(row.str[IOM_COL_variant]) -
				    strlen(vs[v].variant), vs[v].variant);
		assert_true(row.num[IOM_COL_n_completed] == 2000 && iomt_terminal(&row) == 2000);
		assert_true(hist.min >= 20000);

		/* Open loop, exponential times: later tasks often due first (the heap re-arms). */
		cfg = base_cfg(m, IOM_WL_TIMER, 64);
		iomt_uo.timer = vs[v].how;
		cfg.wl.dist = IOM_DIST_EXP;
		cfg.tasks = 0;
		cfg.rate = 5000;
		cfg.runtime_ns = 200000000;
		iomt_run_ok(&cfg, &row, &hist);
		assert_true(row.num[IOM_COL_submitted] > 500);
		assert_true(iomt_terminal(&row) == row.num[IOM_COL_submitted]);
		assert_true(row.num[IOM_COL_n_completed] == row.num[IOM_COL_submitted]);

		cfg = base_cfg(m, IOM_WL_TIMER, 4);
		iomt_uo.timer = vs[v].how;
		cfg.wl.latency_ns = 50000000;
		cfg.deadline_ns = 5000000;
		cfg.tasks = 8;
		iomt_run_ok(&cfg, &row, &hist);
		assert_true(row.num[IOM_COL_n_expired] == 8 && iomt_terminal(&row) == 8);
		assert_true(hist.min >= 5000000);

		cfg.wl.latency_ns = 1000000;
		cfg.deadline_ns = 500000000;
		iomt_run_ok(&cfg, &row, &hist);
		assert_true(row.num[IOM_COL_n_completed] == 8 && iomt_terminal(&row) == 8);

		/* Both times past before the kernel sees the task: still EXPIRED, never late. */
		cfg = base_cfg(m, IOM_WL_TIMER, 16);
		iomt_uo.timer = vs[v].how;
		cfg.wl.latency_ns = 5000;
		cfg.deadline_ns = 1000;
		iomt_run_ok(&cfg, &row, &hist);
		assert_true(row.num[IOM_COL_n_expired] == 500 && iomt_terminal(&row) == 500);
		assert_true(row.num[IOM_COL_n_late] == 0);

		cfg = base_cfg(m, IOM_WL_TIMER, 10);
		iomt_uo.timer = vs[v].how;
		cfg.wl.latency_ns = 100000;
		cfg.wl.dist = IOM_DIST_BIMODAL;
		cfg.wl.bimodal_p = 0.1;
		cfg.wl.bimodal_ns = 300000000;
		cfg.deadline_ns = 100000000;
		cfg.tasks = 100;
		iomt_run_ok(&cfg, &row, &hist);
		assert_true(row.num[IOM_COL_n_expired] == 10);
		assert_true(row.num[IOM_COL_n_completed] == 90);
	}
}

/* One hand-driven uring timer task: submit it, RUNNING, due latency_ns from now. */
static void hand_submit(const struct iom_model *m, struct iom_ctx *ctx, struct iom_task *t,
			uint64_t seq, uint64_t latency_ns, uint64_t deadline_in_ns)
{
	uint64_t now = iom_now_ns();

	iom_task_init(t, iom_task_id(seq, t->slot), now, deadline_in_ns ? now + deadline_in_ns : 0);
	iom_workload_next(ctx->wl, seq, t);
	t->latency_ns = latency_ns;
	iom_task_start(t, now);
	assert_int_equal(m->submit(ctx, t), IOM_Q_QUEUED);
}

/*
 * Reap until n more tasks are reported (at most 5 s); returns the time it took. Each wait may
 * last 2 s: a task that ends sooner was woken by the kernel, not by the reap's timeout.
 */
static uint64_t hand_reap(const struct iom_model *m, struct iom_ctx *ctx, uint64_t n)
{
	uint64_t t0 = iom_now_ns(), want = ctx->nr_reported + n;

	while (ctx->nr_reported < want && iom_now_ns() - t0 < 5000000000ull)
		assert_true(m->reap(ctx, 1, ctx->depth, 2000000000) >= 0);
	assert_true(ctx->nr_reported == want);
	return iom_now_ns() - t0;
}

/*
 * uring by hand, both timer strategies. A 2 ms task submitted after a 5 s one ends in
 * milliseconds (heap: the armed TIMEOUT is moved earlier). A cancel: ABORTED; past the task's
 * end: COMPLETED (it won the race); past its deadline, below its end: EXPIRED (heap; see below
 * for op). Each task is reported once, in one terminal state.
 */
static void test_uring_timer_by_hand(void **state)
{
	const struct iom_model *m = iom_model_find("uring");

	assert_non_null(m);
	if (!iomt_model_available(m, IOM_WL_TIMER))
		return;
	for (int how = IOM_URING_TIMER_HEAP; how <= IOM_URING_TIMER_OP; how++) {
		struct iom_cfg cfg = base_cfg(m, IOM_WL_TIMER, 2);
		struct iom_err err = { "" };
		struct iom_task tasks[2] = { { .slot = 0 }, { .slot = 1 } };
		struct iom_workload wl;
		struct iom_ctx ctx = { .cfg = &cfg, .wl = &wl, .depth = 2, .tasks = tasks };

		iomt_uo.timer = (enum iom_uring_timer)how;
		assert_int_equal(iom_workload_open(&wl, &cfg.wl, &err), 0);
		assert_int_equal(m->setup(&ctx), 0);

		hand_submit(m, &ctx, &tasks[0], 1, 5000000000ull, 0);
		assert_int_equal(m->reap(&ctx, 0, 2, 0), 0);	/* in the kernel: armed at 5 s */
		hand_submit(m, &ctx, &tasks[1], 2, 2000000, 0);
		assert_true(hand_reap(m, &ctx, 1) < 1000000000ull);	/* 2 ms, not 2 s */
		assert_int_equal(atomic_load(&tasks[1].state), IOM_COMPLETED);
		assert_true(tasks[1].t_end_ns - tasks[1].t_submit_ns >= 2000000);
		assert_int_equal(atomic_load(&tasks[0].state), IOM_RUNNING);

		assert_int_equal(m->cancel(&ctx, &tasks[0]), 0);
		hand_reap(m, &ctx, 1);
		assert_int_equal(atomic_load(&tasks[0].state), IOM_ABORTED);

		hand_submit(m, &ctx, &tasks[0], 3, 1000000, 0);
		assert_int_equal(m->reap(&ctx, 0, 2, 0), 0);
		usleep(3000);
		assert_int_equal(m->cancel(&ctx, &tasks[0]), 0);
		hand_reap(m, &ctx, 1);
		assert_int_equal(atomic_load(&tasks[0].state), IOM_COMPLETED);

		hand_submit(m, &ctx, &tasks[1], 4, 5000000000ull, 1000000);
		assert_int_equal(m->reap(&ctx, 0, 2, 0), 0);
		usleep(3000);
		assert_int_equal(m->cancel(&ctx, &tasks[1]), 0);
		hand_reap(m, &ctx, 1);
		/*
		 * op: the deadline's hrtimer fired, but under DEFER_TASKRUN its cancel of the
		 * TIMEOUT runs only in our next enter, after that enter submits ASYNC_CANCEL: the
		 * kernel lets the cancel win (ABORTED).
		 */
		if (how == IOM_URING_TIMER_HEAP)
			assert_int_equal(atomic_load(&tasks[1].state), IOM_EXPIRED);
		else
			assert_true(atomic_load(&tasks[1].state) == IOM_EXPIRED ||
				    atomic_load(&tasks[1].state) == IOM_ABORTED);
		assert_int_equal(atomic_load(&tasks[0].nr_late) + atomic_load(&tasks[1].nr_late), 0);

		/* Nothing else comes back: no task in flight, none reported. */
		assert_true(m->reap(&ctx, 0, 2, 0) == 0);
		assert_true(ctx.nr_reported == 4);
		m->teardown(&ctx);
		iom_workload_close(&wl);
	}
}

/*
 * A hand-driven task (iomt_hand) submitted and at once cancelled, then waited for (2 s at most);
 * returns when it was submitted.
 */
static uint64_t hand_submit_cancel(const struct iom_model *m, struct iomt_hand *h,
				   const struct iom_cfg *cfg)
{
	uint64_t t0;

	iomt_hand_open(h, cfg);
	t0 = iom_now_ns();
	iom_task_start(&h->t, t0);
	assert_int_equal(m->submit(&h->ctx, &h->t), IOM_Q_QUEUED);
	assert_int_equal(m->cancel(&h->ctx, &h->t), 0);
	iomt_hand_wait(h, t0, 2000000000ull);
	return t0;
}

/*
 * Cancel of one in-flight uring task that is not a timer, driven by hand as the driver does (the
 * slot's buffer and, for rpc, its connection made before setup). rpc, whose backend holds the
 * request 5 s: ABORTED at once. nop and file may complete before the cancel reaches them:
 * ABORTED or COMPLETED, reported exactly once, and nothing comes back after it.
 */
static void cancel_one(const struct iom_model *m, enum iom_wl_kind wl_kind,
		       enum iom_uring_rpc how)
{
	struct iom_cfg cfg = base_cfg(m, wl_kind, 1);
	struct iomt_hand h;
	uint64_t t0;
	int state;

	cfg.wl.latency_ns = 5000000000ull;	/* rpc: only a cancel ends it in time */
	iomt_uo.rpc = how;
	/*
	 * The cancel goes in the same enter as the op. nop, file: the op usually completes first
	 * (the cancel then finds nothing). rpc: the linked receive is not armed yet when the
	 * cancel looks for it (-ENOENT); the cancel is sent again after that enter, so the task
	 * is ABORTED at once instead of waiting its 5 s. rpc, multishot: ABORTED at the cancel,
	 * reported once a cancel of its send says the send was done.
	 */
	t0 = hand_submit_cancel(m, &h, &cfg);
	state = atomic_load(&h.t.state);
	print_message("uring %s%s cancelled: %s after %.2f ms\n", iom_wl_name(wl_kind),
		      wl_kind != IOM_WL_RPC ? "" : how == IOM_URING_RPC_LINKED ? " linked" :
		      " multishot", iom_state_name(state), (double)(iom_now_ns() - t0) / 1e6);
	if (wl_kind == IOM_WL_RPC)
		assert_int_equal(state, IOM_ABORTED);
	else
		assert_true(state == IOM_ABORTED || state == IOM_COMPLETED);
	assert_true(h.ctx.nr_reported == 1);
	/* Nothing more: no second report of the task, whatever CQEs the cancel left. */
	assert_true(m->reap(&h.ctx, 0, 1, 50000000) == 0);
	assert_true(h.ctx.nr_reported == 1);
	iomt_hand_close(&h);
}

static void test_cancel_nop_file_rpc(void **state)
{
	const struct iom_model *m = iom_model_find("uring");
	static const enum iom_wl_kind wls[] = { IOM_WL_NOP, IOM_WL_FILE, IOM_WL_RPC };

	assert_non_null(m);
	for (size_t i = 0; i < sizeof(wls) / sizeof(wls[0]); i++)
		if (iomt_model_available(m, wls[i]))
			cancel_one(m, wls[i], IOM_URING_RPC_MULTISHOT);
	if (iomt_model_available(m, IOM_WL_RPC))
		cancel_one(m, IOM_WL_RPC, IOM_URING_RPC_LINKED);
}

/*
 * A server that answers each request in pieces: every FAKE_EVERY-th reply comes after a frame
 * no task asked for (a late answer's shape) in the same write, and the bytes go out a few at a
 * time with pauses, so the client's recvs see headers and payloads split anywhere and frames
 * coalesced. One thread per connection.
 */
enum { FAKE_EVERY = 3, TRICKLE_MAX_CONNS = 16, TRICKLE_FRAME = 24 + 64 };

struct trickle {
	int lfd;
	_Atomic unsigned int nr_requests, nr_fakes, nr_conns;
	pthread_t acceptor, conns[TRICKLE_MAX_CONNS];
	struct trickle_arg { struct trickle *d; int fd; } args[TRICKLE_MAX_CONNS];
};

static bool trickle_read(int fd, char *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* Write buf in pieces of 1, 2, 3 ... bytes, a pause after some of them. */
static bool trickle_write(int fd, const char *buf, size_t len, unsigned int seed)
{
	for (size_t off = 0, piece = 1 + seed % 5; off < len; off += piece, piece = piece % 7 + 1) {
		size_t n = piece < len - off ? piece : len - off;

		if (send(fd, buf + off, n, MSG_NOSIGNAL) != (ssize_t)n)
			return false;
		if ((off + seed) % 4 == 0)
			usleep(50);
	}
	return true;
}

static void *trickle_conn(void *arg)
{
	struct trickle *d = ((struct trickle_arg *)arg)->d;
	int fd = ((struct trickle_arg *)arg)->fd;
	char req[TRICKLE_FRAME], out[2 * TRICKLE_FRAME];

	while (trickle_read(fd, req, sizeof(req))) {
		unsigned int nr = atomic_fetch_add(&d->nr_requests, 1);
		size_t len = 0;

		if (nr % FAKE_EVERY == 0) {
			struct iom_rpc_hdr h;

			/* The same frame under an id no task has (bit 59: ids never get there). */
			memcpy(&h, req, sizeof(h));
			h.id |= 1ull << 59;
			memcpy(out, req, sizeof(req));
			memcpy(out, &h, sizeof(h));
			len = sizeof(req);
			atomic_fetch_add(&d->nr_fakes, 1);
		}
		memcpy(out + len, req, sizeof(req));
		if (!trickle_write(fd, out, len + sizeof(req), nr))
			break;
	}
	close(fd);
	return NULL;
}

static void *trickle_accept(void *arg)
{
	struct trickle *d = arg;

	for (;;) {
		int fd = accept(d->lfd, NULL, NULL);
		unsigned int i = atomic_load(&d->nr_conns);

		if (fd < 0)
			return NULL;	/* the listener was shut down */
		if (i >= TRICKLE_MAX_CONNS) {
			close(fd);
			continue;
		}
		d->args[i].d = d;
		d->args[i].fd = fd;
		if (pthread_create(&d->conns[i], NULL, trickle_conn, &d->args[i]))
			close(fd);
		else
			atomic_store(&d->nr_conns, i + 1);
	}
}

/*
 * The rpc client against split and coalesced replies: every task COMPLETED with its own echo
 * (verify), and each unasked frame counted once as a late answer. Three rungs: the multishot
 * path, the linked path (--uring-rpc linked), and the fallback a kernel without multishot recv
 * takes (IOM_MASK=multishot, as the server's), each named in variant.
 */
static void test_rpc_split_and_coalesced_replies(void **state)
{
	static const struct {
		enum iom_uring_rpc how;
		const char *mask, *variant;
	} rungs[] = {
		{ IOM_URING_RPC_MULTISHOT, NULL, "+multishot+bufring" },
		{ IOM_URING_RPC_LINKED, NULL, "+linked" },
		{ IOM_URING_RPC_MULTISHOT, "multishot", "+linked" },
		{ IOM_URING_RPC_MULTISHOT, "bufring", "+linked" },
	};
	const struct iom_model *m = iom_model_find("uring");

	assert_non_null(m);
	if (!iomt_model_available(m, IOM_WL_RPC))
		return;
	for (size_t r = 0; r < sizeof(rungs) / sizeof(rungs[0]); r++) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		struct iom_cfg cfg = base_cfg(m, IOM_WL_RPC, 4);
		socklen_t sl = sizeof(sa);
		struct trickle d = { 0 };

		d.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(d.lfd >= 0);
		assert_int_equal(bind(d.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(listen(d.lfd, 16), 0);
		assert_int_equal(getsockname(d.lfd, (struct sockaddr *)&sa, &sl), 0);
		assert_int_equal(pthread_create(&d.acceptor, NULL, trickle_accept, &d), 0);
		snprintf(cfg.wl.connect, sizeof(cfg.wl.connect), "127.0.0.1:%u",
			 ntohs(sa.sin_port));
		cfg.wl.latency_ns = 0;
		cfg.wl.payload = TRICKLE_FRAME - 24;
		cfg.verify = true;
		cfg.tasks = 300;
		iomt_uo.rpc = rungs[r].how;
		if (rungs[r].mask)
			setenv("IOM_MASK", rungs[r].mask, 1);
		iomt_run_ok(&cfg, &row, &hist);
		unsetenv("IOM_MASK");
		shutdown(d.lfd, SHUT_RDWR);
		pthread_join(d.acceptor, NULL);
		close(d.lfd);
		for (unsigned int i = 0; i < atomic_load(&d.nr_conns); i++)
			pthread_join(d.conns[i], NULL);
		print_message("%s: %.0f completed, %.0f failed, %.0f partial, %.0f late of %u "
			      "unasked frames, %.0f reconnects\n", row.str[IOM_COL_variant],
			      row.num[IOM_COL_n_completed], row.num[IOM_COL_n_failed],
			      row.num[IOM_COL_n_partial], row.num[IOM_COL_n_late],
			      atomic_load(&d.nr_fakes), row.num[IOM_COL_reconnects]);
		assert_non_null(strstr(row.str[IOM_COL_variant], rungs[r].variant));
		assert_true(row.num[IOM_COL_n_completed] == 300);
		assert_true(row.num[IOM_COL_n_late] == atomic_load(&d.nr_fakes));
		assert_true(row.num[IOM_COL_reconnects] == 0);
	}
}

/*
 * multishot path, replies that come after the deadline: each task EXPIRED once (held until its
 * send's cancel says it was done, then reported), its reply read later on the slot is a late
 * answer, never a second state, and the connection is kept (the send was whole).
 */
static void test_rpc_multishot_late_replies(void **state)
{
	const struct iom_model *m = iom_model_find("uring");
	struct iom_cfg cfg;

	assert_non_null(m);
	if (!iomt_model_available(m, IOM_WL_RPC))
		return;
	cfg = base_cfg(m, IOM_WL_RPC, 4);
	/* A fifth of the requests take 30 ms, past the 10 ms deadline; the slot goes on. */
	cfg.wl.latency_ns = 0;
	cfg.wl.dist = IOM_DIST_BIMODAL;
	cfg.wl.bimodal_p = 0.2;
	cfg.wl.bimodal_ns = 30000000;
	cfg.deadline_ns = 10000000;
	cfg.tasks = 200;
	iomt_run_ok(&cfg, &row, &hist);
	print_message("%.0f completed, %.0f expired, %.0f late answers, %.0f reconnects\n",
		      row.num[IOM_COL_n_completed], row.num[IOM_COL_n_expired],
		      row.num[IOM_COL_n_late], row.num[IOM_COL_reconnects]);
	assert_non_null(strstr(row.str[IOM_COL_variant], "+multishot+bufring"));
	assert_true(row.num[IOM_COL_n_expired] >= 20);
	assert_true(row.num[IOM_COL_n_completed] + row.num[IOM_COL_n_expired] == 200);
	/* Each expired task has at most one late answer; most come while the cell runs. */
	assert_true(row.num[IOM_COL_n_late] >= 1);
	assert_true(row.num[IOM_COL_n_late] <= row.num[IOM_COL_n_expired]);
	assert_true(row.num[IOM_COL_reconnects] == 0);
}

/* A listener on loopback for a test that plays the server by hand; its address in *a. */
static int loopback_listener(struct iom_rpc_addr *a)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	struct iom_err err = { "" };
	char text[64];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(text, sizeof(text), "127.0.0.1:%u", ntohs(sin.sin_port));
	assert_int_equal(iom_rpc_addr_parse(a, text, &err), 0);
	return fd;
}

/* Read one whole request of len bytes from fd; return it in buf. */
static void read_request(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		assert_true(n > 0);
		got += (size_t)n;
	}
}

/* The multishot path's CQEs until ctx has reported want tasks, or within_ns passed. */
static void ms_reap_until(struct ur_ms *ms, struct io_uring *ring, struct iom_ctx *ctx,
			  uint64_t want, uint64_t within_ns)
{
	struct __kernel_timespec ts = { .tv_nsec = 20000000 };
	uint64_t t0 = iom_now_ns();

	while (ctx->nr_reported < want && iom_now_ns() - t0 < within_ns) {
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0;

		io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL);
		ctx->now_ns = iom_now_ns();
		io_uring_for_each_cqe(ring, head, cqe) {
			ur_ms_cqe(ms, ctx, cqe);
			n++;
		}
		io_uring_cq_advance(ring, n);
		ur_ms_batch_end(ms, ctx);
	}
}

/* The multishot path by hand, on one slot against a test that plays the server on lfd. */
struct ms_hand {
	struct iom_cfg cfg;
	struct iom_workload wl;
	struct iom_ctx ctx;
	struct iom_task t;
	struct io_uring ring;
	struct ur_ms *ms;
	int lfd, conn_a, conn_b;	/* the server's ends of the first and second connection */
};

static bool ms_hand_open(struct ms_hand *h)
{
	struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER |
					      IORING_SETUP_DEFER_TASKRUN };

	memset(h, 0, sizeof(*h));
	h->cfg = base_cfg(iom_model_find("uring"), IOM_WL_RPC, 1);
	if (!iomt_model_available(h->cfg.model, IOM_WL_RPC))
		return false;
	h->cfg.wl.payload = 64;
	h->lfd = loopback_listener(&h->wl.addr);
	h->t.buf = calloc(1, 4096);
	h->t.fd = iom_rpc_connect(&h->wl.addr, &(struct iom_err){ "" });
	assert_true(h->t.fd >= 0);
	h->conn_a = accept(h->lfd, NULL, NULL);
	assert_true(h->conn_a >= 0);
	h->conn_b = -1;
	h->ctx.cfg = &h->cfg;
	h->ctx.wl = &h->wl;
	h->ctx.depth = 1;
	h->ctx.tasks = &h->t;
	assert_int_equal(io_uring_queue_init_params(8, &h->ring, &p), 0);
	assert_int_equal(io_uring_register_files(&h->ring, &h->t.fd, 1), 0);
	assert_int_equal(ur_ms_setup(&h->ctx, &h->ring, true, &h->ms), 0);
	return true;
}

/* Task seq on the slot, submitted and sent; returns its request's length. */
static size_t ms_hand_submit(struct ms_hand *h, uint64_t seq)
{
	struct iom_task *t = &h->t;

	iom_task_init(t, iom_task_id(seq, 0), iom_now_ns(), 0);
	t->len = iom_rpc_fill(t->buf, t->id, 0, h->cfg.wl.payload, 0);
	iom_task_start(t, iom_now_ns());
	assert_int_equal(ur_ms_submit(h->ms, &h->ctx, t), IOM_Q_QUEUED);
	assert_true(io_uring_submit(&h->ring) >= 0);
	return t->len;
}

static void ms_hand_close(struct ms_hand *h)
{
	ur_ms_free(h->ms);
	io_uring_queue_exit(&h->ring);
	close(h->conn_a);
	if (h->conn_b >= 0)
		close(h->conn_b);
	close(h->t.fd);
	close(h->lfd);
	free(h->t.buf);
}

/*
 * A slot's connection replaced while a recv re-armed for the old one still waits in the SQ: a
 * fixed file is looked up when the SQE is issued, so that recv must be issued before the file is
 * updated, or it reads the new connection under the old tag and its bytes are dropped as old
 * news: the stream is then read from mid-frame (before the fix, FAILED -EBADMSG in ~1 cell in
 * 40 of test_rpc_deadline_cuts_big_frames; here, every time).
 * Driven by hand: the recv's end (-ENOBUFS: re-armed) and the send's failure (the slot torn,
 * reconnected at its report) are CQEs made up in one batch, as the kernel can post them. The
 * new connection then carries the first half of a late answer, an enter, the rest of it and
 * the next task's reply.
 */
static void test_rpc_reconnect_after_rearm(void **state)
{
	struct io_uring_cqe fake = { 0 };
	char late[128], req[128];
	struct ms_hand h;
	size_t len;

	if (!ms_hand_open(&h))
		return;
	/* Task 1: its recv (generation 0) and send go out. */
	len = ms_hand_submit(&h, 1);
	assert_true(len <= sizeof(late));

	/* One batch: the recv ends (re-armed, the SQE waits), then the send fails (reconnect). */
	fake.user_data = UR_MS_TAG_RECV | 0;
	fake.res = -ENOBUFS;
	assert_int_equal(ur_ms_cqe(h.ms, &h.ctx, &fake), 0);
	assert_true(io_uring_sq_ready(&h.ring) == 1);
	fake.user_data = h.t.id | UR_MS_TAG_SEND;
	fake.res = -EPIPE;
	h.ctx.now_ns = iom_now_ns();
	assert_int_equal(ur_ms_cqe(h.ms, &h.ctx, &fake), 1);
	assert_int_equal(atomic_load(&h.t.state), IOM_FAILED);
	assert_true(h.ctx.stats.nr_reconnects == 1);
	h.conn_b = accept(h.lfd, NULL, NULL);
	assert_true(h.conn_b >= 0);

	/* Half of task 1's answer, late, on the new connection; an enter; the rest of it. */
	iom_rpc_fill(late, iom_task_id(1, 0), 0, h.cfg.wl.payload, 0);
	assert_int_equal(write(h.conn_b, late, len / 2), (ssize_t)(len / 2));
	ms_reap_until(h.ms, &h.ring, &h.ctx, 2, 50000000);

	/* Task 2 on the new connection: its reply must reach it whole, after the late one. */
	ms_hand_submit(&h, 2);
	read_request(h.conn_b, req, len);
	assert_int_equal(write(h.conn_b, late + len / 2, len - len / 2), (ssize_t)(len - len / 2));
	assert_int_equal(write(h.conn_b, req, len), (ssize_t)len);
	ms_reap_until(h.ms, &h.ring, &h.ctx, 2, 2000000000ull);
	assert_true(h.ctx.nr_reported == 2);
	assert_int_equal(atomic_load(&h.t.state), IOM_COMPLETED);
	assert_true(iom_rpc_reply_ok(h.t.buf, h.t.id, h.cfg.wl.payload));
	assert_true(h.ctx.stats.nr_late_replies == 1);
	ms_hand_close(&h);
}

/*
 * A held task's own answer ends in a recv buffer that goes on (its payload): the report it
 * brings replaces a torn connection, and the rest of that buffer is the old connection's, not
 * frames of the new one. Before the fix the rest was cut into frames on the new connection's
 * count: a bad header, and a second reconnect for nothing.
 * By hand: task 1 cancelled while its send is untold (held), the cancel's answer made up as
 * "cut" (the slot torn), then its reply read.
 */
static void test_rpc_report_mid_buffer_reconnects_once(void **state)
{
	struct __kernel_timespec ts = { .tv_nsec = 20000000 };
	struct io_uring_cqe fake = { 0 }, *cqe;
	unsigned int head, n = 0;
	struct ms_hand h;
	char req[128];
	uint64_t t0;
	size_t len;

	if (!ms_hand_open(&h))
		return;
	len = ms_hand_submit(&h, 1);
	assert_true(len <= sizeof(req));
	read_request(h.conn_a, req, len);

	/* Cancelled: held, its send's cancel goes out; "cut" is its answer (torn). */
	assert_int_equal(ur_ms_cancel(h.ms, &h.ctx, &h.t), 0);
	fake.user_data = h.t.id | UR_MS_TAG_SEND | UR_MS_TAG_CANCEL;
	fake.res = 0;
	assert_int_equal(ur_ms_cqe(h.ms, &h.ctx, &fake), 0);
	assert_true(h.ctx.nr_reported == 0);

	/* Its reply, in one segment; only the recv's CQEs are handled (the cancel's is old). */
	assert_int_equal(write(h.conn_a, req, len), (ssize_t)len);
	t0 = iom_now_ns();
	while (io_uring_cq_ready(&h.ring) < 2 && iom_now_ns() - t0 < 2000000000ull)
		io_uring_submit_and_wait_timeout(&h.ring, &cqe, 2, &ts, NULL);
	h.ctx.now_ns = iom_now_ns();
	io_uring_for_each_cqe(&h.ring, head, cqe) {
		if (cqe->user_data & UR_MS_TAG_RECV)
			ur_ms_cqe(h.ms, &h.ctx, cqe);
		n++;
	}
	io_uring_cq_advance(&h.ring, n);
	ur_ms_batch_end(h.ms, &h.ctx);
	assert_true(h.ctx.nr_reported == 1);
	assert_int_equal(atomic_load(&h.t.state), IOM_ABORTED);
	assert_true(h.ctx.stats.nr_late_replies == 1);
	assert_true(h.ctx.stats.nr_reconnects == 1);
	h.conn_b = accept(h.lfd, NULL, NULL);
	assert_true(h.conn_b >= 0);
	ms_hand_close(&h);
}

/*
 * A NOP cell's ring holds the NOP template in every SQE, and a NOP task writes its id alone. A
 * cancel's SQE takes a slot of the ring (depth 1: the only one): the NOP task after it must
 * still be a NOP (COMPLETED), not the cancel again with its id; submitted alone, or in a
 * batch (submit_n, which reads the ring once for all its tasks).
 */
static void nop_after_cancel_sqe(bool batch)
{
	const struct iom_model *m = iom_model_find("uring");
	struct iom_cfg cfg = base_cfg(m, IOM_WL_NOP, 1);
	struct iom_task *tp;
	struct iomt_hand h;
	uint64_t t0;
	int why = IOM_Q_QUEUED;

	assert_non_null(m);
	if (!iomt_model_available(m, IOM_WL_NOP))
		return;
	hand_submit_cancel(m, &h, &cfg);
	assert_true(h.ctx.nr_reported == 1);
	/* What the cancel left (its own CQE): nothing more to report. */
	assert_true(m->reap(&h.ctx, 0, 1, 50000000) == 0);

	t0 = iom_now_ns();
	iom_task_init(&h.t, iom_task_id(2, 0), t0, 0);
	iom_workload_next(&h.wl, 2, &h.t);
	iom_task_start(&h.t, t0);
	tp = &h.t;
	if (batch)
		assert_int_equal(m->submit_n(&h.ctx, &tp, 1, &why), 1);
	else
		assert_int_equal(m->submit(&h.ctx, &h.t), IOM_Q_QUEUED);
	while (h.ctx.nr_reported < 2 && iom_now_ns() - t0 < 2000000000ull)
		assert_true(m->reap(&h.ctx, 1, 1, 100000000) >= 0);
	assert_true(h.ctx.nr_reported == 2);
	assert_int_equal(atomic_load(&h.t.state), IOM_COMPLETED);
	iomt_hand_close(&h);
}

static void test_nop_after_cancel_sqe(void **state)
{
	nop_after_cancel_sqe(false);
	nop_after_cancel_sqe(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uring_variants),
		cmocka_unit_test(test_uring_timer_strategies),
		cmocka_unit_test(test_uring_timer_by_hand),
		cmocka_unit_test(test_cancel_nop_file_rpc),
		cmocka_unit_test(test_rpc_split_and_coalesced_replies),
		cmocka_unit_test(test_rpc_multishot_late_replies),
		cmocka_unit_test(test_rpc_reconnect_after_rearm),
		cmocka_unit_test(test_rpc_report_mid_buffer_reconnects_once),
		cmocka_unit_test(test_nop_after_cancel_sqe),
	};

	return cmocka_run_group_tests(tests, iomt_tmpdir_setup, iomt_tmpdir_teardown);
}
