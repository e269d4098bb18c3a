// SPDX-License-Identifier: MIT
/*
 * make install's work (dist/install) into a temporary DESTDIR: the binary runs from there, the
 * scripts find it, the man page is made from the help and renders without warnings, the bash
 * completion completes; make uninstall's removes all of it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testutil.h"

#define PREFIX	"/usr/local"

static const char *const installed[] = {
	PREFIX "/bin/iomodels",
	PREFIX "/share/iomodels/scripts/bench",
	PREFIX "/share/iomodels/scripts/plot.py",
	PREFIX "/share/iomodels/scripts/verdict.py",
	PREFIX "/share/iomodels/scripts/html_report.py",
	PREFIX "/share/iomodels/scripts/compare",
	PREFIX "/share/iomodels/build/iomodels",
	PREFIX "/share/man/man1/iomodels.1",
	PREFIX "/share/bash-completion/completions/iomodels",
};

/* sh -c cmd; its exit status, and its stdout (and stderr) in out. */
static int sh(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	size_t n;
	int status;

	assert_non_null(p);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	/* A page longer than out would lose its last sections and fail for the wrong reason. */
	assert_true(fgetc(p) == EOF);
	status = pclose(p);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Run script in bash with the installed completion loaded and the installed binary first. */
static void complete(const char *dest, const char *script, char *out, size_t len)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "PATH=%s%s/bin:$PATH bash -c '. %s%s/share/bash-completion/"
		 "completions/iomodels; %s'", dest, PREFIX, dest, PREFIX, script);
	assert_int_equal(sh(cmd, out, len), 0);
}

/*
 * The report scripts work from where they are installed, away from the source tree: two small
 * runs of the installed binary, plot.py (report.md with its verdict, report.html) on one and
 * compare on both, from / (the script, and `iomodels compare` finding it).
 */
static void installed_scripts_work(const char *dest)
{
	const char *py = iomt_python();
	char cmd[PATH_MAX * 4], out[8192];

	for (int i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd), "cd / && %s%s/bin/iomodels run --model threads,epoll "
			 "--workload nop --concurrency 1 --tasks 200 --repeat 2 --quiet "
			 "--output %s/run%d 2>&1", dest, PREFIX, dest, i);
		if (sh(cmd, out, sizeof(out)))
			fail_msg("run: %s", out);
	}
	snprintf(cmd, sizeof(cmd), "cd / && %s %s%s/share/iomodels/scripts/compare %s/run0 %s/run1 "
		 "--output %s/cmp 2>&1 && test -s %s/cmp/compare.md", py, dest, PREFIX, dest, dest,
		 dest, dest);
	if (sh(cmd, out, sizeof(out)))
		fail_msg("installed compare: %s", out);
	/* The installed binary finds its scripts (../share/iomodels/scripts), from anywhere. */
	snprintf(cmd, sizeof(cmd), "cd / && %s%s/bin/iomodels compare %s/run0 %s/run1 --output "
		 "%s/cmp-bin --format json 2>&1 && test -s %s/cmp-bin/compare.json && "
		 "test ! -e %s/cmp-bin/compare.md", dest, PREFIX, dest, dest, dest, dest, dest);
	if (sh(cmd, out, sizeof(out)))
		fail_msg("installed iomodels compare: %s", out);
	/*
	 * Without matplotlib plot.py cannot run: said, and a failure in strict mode (iom_skip's
	 * rule), but not a skip, which would drop the man page, completion and uninstall checks.
	 */
	snprintf(cmd, sizeof(cmd), "'%s' -c 'import matplotlib' 2>/dev/null", py);
	if (system(cmd)) {
		if (iomt_strict())
			fail_msg("%s has no matplotlib: the installed plot.py was not run", py);
		print_message("not checked: %s has no matplotlib, the installed plot.py\n", py);
		return;
	}
	snprintf(cmd, sizeof(cmd), "cd / && %s %s%s/share/iomodels/scripts/plot.py %s/run0 2>&1 && "
		 "grep -q 'Verdict on this machine' %s/run0/report.md && "
		 "grep -q 'Verdict on this machine' %s/run0/report.html", py, dest, PREFIX, dest,
		 dest, dest);
	if (sh(cmd, out, sizeof(out)))
		fail_msg("installed plot.py: %s", out);
}

