// SPDX-License-Identifier: MIT
/*
 * Results writer: runs.csv and hist.csv are appended and flushed row by row, run.json is
 * rewritten whole (tmp + rename) after every row, so a run killed half way leaves valid files.
 */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report.h"

#define IOM_REPORT_SCHEMA	1

struct iom_report {
	FILE *csv;
	FILE *hist;
	char json_path[PATH_MAX];
	char json_tmp[PATH_MAX + 4];
	/* root owns meta and rows: one serialisation writes the whole file. */
	struct json_object *root;
	struct json_object *meta;
	struct json_object *rows;
	unsigned long nrows;
};

#define IOM_COL_NAME(name) #name,
static const char *const col_names[IOM_NR_COLS] = { IOM_COLUMNS(IOM_COL_NAME, IOM_COL_NAME) };
#undef IOM_COL_NAME

#define IOM_COL_S(name) 0,
#define IOM_COL_N(name) 1,
static const unsigned char col_is_num[IOM_NR_COLS] = { IOM_COLUMNS(IOM_COL_S, IOM_COL_N) };
#undef IOM_COL_S
#undef IOM_COL_N

void iom_row_init(struct iom_row *row)
{
	memset(row->str, 0, sizeof(row->str));
	for (int i = 0; i < IOM_NR_COLS; i++)
		row->num[i] = NAN;
}

const char *iom_col_name(enum iom_col c)
{
	if ((unsigned int)c >= IOM_NR_COLS)
		return NULL;
	return col_names[c];
}

int iom_col_is_num(enum iom_col c)
{
	if ((unsigned int)c >= IOM_NR_COLS)
		return 0;
	return col_is_num[c];
}

/*
 * An integral value below 2^53 is exact in a double, so it is printed (and stored in JSON) as
 * an integer: counts and nanoseconds then read back bit for bit. Anything else gets 9
 * significant digits, plenty for ratios and rates.
 */
static int num_is_int(double v)
{
	return fabs(v) < 9007199254740992.0 && v == trunc(v);
}

/*
 * A non-finite number (NAN, and an infinity from a division by a zero duration) is "not
 * measured": empty in CSV, null in JSON, never a number that could be plotted.
 */
static void csv_num(FILE *f, double v)
{
	if (!isfinite(v))
		return;
	if (num_is_int(v))
		fprintf(f, "%.0f", v + 0.0);	/* + 0.0: -0 prints as 0 */
	else
		fprintf(f, "%.9g", v);
}

/* RFC 4180: quote a field holding a separator, a quote or a line break; double inner quotes. */
static void csv_str(FILE *f, const char *s, size_t len)
{
	if (!memchr(s, ',', len) && !memchr(s, '"', len) && !memchr(s, '\n', len) &&
	    !memchr(s, '\r', len)) {
		fwrite(s, 1, len, f);
		return;
	}
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			fputc('"', f);
		fputc(s[i], f);
	}
	fputc('"', f);
}

static struct json_object *json_num(double v)
{
	char buf[32];

	if (!isfinite(v))
		return NULL;	/* json-c writes a NULL member as null */
	if (num_is_int(v))
		return json_object_new_int64((int64_t)v);
	/*
	 * json-c prints every double with %.17g, so 0.1 reads 0.10000000000000001; the shortest of
	 * %.15g/%.17g that reads back as the same double keeps run.json exact and legible.
	 */
	snprintf(buf, sizeof(buf), "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, sizeof(buf), "%.17g", v);
	return json_object_new_double_s(v, buf);
}

/* mkdir -p: an existing directory at any level is fine. */
static int mkdir_p(const char *dir)
{
	struct stat st;
	char *p, *path;
	int ret = 0;
	char c;

	if (!*dir)
		return -ENOENT;
	path = strdup(dir);
	if (!path)
		return -ENOMEM;
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p)
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(path, 0777) && errno != EEXIST) {
			ret = -errno;
			break;
		}
		*p = c;
		if (!c)
			break;
	}
	free(path);
	if (ret)
		return ret;
	/* EEXIST also covers a regular file in the way. */
	if (stat(dir, &st))
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Quote an argument for a POSIX shell only when it needs it, so the common case reads plainly. */
static void shell_quote(FILE *f, const char *s)
{
	if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			    "_@%+=:,./-") == strlen(s)) {
		fputs(s, f);
		return;
	}
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* Create dir/name holding text (a header, or the command line), flushed so it is on disk now. */
static FILE *create(const char *dir, const char *name, const char *text, char *errbuf,
		    size_t errlen)
{
	char path[PATH_MAX];
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		snprintf(errbuf, errlen, "cannot create %s/%s: %s", dir, name,
			 strerror(ENAMETOOLONG));
		return NULL;
	}
	errno = 0;
	f = fopen(path, "w");
	if (f && fputs(text, f) >= 0 && fflush(f) == 0)
		return f;
	snprintf(errbuf, errlen, "cannot create %s: %s", path, strerror(errno ? errno : EIO));
	if (f)
		fclose(f);
	return NULL;
}

