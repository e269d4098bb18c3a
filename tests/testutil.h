/* SPDX-License-Identifier: MIT */
/* Shared by the cmocka tests: liburing-style skips that fail in strict mode (CI). */
#ifndef IOM_TESTUTIL_H
#define IOM_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/workload.h"
#include "server/server.h"

/* As the CLI does: the rpc workload starts its server through the server table. */
__attribute__((constructor)) static void iom_test_register_server(void)
{
	iom_workload_set_server(iom_server_serve_wl);
}

/*
 * A test that cannot run here (no io_uring, not root) says why and skips; with
 * IOM_TEST_STRICT=1, as CI sets it, the skip is a failure: our CI machine has everything.
 */
#define iom_skip(...)                                                                          \
	do {                                                                                   \
		char _why[256];                                                                \
		snprintf(_why, sizeof(_why), __VA_ARGS__);                                     \
		if (getenv("IOM_TEST_STRICT") && !strcmp(getenv("IOM_TEST_STRICT"), "1"))      \
			fail_msg("skip not allowed (IOM_TEST_STRICT=1): %s", _why);            \
		print_message("skip: %s\n", _why);                                             \
		skip();                                                                        \
	} while (0)

#endif
