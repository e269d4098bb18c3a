// SPDX-License-Identifier: MIT
/* The command line's numbers (parse.h). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* The digits at *p into v; -EINVAL without one, -ERANGE past UINT64_MAX. */
static int digits(const char **p, uint64_t *v)
{
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (*v = 0; *s >= '0' && *s <= '9'; s++) {
		if (*v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		*v = *v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	return 0;
}

/* Digits, then K, M or G (and B or iB) when suffixes are allowed. */
static int parse_scaled(const char *s, bool suffixes, uint64_t lo, uint64_t hi, uint64_t *out)
{
	unsigned int shift = 0;
	uint64_t v;
	int ret;

	if (!s)
		return -EINVAL;
	ret = digits(&s, &v);
	if (ret)
		return ret;
	switch (suffixes ? *s : '\0') {
	case 'k': case 'K': shift = 10; s++; break;
	case 'm': case 'M': shift = 20; s++; break;
	case 'g': case 'G': shift = 30; s++; break;
	}
	if (shift && (!strcmp(s, "B") || !strcmp(s, "iB")))
		s += strlen(s);
	if (*s)
		return -EINVAL;
	if (v > UINT64_MAX >> shift)
		return -ERANGE;
	v <<= shift;
	if (v < lo || v > hi)
		return -ERANGE;
	*out = v;
	return 0;
}

int iom_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	return parse_scaled(s, false, lo, hi, out);
}

int iom_parse_size(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	return parse_scaled(s, true, lo, hi, out);
}

int iom_parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	/* strtod would take leading space, a sign, "inf" and "nan": none is a number here. */
	if (!s || !((*s >= '0' && *s <= '9') || (*s == '.' && s[1] >= '0' && s[1] <= '9')))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		return errno == ERANGE ? -ERANGE : -EINVAL;
	if (!(v >= lo && v <= hi))
		return -ERANGE;
	*out = v;
	return 0;
}

int iom_parse_duration(const char *s, uint64_t lo_ns, uint64_t hi_ns, uint64_t *ns)
{
	static const struct { const char *suffix; double ns; } units[] = {
		{ "", 1e9 }, { "s", 1e9 }, { "ms", 1e6 }, { "us", 1e3 }, { "ns", 1 },
		{ "m", 60e9 }, { "h", 3600e9 },
	};
	char num[64];
	size_t len;
	double v, scale = 0;
	int ret;

	if (!s)
		return -EINVAL;
	len = strspn(s, "0123456789.eE");
	/* "5e" is five and a unit nobody has; an exponent needs digits after the e. */
	while (len && (s[len - 1] == 'e' || s[len - 1] == 'E'))
		len--;
	if (!len || len >= sizeof(num))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(s + len, units[i].suffix))
			scale = units[i].ns;
	if (!scale)
		return -EINVAL;
	memcpy(num, s, len);
	num[len] = '\0';
	ret = iom_parse_double(num, 0, (double)UINT64_MAX / scale, &v);
	if (ret)
		return ret;
	v *= scale;
	if (v < (double)lo_ns || v > (double)hi_ns)
		return -ERANGE;
	*ns = (uint64_t)v;
	return 0;
}

int iom_parse_us(const char *s, uint64_t lo_us, uint64_t hi_us, uint64_t *us)
{
	size_t len = s ? strlen(s) : 0;
	uint64_t ns, hi_ns = hi_us > UINT64_MAX / 1000 ? UINT64_MAX : hi_us * 1000;
	int ret;

	/* Only with a unit: a bare "1.5" would be seconds to the duration parser. */
	if (!len || s[len - 1] < 'a' || s[len - 1] > 'z')
		return iom_parse_u64(s, lo_us, hi_us, us);
	ret = iom_parse_duration(s, lo_us * 1000, hi_ns, &ns);
	if (ret)
		return ret;
	if (ns % 1000)
		return -EINVAL;
	*us = ns / 1000;
	return 0;
}
