// SPDX-License-Identifier: MIT
/*
 * Tests for core/report.c and core/meta.c: what lands in runs.csv, hist.csv, cmdline.txt and
 * run.json, read back the way a plotting script would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/meta.h"
#include "core/model.h"
#include "core/report.h"
#include "tests/helpers.h"

static int setup_dir(void **state)
{
	char *dir = malloc(64);

	if (!dir || iomt_mkdtemp(dir, 64, "report")) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int teardown_dir(void **state)
{
	iomt_rm_tree(*state);
	free(*state);
	return 0;
}

static struct json_object *load_json(const char *dir)
{
	char path[1024];
	struct json_object *root;

	snprintf(path, sizeof(path), "%s/run.json", dir);
	root = json_object_from_file(path);
	assert_non_null(root);
	return root;
}

static void test_columns(void **state)
{
	struct iom_row row;

	assert_string_equal(iom_col_name(IOM_COL_model), "model");
	assert_string_equal(iom_col_name(IOM_COL_reason), "reason");
	assert_int_equal(iom_col_name(IOM_NR_COLS) == NULL, 1);
	assert_int_equal(iom_col_is_num(IOM_COL_model), 0);
	assert_int_equal(iom_col_is_num(IOM_COL_ops_per_s), 1);
	iom_row_init(&row);
	for (int i = 0; i < IOM_NR_COLS; i++) {
		assert_true(isnan(row.num[i]));
		assert_string_equal(row.str[i], "");
	}
}

static void fill_rows(struct iom_row *a, struct iom_row *b)
{
	iom_row_init(a);
	snprintf(a->str[IOM_COL_model], sizeof(a->str[0]), "threads,pool");
	snprintf(a->str[IOM_COL_workload], sizeof(a->str[0]), "say \"hi\"");
	snprintf(a->str[IOM_COL_reason], sizeof(a->str[0]), "line1\nline2");
	snprintf(a->str[IOM_COL_status], sizeof(a->str[0]), "ok");
	a->num[IOM_COL_concurrency] = 64;
	a->num[IOM_COL_runtime_ns] = 5e12;		/* integral, above 2^32 */
	a->num[IOM_COL_ops_per_s] = 1234.5;
	a->num[IOM_COL_cpu_ns_per_task] = 1.0 / 3.0;
	a->num[IOM_COL_seed] = -0.0;
	a->num[IOM_COL_lat_max_ns] = INFINITY;	/* not measurable: written like NAN */

	/* A string filling its buffer with no terminator must not be read past. */
	iom_row_init(b);
	memset(b->str[IOM_COL_variant], 'x', sizeof(b->str[0]));
}

static void test_rows(void **state)
{
	const char *dir = *state;
	char *argv[] = { "iomodels", "--model", "a b", "it's", "" };
	char err[256] = "", *csv, **fields, sub[512];
	struct json_object *root, *rows, *row0, *row1, *v;
	struct iom_row a, b;
	struct iom_hist h;
	struct iom_report *r;
	struct iomt_csv c;

	/* A directory two levels down that does not exist yet: open must create both. */
	snprintf(sub, sizeof(sub), "%s/res/x", dir);
	r = iom_report_open(sub, 5, argv, err, sizeof(err));
	assert_non_null(r);
	iom_report_meta_str(r, "note", "a \"quoted\" value");
	iom_report_meta_num(r, "timer_slack_ns", 50000);

	fill_rows(&a, &b);
	iom_hist_init(&h);
	iom_hist_record(&h, 100);
	iom_hist_record(&h, 100);
	iom_hist_record(&h, 100000);
	assert_int_equal(iom_report_row(r, &a, NULL), 0);
	assert_int_equal(iom_report_row(r, &b, &h), 0);

	/* Before close, as after a kill: both files already hold both rows. */
	root = load_json(sub);
	assert_int_equal(json_object_array_length(json_object_object_get(root, "rows")), 2);
	json_object_put(root);
	/* The test's own CSV reader, independent of the writer: quoting bugs cannot cancel out. */
	csv = iomt_slurp_in(sub, "runs.csv");
	assert_true(iomt_csv_parse(&c, csv));
	assert_int_equal(c.nr, 3);
	assert_int_equal(c.nf[0], IOM_NR_COLS);
	for (int i = 0; i < IOM_NR_COLS; i++)
		assert_string_equal(c.f[0][i], iom_col_name(i));
	iomt_csv_free(&c);
	free(csv);

	assert_int_equal(iom_report_close(r), 0);

	csv = iomt_slurp_in(sub, "runs.csv");
	assert_true(iomt_csv_parse(&c, csv));
	assert_int_equal(c.nr, 3);
	fields = c.f[1];
	assert_int_equal(c.nf[1], IOM_NR_COLS);
	assert_string_equal(fields[IOM_COL_model], "threads,pool");
	assert_string_equal(fields[IOM_COL_workload], "say \"hi\"");
	assert_string_equal(fields[IOM_COL_reason], "line1\nline2");
	assert_string_equal(fields[IOM_COL_concurrency], "64");
	assert_string_equal(fields[IOM_COL_runtime_ns], "5000000000000");
	assert_string_equal(fields[IOM_COL_ops_per_s], "1234.5");
	assert_string_equal(fields[IOM_COL_cpu_ns_per_task], "0.333333333");
	assert_string_equal(fields[IOM_COL_seed], "0");
	assert_string_equal(fields[IOM_COL_lat_max_ns], "");
	assert_string_equal(fields[IOM_COL_lat_p50_ns], "");
	assert_string_equal(fields[IOM_COL_cpus], "");
	fields = c.f[2];
	assert_int_equal(c.nf[2], IOM_NR_COLS);
	assert_int_equal(strlen(fields[IOM_COL_variant]), sizeof(a.str[0]));
	for (int i = 0; i < IOM_NR_COLS; i++)
		if (i != IOM_COL_variant)
			assert_string_equal(fields[i], "");
	iomt_csv_free(&c);
	/* The quoted field holds a raw line break: the file has one more line than records. */
	assert_int_equal(csv[strlen(csv) - 1], '\n');
	free(csv);

	csv = iomt_slurp_in(sub, "hist.csv");
	assert_string_equal(csv, "row,lo_ns,width_ns,count\n1,100,1,2\n"
			    "1,99840,512,1\n");
	free(csv);

	csv = iomt_slurp_in(sub, "cmdline.txt");
	assert_string_equal(csv, "iomodels --model 'a b' 'it'\\''s' ''\n");
	free(csv);

	root = load_json(sub);
	assert_int_equal(json_object_get_int(json_object_object_get(root, "schema")), 1);
	rows = json_object_object_get(root, "rows");
	assert_int_equal(json_object_array_length(rows), 2);
	row0 = json_object_array_get_idx(rows, 0);
	row1 = json_object_array_get_idx(rows, 1);
	assert_int_equal(json_object_object_length(row0), IOM_NR_COLS);

	assert_true(json_object_object_get_ex(row0, "lat_p50_ns", &v));
	assert_null(v);					/* present, and null */
	assert_true(json_object_object_get_ex(row0, "lat_max_ns", &v));
	assert_null(v);
	v = json_object_object_get(row0, "runtime_ns");
	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int64(v), 5000000000000LL);
	v = json_object_object_get(row0, "ops_per_s");
	assert_true(json_object_is_type(v, json_type_double));
	assert_true(json_object_get_double(v) == 1234.5);
	/* Doubles in run.json read back bit for bit. */
	v = json_object_object_get(row0, "cpu_ns_per_task");
	assert_true(json_object_get_double(v) == 1.0 / 3.0);
	assert_string_equal(json_object_get_string(json_object_object_get(row0, "model")),
			    "threads,pool");
	assert_string_equal(json_object_get_string(json_object_object_get(row0, "reason")),
			    "line1\nline2");
	assert_int_equal(json_object_get_string_len(json_object_object_get(row1, "variant")),
			 sizeof(a.str[0]));
	assert_true(json_object_object_get_ex(row1, "concurrency", &v));
	assert_null(v);

	v = json_object_object_get(root, "meta");
	assert_string_equal(json_object_get_string(json_object_object_get(v, "note")),
			    "a \"quoted\" value");
	assert_int_equal(json_object_get_int(json_object_object_get(v, "timer_slack_ns")), 50000);
	v = json_object_object_get(v, "argv");
	assert_int_equal(json_object_array_length(v), 5);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 3)), "it's");
	json_object_put(root);

	/* The temporary file is renamed over, never left behind. */
	snprintf(sub, sizeof(sub), "%s/res/x/run.json.tmp", dir);
	assert_int_equal(access(sub, F_OK), -1);
}

