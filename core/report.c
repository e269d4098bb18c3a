// SPDX-License-Identifier: MIT
/*
 * Results writer: runs.csv and hist.csv get one write() per row, run.json is rewritten whole
 * (tmp + rename) after every row, so a run killed half way leaves valid files; a row that
 * cannot be written whole (a full disk) is taken back out of every file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "model.h"
#include "report.h"

#define IOM_REPORT_SCHEMA	1

struct iom_report {
	int csv_fd, hist_fd;		/* O_APPEND; -1 once closed */
	off_t csv_size, hist_size;	/* the files' sizes after the last whole row */
	char dir[PATH_MAX];
	char json_path[PATH_MAX + 16];
	char json_tmp[PATH_MAX + 24];
	/* root owns meta and rows: one serialisation writes the whole file. */
	struct json_object *root;
	struct json_object *meta;
	struct json_object *rows;
	unsigned long nrows;
	bool made_run;			/* this open created runs.csv: a failure removes its files */
	char errmsg[PATH_MAX + 128];	/* the last write error, one line */
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

/* "cannot <verb> <path>: ENOSPC (No space left on device)": the errno by name, for a script. */
static void say_errno(char *buf, size_t len, const char *verb, const char *path, int neg_errno)
{
	if (!buf || !len)
		return;
	snprintf(buf, len, "cannot %s %s: %s (%s)", verb, path, iom_errno_name(-neg_errno),
		 strerror(-neg_errno));
}

/* The whole buffer or -errno: a short write (a full disk) is an error, not a success. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Whole-file rewrite through a temporary name, removed on any error: never a stale tmp. */
static int write_json(struct iom_report *r)
{
	const char *text;
	int fd, ret;

	/* NOSLASHESCAPE: paths in argv read as typed, not as "\/tmp\/x". */
	text = json_object_to_json_string_ext(r->root, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text) {
		ret = -ENOMEM;
		goto fail;
	}
	fd = open(r->json_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = write_all(fd, text, strlen(text));
	if (!ret)
		ret = write_all(fd, "\n", 1);
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(r->json_tmp, r->json_path))
		ret = -errno;
	if (!ret)
		return 0;
	unlink(r->json_tmp);
fail:
	say_errno(r->errmsg, sizeof(r->errmsg), "write", r->json_path, ret);
	return ret;
}

static void report_free(struct iom_report *r)
{
	if (r->csv_fd >= 0)
		close(r->csv_fd);
	if (r->hist_fd >= 0)
		close(r->hist_fd);
	json_object_put(r->root);
	free(r);
}

/* The text of a memstream, or NULL (out of memory). */
static char *memstream_text(FILE *m, char **text)
{
	if (fclose(m)) {
		free(*text);
		*text = NULL;
	}
	return *text;
}

static char *csv_header(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!m)
		return NULL;
	for (int i = 0; i < IOM_NR_COLS; i++)
		fprintf(m, "%s%s", i ? "," : "", col_names[i]);
	fputc('\n', m);
	return memstream_text(m, &text);
}

static char *cmdline_text(int argc, char **argv)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!m)
		return NULL;
	for (int i = 0; i < argc; i++) {
		if (i)
			fputc(' ', m);
		shell_quote(m, argv[i]);
	}
	fputc('\n', m);
	return memstream_text(m, &text);
}

