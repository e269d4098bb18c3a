// SPDX-License-Identifier: MIT
/*
 * scripts/check-layers: the tree as it is passes; each kind of forbidden include, planted in a
 * small tree of its own, fails with a line naming the file and line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testutil.h"

/* Run the check on root; its exit status, stderr in out. */
static int check(const char *root, char *out, size_t len)
{
	char cmd[1024], path[] = "/tmp/iom-layers-out-XXXXXX";
	int fd = mkstemp(path), status;
	ssize_t n;

	assert_true(fd >= 0);
	snprintf(cmd, sizeof(cmd), "%s scripts/check-layers %s 2>%s", iomt_python(), root, path);
	status = system(cmd);
	n = read(fd, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* File rel under root, holding text (its folders made). */
static void plant(const char *root, const char *rel, const char *text)
{
	char path[512], *slash;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		assert_true(!mkdir(path, 0755) || errno == EEXIST);
		*slash = '/';
	}
	iomt_write_file(path, text);
}

static void test_tree_passes(void **state)
{
	char out[4096];

	assert_int_equal(check(".", out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static const struct {
	const char *file, *text, *says;	/* says: in the line the check prints */
	int want;
	const char *models_c;		/* cli/models.c of the tree, if any */
} planted[] = {
	{ "core/driver.c", "#include <stdio.h>\n#include \"ui/watch.h\"\n",
	  "core/driver.c:2:", 1, NULL },
	{ "core/meta.c", "#include <liburing.h>\n", "core/meta.c:1: core/ may not include", 1, NULL },
	{ "core/probe.c", "#include <bpf/libbpf.h>\n", "may not include <bpf/libbpf.h>", 1, NULL },
	{ "uring/uring.c", "#include \"epoll/epoll.h\"\n", "a model may include core/ only", 1, NULL },
	{ "uring/uring.c", "#include \"server/server.h\"\n", "a model may include core/ only", 1, NULL },
	{ "ui/watch.c", "#include \"cli/opts.h\"\n", "nothing outside cli/ may include", 1, NULL },
	{ "tests/test_x.c", "#include \"cli/opts.h\"\n", "nothing outside cli/ may include", 1, NULL },
	{ "scenario/herd.c", "#include \"ui/watch.h\"\n", "may not include ui/watch.h", 1, NULL },
	{ "newdir/x.c", "#include \"core/model.h\"\n", "has no layer", 1, NULL },
	/* Allowed: a model's server half, the server layer, a model's own headers, the UI. */
	{ "uring/server.c", "#include \"core/rpc.h\"\n#include \"server/server.h\"\n", "", 0, NULL },
	{ "server/server.c", "#include \"core/rpc.h\"\n", "", 0, NULL },
	{ "kernel_free/worker.c", "#include \"kernel_free/kf.h\"\n#include \"core/live.h\"\n", "",
	  0, NULL },
	{ "ui/demo.c", "#include \"scenario/scenario.h\"\n#include \"uring/uring.h\"\n", "", 0, NULL },
	{ "cli/main.c", "#include \"ui/watch.h\"\n#include \"cli/opts.h\"\n", "", 0, NULL },
	/* The cycle the server interface removed: core/ starts a server through a hook. */
	{ "core/workload.c", "#include \"server/server.h\"\n",
	  "core/workload.c:1: core/ (layer core) may not include server/server.h", 1, NULL },
	/* The harness names no model (it asks a model's caps). */
	{ "core/driver.c", "x = strcmp(m->name, \"uring\") == 0;\n",
	  "core/driver.c:1: core/ names the model \"uring\"", 1, NULL },
	/* Nor do the views and the scenarios (a lane, a scene, a default model). */
	{ "ui/watch.c", "#include <string.h>\nif (!strcmp(name, \"kernel_free\")) {\n",
	  "ui/watch.c:2: ui/ names the model \"kernel_free\"", 1, NULL },
	{ "scenario/faults.c", "m = iom_model_find(\"epoll\");\n",
	  "scenario/faults.c:1: scenario/ names the model \"epoll\"", 1, NULL },
	/* In a comment a model may be named; a model's own folder and cli/ may name it. */
	{ "ui/demo.c", "/* as in \"threads\" */\n", "", 0, NULL },
	{ "uring/uring.c", ".name = \"uring\",\n", "", 0, NULL },
	/* A fifth model is a model because the table names it. */
	{ "fifth/fifth.c", "#include \"ui/watch.h\"\n", "fifth/ (layer model)", 1,
	  "extern const struct iom_model iom_model_fifth;\n" },
};

static void test_planted(void **state)
{
	for (size_t i = 0; i < sizeof(planted) / sizeof(planted[0]); i++) {
		char root[64], out[4096];
		int ret;

		snprintf(root, sizeof(root), "/tmp/iom-layers-XXXXXX");
		assert_non_null(mkdtemp(root));
		plant(root, planted[i].file, planted[i].text);
		if (planted[i].models_c)
			plant(root, "cli/models.c", planted[i].models_c);
		ret = check(root, out, sizeof(out));
		iomt_rm_tree(root);
		if (ret != planted[i].want || !strstr(out, planted[i].says))
			fail_msg("%s with %s: exit %d, said '%s'", planted[i].file, planted[i].text,
				 ret, out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_passes),
		cmocka_unit_test(test_planted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