/* Whole-file rewrite through a temporary name: a reader (or a crash) never sees half a file. */
static int write_json(struct iom_report *r)
{
	errno = 0;	/* json-c may fail without a syscall error (e.g. out of memory) */
	/* NOSLASHESCAPE: paths in argv read as typed, not as "\/tmp\/x". */
	if (json_object_to_file_ext(r->json_tmp, r->root,
				    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE))
		return errno ? -errno : -EIO;
	if (rename(r->json_tmp, r->json_path))
		return -errno;
	return 0;
}

/* 0, or why this stream's data did not all reach the file (an earlier write may have failed). */
static int flush(FILE *f)
{
	errno = 0;
	if (fflush(f) || ferror(f))
		return errno ? -errno : -EIO;
	return 0;
}

static void report_free(struct iom_report *r)
{
	if (r->csv)
		fclose(r->csv);
	if (r->hist)
		fclose(r->hist);
	json_object_put(r->root);
	free(r);
}

struct iom_report *iom_report_open(const char *dir, int argc, char **argv, char *errbuf,
				   size_t errlen)
{
	struct iom_report *r = calloc(1, sizeof(*r));
	struct json_object *jargv;
	char *text = NULL;
	size_t len = 0;
	FILE *f, *m;
	int ret;

	if (!r) {
		snprintf(errbuf, errlen, "cannot create %s: %s", dir, strerror(ENOMEM));
		return NULL;
	}
	ret = mkdir_p(dir);
	if (ret) {
		snprintf(errbuf, errlen, "cannot create %s: %s", dir, strerror(-ret));
		goto fail;
	}

	/* The CSV header, then the command line, built in memory and written by create(). */
	m = open_memstream(&text, &len);
	if (!m)
		goto fail_nomem;
	for (int i = 0; i < IOM_NR_COLS; i++)
		fprintf(m, "%s%s", i ? "," : "", col_names[i]);
	fputc('\n', m);
	if (fclose(m)) {
		free(text);
		goto fail_nomem;
	}
	r->csv = create(dir, "runs.csv", text, errbuf, errlen);
	free(text);
	if (!r->csv)
		goto fail;
	r->hist = create(dir, "hist.csv", "row,lo_ns,width_ns,count\n", errbuf, errlen);
	if (!r->hist)
		goto fail;

	m = open_memstream(&text, &len);
	if (!m)
		goto fail_nomem;
	for (int i = 0; i < argc; i++) {
		if (i)
			fputc(' ', m);
		shell_quote(m, argv[i]);
	}
	fputc('\n', m);
	if (fclose(m)) {
		free(text);
		goto fail_nomem;
	}
	f = create(dir, "cmdline.txt", text, errbuf, errlen);
	free(text);
	if (!f)
		goto fail;
	if (fclose(f)) {
		snprintf(errbuf, errlen, "cannot create %s/cmdline.txt: %s", dir, strerror(errno));
		goto fail;
	}

	/* create() already checked that dir/cmdline.txt fits, and run.json is shorter. */
	snprintf(r->json_path, sizeof(r->json_path), "%s/run.json", dir);
	snprintf(r->json_tmp, sizeof(r->json_tmp), "%s.tmp", r->json_path);
	r->root = json_object_new_object();
	r->meta = json_object_new_object();
	r->rows = json_object_new_array();
	jargv = json_object_new_array_ext(argc);
	if (!r->root || !r->meta || !r->rows || !jargv) {
		/* Not yet owned by root, so report_free would not free them. */
		json_object_put(r->meta);
		json_object_put(r->rows);
		json_object_put(jargv);
		goto fail_nomem;
	}
	json_object_object_add(r->root, "schema", json_object_new_int(IOM_REPORT_SCHEMA));
	json_object_object_add(r->root, "meta", r->meta);
	json_object_object_add(r->root, "rows", r->rows);
	for (int i = 0; i < argc; i++)
		json_object_array_add(jargv, json_object_new_string(argv[i]));
	json_object_object_add(r->meta, "argv", jargv);

	/* A run.json exists from the start, so even a run killed before its first row has one. */
	ret = write_json(r);
	if (ret) {
		snprintf(errbuf, errlen, "cannot create %s: %s", r->json_path, strerror(-ret));
		goto fail;
	}
	return r;

fail_nomem:
	snprintf(errbuf, errlen, "cannot create %s: %s", dir, strerror(ENOMEM));
fail:
	report_free(r);
	return NULL;
}