static void join(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* Open dir/name (flags | O_CLOEXEC); -errno with the reason in errbuf. */
static int open_in(const char *dir, const char *name, int flags, char *errbuf, size_t errlen)
{
	char path[PATH_MAX + 16];
	int fd;

	join(path, sizeof(path), dir, name);
	fd = open(path, flags | O_CLOEXEC, 0666);
	if (fd < 0) {
		fd = -errno;
		say_errno(errbuf, errlen, "create", path, fd);
	}
	return fd;
}

static int write_in(int fd, const char *dir, const char *name, const char *text, char *errbuf,
		    size_t errlen)
{
	char path[PATH_MAX + 16];
	int ret = write_all(fd, text, strlen(text));

	if (ret) {
		join(path, sizeof(path), dir, name);
		say_errno(errbuf, errlen, "write", path, ret);
	}
	return ret;
}

/* The files a run and its plots write: --force removes these, and only these. */
static bool is_run_file(const char *name)
{
	static const char *const names[] = {
		"runs.csv", "run.json", "run.json.tmp", "hist.csv", "cmdline.txt", "models.csv",
		"timeline.csv", "bench.json", "fio.csv", "calibrate.csv", "report.md",
		"report.html",
	};
	static const char *const globs[] = { "series-row*.csv", "probes-*.csv", "*.png", "*.svg",
					     "*.pdf" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return true;
	for (size_t i = 0; i < sizeof(globs) / sizeof(globs[0]); i++)
		if (!fnmatch(globs[i], name, FNM_PERIOD))
			return true;
	return false;
}

static int remove_run_files(const char *dir, char *errbuf, size_t errlen)
{
	char path[PATH_MAX + 256];
	struct dirent *e;
	DIR *d = opendir(dir);
	int ret = 0;

	if (!d) {
		ret = -errno;
		say_errno(errbuf, errlen, "read", dir, ret);
		return ret;
	}
	while ((e = readdir(d))) {
		if (!is_run_file(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) && errno != ENOENT) {
			ret = -errno;
			say_errno(errbuf, errlen, "remove", path, ret);
			break;
		}
	}
	closedir(d);
	return ret;
}

/* Records in a CSV text (RFC 4180: a quoted field may hold a line break); -1 if it ends
 * inside a record, as a file cut mid-row would. */
static long csv_records(const char *s, size_t len)
{
	bool quoted = false;
	long n = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			quoted = !quoted;
		else if (s[i] == '\n' && !quoted)
			n++;
	}
	return len && (s[len - 1] != '\n' || quoted) ? -1 : n;
}

static char *read_fd(int fd, size_t *len)
{
	struct stat st;
	char *buf;

	if (fstat(fd, &st))
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return NULL;
	*len = 0;
	while (*len < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + *len, (size_t)st.st_size - *len, (off_t)*len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	buf[*len] = '\0';
	return buf;
}

/*
 * --append: the run in dir is taken over only when its runs.csv has this build's header, ends
 * with a whole row, and run.json holds as many rows; else -EPROTO, and nothing is written.
 */
static int append_check(struct iom_report *r, const char *header, char *errbuf, size_t errlen)
{
	struct json_object *schema, *rows;
	size_t len = 0, hlen = strlen(header);
	char *text = read_fd(r->csv_fd, &len);
	long records;

	if (!text) {
		say_errno(errbuf, errlen, "read", r->dir, -(errno ? errno : ENOMEM));
		return -EIO;
	}
	records = csv_records(text, len);
	if (len < hlen || memcmp(text, header, hlen)) {
		free(text);
		snprintf(errbuf, errlen, "%s/runs.csv: its header is not this build's (other "
			 "columns): not appended", r->dir);
		return -EPROTO;
	}
	free(text);
	if (records < 1) {
		snprintf(errbuf, errlen, "%s/runs.csv: ends inside a row (a run cut off mid-write?): "
			 "not appended", r->dir);
		return -EPROTO;
	}
	r->csv_size = (off_t)len;
	r->root = json_object_from_file(r->json_path);
	if (!r->root || !json_object_object_get_ex(r->root, "schema", &schema) ||
	    json_object_get_int(schema) != IOM_REPORT_SCHEMA ||
	    !json_object_object_get_ex(r->root, "rows", &rows) ||
	    !json_object_is_type(rows, json_type_array)) {
		snprintf(errbuf, errlen, "%s: not a run.json of schema %d: not appended",
			 r->json_path, IOM_REPORT_SCHEMA);
		return -EPROTO;
	}
	if ((long)json_object_array_length(rows) != records - 1) {
		snprintf(errbuf, errlen, "%s: %zu rows, runs.csv %ld: not appended", r->json_path,
			 json_object_array_length(rows), records - 1);
		return -EPROTO;
	}
	r->rows = rows;
	r->nrows = (unsigned long)(records - 1);
	return 0;
}

/* Default directories: dir, else dir-2, dir-3...: mkdir is the atomic claim, EEXIST the loss. */
static int mkdir_unique(char *dir, size_t dirlen, char *errbuf, size_t errlen)
{
	char base[PATH_MAX], *slash;
	int ret = -EEXIST;

	snprintf(base, sizeof(base), "%s", dir);
	slash = strrchr(base, '/');
	if (slash && slash != base) {
		*slash = '\0';
		ret = mkdir_p(base);
		*slash = '/';
		if (ret) {
			say_errno(errbuf, errlen, "create", base, ret);
			return ret;
		}
	}
	for (unsigned int n = 1; n < 10000; n++) {
		if (n > 1 && snprintf(dir, dirlen, "%s-%u", base, n) >= (int)dirlen)
			ret = -ENAMETOOLONG;
		else if (!mkdir(dir, 0777))
			return 0;
		else
			ret = -errno;
		if (ret != -EEXIST)
			break;
	}
	say_errno(errbuf, errlen, "create", dir, ret);
	return ret;
}

static void say_held(const char *dir, char *errbuf, size_t errlen)
{
	snprintf(errbuf, errlen, "%s holds a run (runs.csv): give another --output (run also takes "
		 "--append to add rows to it, --force to replace it)", dir);
}

/* A new run's files; O_EXCL on runs.csv claims the directory against a concurrent run. */
static int open_new(struct iom_report *r, bool replace, const char *header, char *errbuf,
		    size_t errlen)
{
	int ret;

	r->csv_fd = open_in(r->dir, "runs.csv", O_WRONLY | O_CREAT | O_APPEND |
			    (replace ? O_TRUNC : O_EXCL), errbuf, errlen);
	if (r->csv_fd == -EEXIST) {
		say_held(r->dir, errbuf, errlen);
		r->csv_fd = -1;
		return -EEXIST;
	}
	if (r->csv_fd < 0)
		return r->csv_fd;
	r->made_run = true;
	ret = write_in(r->csv_fd, r->dir, "runs.csv", header, errbuf, errlen);
	if (ret)
		return ret;
	r->csv_size = (off_t)strlen(header);
	r->root = json_object_new_object();
	r->meta = json_object_new_object();
	r->rows = json_object_new_array();
	if (!r->root || !r->meta || !r->rows) {
		/* Not yet owned by root, so report_free would not free them. */
		json_object_put(r->meta);
		json_object_put(r->rows);
		say_errno(errbuf, errlen, "create", r->json_path, -ENOMEM);
		return -ENOMEM;
	}
	json_object_object_add(r->root, "schema", json_object_new_int(IOM_REPORT_SCHEMA));
	json_object_object_add(r->root, "meta", r->meta);
	json_object_object_add(r->root, "rows", r->rows);
	return 0;
}

/* An appended run's metadata goes in its own object: the first run's stays as it was. */
static int append_meta(struct iom_report *r)
{
	struct json_object *list;

	if (!json_object_object_get_ex(r->root, "appended", &list)) {
		list = json_object_new_array();
		if (!list)
			return -ENOMEM;
		json_object_object_add(r->root, "appended", list);
	}
	r->meta = json_object_new_object();
	if (!r->meta)
		return -ENOMEM;
	json_object_array_add(list, r->meta);
	return 0;
}

/* Does dir hold a run, and may this open take it (mode)? 0, 1 (append to it) or -errno. */
static int claim_dir(struct iom_report *r, enum iom_report_mode mode, char *errbuf, size_t errlen)
{
	char path[PATH_MAX + 16];
	bool held;
	int fd;

	join(path, sizeof(path), r->dir, "runs.csv");
	held = !access(path, F_OK) || !access(r->json_path, F_OK);
	if (!held || mode == IOM_REPORT_REPLACE)
		return 0;
	if (mode == IOM_REPORT_NEW) {
		say_held(r->dir, errbuf, errlen);
		return -EEXIST;
	}
	fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && mode == IOM_REPORT_APPEND) {
		snprintf(errbuf, errlen, "%s: a run.json without runs.csv: not appended", r->dir);
		return -EPROTO;
	}
	if (fd < 0 && errno != ENOENT) {
		fd = -errno;
		say_errno(errbuf, errlen, "open", path, fd);
		return fd;
	}
	/* A run still writing holds the lock for its whole life. */
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		snprintf(errbuf, errlen, "%s: another run is writing there", r->dir);
		return -EBUSY;
	}
	if (mode == IOM_REPORT_APPEND) {
		r->csv_fd = fd;
		return 1;
	}
	if (fd >= 0)
		close(fd);
	return remove_run_files(r->dir, errbuf, errlen);
}

