/* SPDX-License-Identifier: MIT */
/*
 * Numbers, sizes and durations from the command line: the one parser that run, watch, serve
 * and the scenarios use. Strict: no sign, no space, nothing after the number but a known
 * suffix. Each returns 0, -EINVAL (not such a number) or -ERANGE (outside lo..hi); the caller
 * says which option was wrong.
 */
#ifndef IOM_PARSE_H
#define IOM_PARSE_H

#include <stdint.h>

/* A decimal integer. */
int iom_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/* A decimal integer with an optional K, M or G (x1024), which may be followed by B or iB. */
int iom_parse_size(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/* A decimal number (fractions and exponents allowed). */
int iom_parse_double(const char *s, double lo, double hi, double *out);
/* A number of seconds, or a number with ns, us, ms, s, m (minutes) or h; into nanoseconds. */
int iom_parse_duration(const char *s, uint64_t lo_ns, uint64_t hi_ns, uint64_t *ns);
/*
 * An option named in microseconds (--status-lag-us): whole microseconds, or a duration with its
 * unit (250us, 2ms, 1s) that is a whole number of them; into microseconds.
 */
int iom_parse_us(const char *s, uint64_t lo_us, uint64_t hi_us, uint64_t *us);

#endif