static void test_install_uninstall(void **state)
{
	const char *bin = getenv("IOM_BIN");
	/* out holds the whole man page, which grows with every option the help lists. */
	static char out[1 << 18];
	char dest[] = "/tmp/iom_test_install.XXXXXX", cmd[PATH_MAX * 2], path[PATH_MAX];
	struct stat st;

	if (!bin || access(bin, X_OK))
		fail_msg("IOM_BIN is not set or not executable: run with make test");
	assert_non_null(mkdtemp(dest));

	snprintf(cmd, sizeof(cmd), "sh dist/install %s %s %s 2>&1", bin, dest, PREFIX);
	if (sh(cmd, out, sizeof(out)))
		fail_msg("install failed: %s", out);
	for (size_t i = 0; i < sizeof(installed) / sizeof(installed[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dest, installed[i]);
		if (stat(path, &st))
			fail_msg("%s not installed: %s", installed[i], strerror(errno));
	}
	/* The installed binary runs, also through the link the scripts use. */
	snprintf(cmd, sizeof(cmd), "%s%s/bin/iomodels --version && "
		 "%s%s/share/iomodels/build/iomodels --version", dest, PREFIX, dest, PREFIX);
	assert_int_equal(sh(cmd, out, sizeof(out)), 0);
	assert_int_equal(strncmp(out, "iomodels ", 9), 0);
	assert_non_null(strstr(out, "\nkernel "));
	/* iomodels-mpi beside the binary when MPI built it (docs/mpi.md: the hosts' same path). */
	snprintf(path, sizeof(path), "%s", bin);
	snprintf(strrchr(path, '/') + 1, sizeof(path) - (size_t)(strrchr(path, '/') + 1 - path),
		 "iomodels-mpi");
	if (!access(path, X_OK)) {
		/* Open MPI's own allocations outlive its finalize: LeakSanitizer would judge them
		 * (test_mpi holds our code to no leaks, matching Open MPI's by library name). */
		snprintf(cmd, sizeof(cmd), "ASAN_OPTIONS=detect_leaks=0 %s%s/bin/iomodels-mpi --version",
			 dest, PREFIX);
		assert_int_equal(sh(cmd, out, sizeof(out)), 0);
		assert_int_equal(strncmp(out, "iomodels ", 9), 0);
	}
	installed_scripts_work(dest);
	/* The man page: from the help (its options and exit codes), and groff finds no fault. */
	/* Only the lines looked for: the whole page outgrew the buffer (--fork-cells, --append). */
	snprintf(cmd, sizeof(cmd), "grep -e '^\\.TH' -e 'runtime T' -e 'sqpoll' -e '^\\.SH' "
		 "%s%s/share/man/man1/iomodels.1", dest, PREFIX);
	assert_int_equal(sh(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, ".TH IOMODELS 1 "));
	assert_non_null(strstr(out, "\\fB\\-\\-runtime T\\fR"));
	assert_non_null(strstr(out, "\\fB\\-\\-sqpoll\\fR"));	/* a model's own, from its table */
	assert_non_null(strstr(out, ".SH EXIT STATUS"));
	snprintf(cmd, sizeof(cmd), "groff -man -ww -z %s%s/share/man/man1/iomodels.1 2>&1", dest,
		 PREFIX);
	if (sh(cmd, out, sizeof(out)) || out[0])
		fail_msg("groff: %s", out);
	/*
	 * The completion completes a command and a run option from the installed binary; a
	 * model's own option (from its table, through help), and the words of its value.
	 */
	complete(dest, "COMP_WORDS=(iomodels ru); COMP_CWORD=1; _iomodels; echo \"${COMPREPLY[*]}\"; "
		 "COMP_WORDS=(iomodels run --runt); COMP_CWORD=2; _iomodels; "
		 "echo \"${COMPREPLY[*]}\"; COMP_WORDS=(iomodels run --sqp); _iomodels; "
		 "echo \"${COMPREPLY[*]}\"; COMP_WORDS=(iomodels run --uring-timer \"\"); "
		 "COMP_CWORD=3; _iomodels; echo \"${COMPREPLY[*]}\"", out, sizeof(out));
	assert_string_equal(out, "run\n--runtime\n--sqpoll\nheap op\n");
	/* compare: its runs are directories, its --format a list. */
	snprintf(cmd, sizeof(cmd), "PATH=%s%s/bin:$PATH bash -c '. %s%s/share/bash-completion/"
		 "completions/iomodels; COMP_WORDS=(iomodels compare %s/ru); COMP_CWORD=2; "
		 "_iomodels; printf \"%%s\\n\" \"${COMPREPLY[@]}\" | sort; "
		 "COMP_WORDS=(iomodels compare --format js); "
		 "COMP_CWORD=3; _iomodels; echo \"${COMPREPLY[*]}\"'", dest, PREFIX, dest, PREFIX,
		 dest);
	assert_int_equal(sh(cmd, out, sizeof(out)), 0);
	snprintf(path, sizeof(path), "%s/run0\n%s/run1\njson\n", dest, dest);
	assert_string_equal(out, path);

	snprintf(cmd, sizeof(cmd), "sh dist/install --uninstall %s %s 2>&1", dest, PREFIX);
	if (sh(cmd, out, sizeof(out)))
		fail_msg("uninstall failed: %s", out);
	for (size_t i = 0; i < sizeof(installed) / sizeof(installed[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dest, installed[i]);
		if (!lstat(path, &st))
			fail_msg("%s left after uninstall", installed[i]);
	}
	snprintf(path, sizeof(path), "%s%s/bin/iomodels-mpi", dest, PREFIX);
	if (!lstat(path, &st))
		fail_msg("iomodels-mpi left after uninstall");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dest);
	assert_int_equal(sh(cmd, out, sizeof(out)), 0);
}

/* A relative PREFIX is refused: one line, exit 2, nothing installed. */
static void test_install_relative_prefix(void **state)
{
	char out[1024];

	assert_int_equal(sh("sh dist/install /bin/true /tmp/iom_no_such_dest usr 2>&1", out,
			    sizeof(out)), 2);
	assert_non_null(strstr(out, "PREFIX must be absolute"));
	assert_int_equal(access("/tmp/iom_no_such_dest", F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_install_uninstall),
		cmocka_unit_test(test_install_relative_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