/* After a failed open: what this open created goes, so a full disk leaves no stale file. */
static void unmake(struct iom_report *r, bool made_dir)
{
	static const char *const names[] = { "runs.csv", "hist.csv", "cmdline.txt" };
	char path[PATH_MAX + 16];

	unlink(r->json_tmp);
	for (size_t i = 0; r->made_run && i < sizeof(names) / sizeof(names[0]); i++) {
		join(path, sizeof(path), r->dir, names[i]);
		unlink(path);
	}
	if (r->made_run)
		unlink(r->json_path);
	if (made_dir)
		rmdir(r->dir);
}

struct iom_report *iom_report_open_mode(char *dir, size_t dirlen, enum iom_report_mode mode,
					int argc, char **argv, char *errbuf, size_t errlen,
					int *why)
{
	struct iom_report *r = calloc(1, sizeof(*r));
	char *header = csv_header(), *cmdline = cmdline_text(argc, argv);
	struct json_object *jargv;
	bool appending = false, made_dir = false;
	struct stat st;
	int ret, fd;

	if (!r || !header || !cmdline) {
		say_errno(errbuf, errlen, "create", dir, -ENOMEM);
		ret = -ENOMEM;
		goto out_free;
	}
	r->csv_fd = r->hist_fd = -1;
	if (mode == IOM_REPORT_UNIQUE) {
		ret = mkdir_unique(dir, dirlen, errbuf, errlen);
		made_dir = !ret;
	} else {
		made_dir = stat(dir, &st) != 0;
		ret = mkdir_p(dir);
		if (ret)
			say_errno(errbuf, errlen, "create", dir, ret);
	}
	if (ret)
		goto out_free;
	if (strlen(dir) + sizeof("/run.json.tmp") > sizeof(r->dir)) {
		ret = -ENAMETOOLONG;
		say_errno(errbuf, errlen, "create", dir, ret);
		goto fail;
	}
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	join(r->json_path, sizeof(r->json_path), dir, "run.json");
	snprintf(r->json_tmp, sizeof(r->json_tmp), "%s.tmp", r->json_path);

	ret = claim_dir(r, mode, errbuf, errlen);
	if (ret < 0)
		goto fail;
	appending = ret == 1;
	ret = appending ? append_check(r, header, errbuf, errlen) :
			  open_new(r, mode == IOM_REPORT_REPLACE, header, errbuf, errlen);
	if (ret)
		goto fail;
	if (appending && append_meta(r)) {
		ret = -ENOMEM;
		say_errno(errbuf, errlen, "append to", dir, ret);
		goto fail;
	}

	r->hist_fd = open_in(dir, "hist.csv", O_RDWR | O_CREAT | O_APPEND |
			     (appending ? 0 : O_TRUNC), errbuf, errlen);
	if (r->hist_fd < 0) {
		ret = r->hist_fd;
		goto fail;
	}
	r->hist_size = lseek(r->hist_fd, 0, SEEK_END);
	if (!r->hist_size) {
		static const char hist_header[] = "row,lo_ns,width_ns,count\n";

		ret = write_in(r->hist_fd, dir, "hist.csv", hist_header, errbuf, errlen);
		if (ret)
			goto fail;
		r->hist_size = (off_t)strlen(hist_header);
	}
	/* cmdline.txt: one line per run that wrote here, the first one first. */
	fd = open_in(dir, "cmdline.txt", O_WRONLY | O_CREAT | O_APPEND | (appending ? 0 : O_TRUNC),
		     errbuf, errlen);
	ret = fd < 0 ? fd : write_in(fd, dir, "cmdline.txt", cmdline, errbuf, errlen);
	if (fd >= 0)
		close(fd);
	if (ret)
		goto fail;

	jargv = json_object_new_array_ext(argc);
	if (!jargv) {
		ret = -ENOMEM;
		say_errno(errbuf, errlen, "create", r->json_path, ret);
		goto fail;
	}
	for (int i = 0; i < argc; i++)
		json_object_array_add(jargv, json_object_new_string(argv[i]));
	json_object_object_add(r->meta, "argv", jargv);

	/* A run.json exists from the start, so even a run killed before its first row has one. */
	ret = write_json(r);
	if (ret) {
		snprintf(errbuf, errlen, "%s", r->errmsg);
		goto fail;
	}
	free(header);
	free(cmdline);
	if (why)
		*why = 0;
	return r;

fail:
	unmake(r, made_dir);
out_free:
	if (r)
		report_free(r);
	free(header);
	free(cmdline);
	if (why)
		*why = ret;
	return NULL;
}