static void test_open_fails(void **state)
{
	const char *dir = *state;
	char *argv[] = { "iomodels" };
	char err[256] = "", path[512];
	FILE *f;

	/* A regular file where a directory should be: fails even as root. */
	snprintf(path, sizeof(path), "%s/file", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/file/sub", dir);
	assert_null(iom_report_open(path, 1, argv, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot create"));
	assert_non_null(strstr(err, "Not a directory"));
	assert_null(strchr(err, '\n'));

	assert_int_equal(iom_report_close(NULL), 0);
}

static void test_meta(void **state)
{
	const char *dir = *state;
	static const char *const keys[] = {
		"kernel", "arch", "cpu_model", "clocksource", "preempt", "mitigations",
		"governor", "thp", "liburing_version", "libbpf_version", "json_c_version", "compiler", "utc_time",
		"fs_type", "fs_device", "fs_scheduler",
	};
	char *argv[] = { "iomodels" };
	struct json_object *root, *meta, *v;
	char err[256] = "";
	struct iom_report *r;

	r = iom_report_open(dir, 1, argv, err, sizeof(err));
	assert_non_null(r);
	iom_meta_collect(r, dir, iom_models);
	assert_int_equal(iom_report_close(r), 0);

	root = load_json(dir);
	meta = json_object_object_get(root, "meta");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		v = json_object_object_get(meta, keys[i]);
		assert_true(json_object_is_type(v, json_type_string));
		assert_true(json_object_get_string_len(v) > 0);
	}
	v = json_object_object_get(meta, "cpus_online");
	assert_true(json_object_is_type(v, json_type_int));
	assert_true(json_object_get_int(v) >= 1);
	assert_true(json_object_get_int(v) == sysconf(_SC_NPROCESSORS_ONLN));
	assert_non_null(json_object_object_get(meta, "mem_total_bytes"));
	assert_non_null(json_object_object_get(meta, "rlimit_nofile_soft"));
	assert_non_null(json_object_object_get(meta, "fs_rotational"));
	json_object_put(root);

	/* No directory: no fs_ keys, and nothing else changes. */
	r = iom_report_open(dir, 1, argv, err, sizeof(err));
	assert_non_null(r);
	iom_meta_collect(r, NULL, NULL);
	assert_int_equal(iom_report_close(r), 0);
	root = load_json(dir);
	meta = json_object_object_get(root, "meta");
	assert_true(json_object_object_get_ex(meta, "kernel", NULL));
	assert_false(json_object_object_get_ex(meta, "fs_type", NULL));
	json_object_put(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_columns),
		cmocka_unit_test_setup_teardown(test_rows, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_open_fails, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_meta, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