int iom_report_row(struct iom_report *r, const struct iom_row *row, const struct iom_hist *hist)
{
	struct json_object *jrow;
	int ret;

	if (!r || !row)
		return -EINVAL;
	jrow = json_object_new_object();
	if (!jrow)
		return -ENOMEM;
	for (int i = 0; i < IOM_NR_COLS; i++) {
		if (i)
			fputc(',', r->csv);
		if (col_is_num[i]) {
			csv_num(r->csv, row->num[i]);
			json_object_object_add(jrow, col_names[i], json_num(row->num[i]));
		} else {
			/* The buffer need not be terminated when a string fills it exactly. */
			size_t len = strnlen(row->str[i], sizeof(row->str[i]));

			csv_str(r->csv, row->str[i], len);
			json_object_object_add(jrow, col_names[i],
					       json_object_new_string_len(row->str[i], (int)len));
		}
	}
	fputc('\n', r->csv);
	json_object_array_add(r->rows, jrow);

	if (hist) {
		char label[24];

		snprintf(label, sizeof(label), "%lu", r->nrows);
		iom_hist_write_csv(hist, label, r->hist);
	}
	r->nrows++;

	/* Flush now: rows must survive a kill between cells, not just a clean exit. */
	ret = flush(r->csv);
	if (!ret)
		ret = flush(r->hist);
	if (!ret)
		ret = write_json(r);
	return ret;
}

void iom_report_meta_str(struct iom_report *r, const char *key, const char *val)
{
	if (!r || !key)
		return;
	/* A NULL value is recorded as null, not dropped: the key shows it was looked for. */
	json_object_object_add(r->meta, key, val ? json_object_new_string(val) : NULL);
}

void iom_report_meta_num(struct iom_report *r, const char *key, double val)
{
	if (!r || !key)
		return;
	json_object_object_add(r->meta, key, json_num(val));
}

int iom_report_close(struct iom_report *r)
{
	int ret, err;

	if (!r)
		return 0;
	ret = write_json(r);
	/* fclose reports a write error that buffered output only met on the final flush. */
	err = fclose(r->csv) ? -errno : 0;
	r->csv = NULL;
	if (!ret)
		ret = err;
	err = fclose(r->hist) ? -errno : 0;
	r->hist = NULL;
	if (!ret)
		ret = err;
	report_free(r);
	return ret;
}

void iom_fmt_ns(char *buf, size_t len, double ns)
{
	if (isnan(ns))
		snprintf(buf, len, "-");
	else if (ns < 1e3)
		snprintf(buf, len, "%.0fns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.1fus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.2fms", ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", ns / 1e9);
}