struct iom_report *iom_report_open(const char *dir, int argc, char **argv, char *errbuf,
				   size_t errlen)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
		say_errno(errbuf, errlen, "create", dir, -ENAMETOOLONG);
		return NULL;
	}
	return iom_report_open_mode(path, sizeof(path), IOM_REPORT_REPLACE, argc, argv, errbuf,
				    errlen, NULL);
}

unsigned long iom_report_nrows(const struct iom_report *r)
{
	return r ? r->nrows : 0;
}

/* Back to the sizes after the last whole row: a row is in every file or in none. */
static void unwrite_row(struct iom_report *r)
{
	if (ftruncate(r->csv_fd, r->csv_size) || ftruncate(r->hist_fd, r->hist_size))
		return;	/* nothing better to do: the error already reported is the cause */
}

int iom_report_row(struct iom_report *r, const struct iom_row *row, const struct iom_hist *hist)
{
	char *line = NULL, *htext = NULL, label[24], path[PATH_MAX + 16];
	size_t line_len = 0, hlen = 0;
	struct json_object *jrow;
	FILE *m, *hm;
	int ret;

	if (!r || !row)
		return -EINVAL;
	jrow = json_object_new_object();
	m = open_memstream(&line, &line_len);
	hm = open_memstream(&htext, &hlen);
	if (!jrow || !m || !hm) {
		if (m)
			fclose(m);
		if (hm)
			fclose(hm);
		free(line);
		free(htext);
		json_object_put(jrow);
		say_errno(r->errmsg, sizeof(r->errmsg), "write", r->dir, -ENOMEM);
		return -ENOMEM;
	}
	for (int i = 0; i < IOM_NR_COLS; i++) {
		if (i)
			fputc(',', m);
		if (col_is_num[i]) {
			csv_num(m, row->num[i]);
			json_object_object_add(jrow, col_names[i], json_num(row->num[i]));
		} else {
			/* The buffer need not be terminated when a string fills it exactly. */
			size_t len = strnlen(row->str[i], sizeof(row->str[i]));

			csv_str(m, row->str[i], len);
			json_object_object_add(jrow, col_names[i],
					       json_object_new_string_len(row->str[i], (int)len));
		}
	}
	fputc('\n', m);
	if (hist) {
		snprintf(label, sizeof(label), "%lu", r->nrows);
		iom_hist_write_csv(hist, label, hm);
	}
	memstream_text(m, &line);
	memstream_text(hm, &htext);
	if (!line || !htext) {
		ret = -ENOMEM;
		say_errno(r->errmsg, sizeof(r->errmsg), "write", r->dir, ret);
		goto out;
	}
	line_len = strlen(line);
	hlen = strlen(htext);

	/*
	 * One write() per file per row, on disk before the next cell: a run killed between cells
	 * leaves whole rows, and a full disk takes the partial row back out of every file.
	 */
	ret = write_all(r->csv_fd, line, line_len);
	if (ret) {
		join(path, sizeof(path), r->dir, "runs.csv");
		say_errno(r->errmsg, sizeof(r->errmsg), "write", path, ret);
		goto out_unwrite;
	}
	ret = write_all(r->hist_fd, htext, hlen);
	if (ret) {
		join(path, sizeof(path), r->dir, "hist.csv");
		say_errno(r->errmsg, sizeof(r->errmsg), "write", path, ret);
		goto out_unwrite;
	}
	json_object_array_add(r->rows, jrow);
	jrow = NULL;
	ret = write_json(r);
	if (ret) {
		json_object_array_del_idx(r->rows, json_object_array_length(r->rows) - 1, 1);
		goto out_unwrite;
	}
	r->csv_size += (off_t)line_len;
	r->hist_size += (off_t)hlen;
	r->nrows++;
	goto out;

out_unwrite:
	unwrite_row(r);
out:
	json_object_put(jrow);
	free(line);
	free(htext);
	return ret;
}

