/* SPDX-License-Identifier: MIT */
/*
 * The uring rpc client's multishot path (--uring-rpc multishot, the default): what the uring
 * server does, on the client side. Each slot's connection has one multishot recv armed on the
 * submitter's provided buffer ring (uring/bufring.c); a task is one SEND with
 * IOSQE_CQE_SKIP_SUCCESS (no CQE, no enter, for a success). Replies are cut out of the byte
 * stream per connection (a frame may span CQEs, and a late answer may share one with ours), so
 * a recv is never armed per task. Deadlines are a heap of slots with the wait bounded by its
 * first key, as epoll's model: no LINK_TIMEOUT can hang off a multishot.
 *
 * A task that ends before its reply (deadline, cancel, a broken connection) while its send's
 * success may still be untold is held: the send may still read the task's buffer, which the
 * driver refills for the slot's next task. An ASYNC_CANCEL of the send settles it (-ENOENT:
 * it was done; otherwise its failure CQE comes, and the stream, maybe torn, is replaced).
 */
#ifndef IOM_URING_RPCMS_H
#define IOM_URING_RPCMS_H

#include <liburing.h>
#include <stdbool.h>

#include "core/model.h"

struct ur_ms;

/*
 * user_data: a task's send is its id | SEND (ids use bits 0..60), the cancel of that send
 * id | SEND | CANCEL; a connection's recv is RECV | generation << 32 | slot.
 */
#define UR_MS_TAG_RECV		(1ull << 63)
#define UR_MS_TAG_CANCEL	(1ull << 62)
#define UR_MS_TAG_SEND		(1ull << 61)

/*
 * The multishot path on ring for ctx's slots (slot i's connection is fixed file i): 0, or
 * -errno (-EINVAL, -EOPNOTSUPP: the kernel has no buffer rings or multishot recv, or IOM_MASK
 * says so; the caller falls back to the linked path).
 */
int ur_ms_setup(struct iom_ctx *ctx, struct io_uring *ring, bool cqe_skip, struct ur_ms **out);
void ur_ms_free(struct ur_ms *ms);
/*
 * The buffer ring's buffers for ctx: each recv CQE holds one, so a CQ with this many entries
 * more than the tasks' own never fills with recv CQEs (the kernel ends a multishot whose CQE
 * finds the CQ full, and it must be armed again).
 */
unsigned int ur_ms_buffers(const struct iom_ctx *ctx);
int ur_ms_submit(struct ur_ms *ms, struct iom_ctx *ctx, struct iom_task *t);
/* One CQE of this path; returns how many tasks it reported. */
int ur_ms_cqe(struct ur_ms *ms, struct iom_ctx *ctx, const struct io_uring_cqe *cqe);
/* After a batch of CQEs: give the buffers back, report what is due by ctx->now_ns. */
int ur_ms_batch_end(struct ur_ms *ms, struct iom_ctx *ctx);
/* The first deadline (or a cancelled task's report, at 0); UINT64_MAX if none. */
uint64_t ur_ms_next_due(const struct ur_ms *ms);
int ur_ms_cancel(struct ur_ms *ms, struct iom_ctx *ctx, struct iom_task *t);

#endif
