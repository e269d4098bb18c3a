/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the scenarios (herd.c, durability.c): strict option parsing, the
 * default run directory results/<UTC>-<name>, and mkdir -p. Static inline so that no other
 * file has to list them.
 */
#ifndef IOM_SC_UTIL_H
#define IOM_SC_UTIL_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/parse.h"
#include "core/report.h"

/*
 * Does argv[*i] name option opt, as "--opt VALUE" or "--opt=VALUE"? If so, *val is the value
 * (NULL when it is missing) and *i points at the last argument consumed.
 */
static inline bool sc_opt(int argc, char **argv, int *i, const char *opt, const char **val)
{
	size_t n = strlen(opt);

	if (strncmp(argv[*i], opt, n))
		return false;
	if (argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return true;
	}
	if (argv[*i][n])
		return false;
	*val = *i + 1 < argc ? argv[++*i] : NULL;
	return true;
}

/* A decimal integer in [lo, hi], with K, M or G (x1024) when sizes is set: core/parse.h. */
static inline int sc_parse_u64(const char *s, uint64_t lo, uint64_t hi, bool sizes, uint64_t *out)
{
	return sizes ? iom_parse_size(s, lo, hi, out) : iom_parse_u64(s, lo, hi, out);
}

/* results/<UTC stamp>-<name>, the same stamp format as `iomodels run`. */
static inline void sc_default_output(char *buf, size_t len, const char *name)
{
	char stamp[32] = "unknown";
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm))
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(buf, len, "results/%s-%s", stamp, name);
}

/*
 * The scenario's results directory, out or results/<UTC>-<name>, written into dir, opened as
 * `run` opens its own; NULL after saying why on stderr (the scenario exits 2, as run does).
 */
static inline struct iom_report *sc_open_report(const char *out, const char *name, int argc,
						 char **argv, char *dir, size_t len)
{
	struct iom_report *rep;
	char errbuf[256];

	if (out)
		snprintf(dir, len, "%s", out);
	else
		sc_default_output(dir, len, name);
	rep = iom_report_open(dir, argc, argv, errbuf, sizeof(errbuf));
	if (!rep)
		fprintf(stderr, "iomodels: %s\n", errbuf);
	return rep;
}

/* mkdir -p: 0 or -errno. */
static inline int sc_mkdir_p(const char *dir)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);

	if (!n || n >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = '\0';
			if (mkdir(path, 0755) && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

#endif