void iom_caps_format(unsigned int caps, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s%s", caps & IOM_CAP_ASYNC ? "async" : "sync",
		 caps & IOM_CAP_BATCH ? ",batch" : "", caps & IOM_CAP_CANCEL ? ",cancel" : "",
		 caps & IOM_CAP_DEADLINE ? ",deadline" : "", caps & IOM_CAP_POOL ? ",pool" : "",
		 caps & IOM_CAP_CQ ? ",cq" : "");
}

void iom_models_csv(FILE *f, const struct iom_model *const *models)
{
	char caps[64];

	fputs("model,caps,desc,task_id,completion,domains\n", f);
	for (size_t i = 0; models[i]; i++) {
		const char *text[] = { models[i]->desc, models[i]->task_id, models[i]->completion,
				       models[i]->domains };

		iom_caps_format(models[i]->caps, caps, sizeof(caps));
		csv_str(f, models[i]->name, strlen(models[i]->name));
		fputc(',', f);
		csv_str(f, caps, strlen(caps));
		for (size_t k = 0; k < sizeof(text) / sizeof(text[0]); k++) {
			fputc(',', f);
			if (text[k])
				csv_str(f, text[k], strlen(text[k]));
		}
		fputc('\n', f);
	}
}

int iom_report_models(struct iom_report *r, const struct iom_model *const *models)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 24], *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	int fd, ret;

	if (!m)
		return -ENOMEM;
	iom_models_csv(m, models);
	if (!memstream_text(m, &text))
		return -ENOMEM;
	join(path, sizeof(path), r->dir, "models.csv");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* Whole or not at all, as run.json: an --append rewrites it. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	ret = fd < 0 ? -errno : write_all(fd, text, strlen(text));
	if (fd >= 0 && close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		say_errno(r->errmsg, sizeof(r->errmsg), "write", path, ret);
	}
	free(text);
	return ret;
}

const char *iom_report_errmsg(const struct iom_report *r)
{
	return r ? r->errmsg : "";
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
	return iom_report_finish(r, NULL, 0);
}

int iom_report_finish(struct iom_report *r, char *errbuf, size_t errlen)
{
	int ret;

	if (!r)
		return 0;
	/* The metadata added since the last row; the rows are on disk already. */
	ret = write_json(r);
	if (ret && errbuf)
		snprintf(errbuf, errlen, "%s", r->errmsg);
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
