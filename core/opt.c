// SPDX-License-Identifier: MIT
/* A model's options, parsed and printed through its table (opt.h), with parse.h's parser. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "driver.h"
#include "model.h"
#include "opt.h"
#include "parse.h"

const struct iom_opt *iom_opt_find(const struct iom_opt *table, const char *name)
{
	for (size_t i = 0; table && table[i].name; i++)
		if (!strcmp(table[i].name, name))
			return &table[i];
	return NULL;
}

static int opt_bool(const struct iom_opt *opt, bool *dst, const char *arg, char *msg, size_t len)
{
	if (!arg || !strcmp(arg, "1") || !strcmp(arg, "on")) {
		*dst = true;
	} else if (!strcmp(arg, "0") || !strcmp(arg, "off")) {
		*dst = false;
	} else {
		snprintf(msg, len, "--%s: want no value, on, off, 1 or 0 (got '%s')", opt->name, arg);
		return -EINVAL;
	}
	return 0;
}

static int opt_enum(const struct iom_opt *opt, int *dst, const char *arg, char *msg, size_t len)
{
	char words[128];

	for (int i = 0; arg && opt->words[i]; i++)
		if (!strcmp(arg, opt->words[i])) {
			*dst = i;
			return 0;
		}
	iom_opt_type_name(opt, words, sizeof(words));
	snprintf(msg, len, "--%s: want %s (got '%s')", opt->name, words, arg ? arg : "");
	return -EINVAL;
}

/* The numeric types: the one parser of parse.h, then the power-of-two rule. */
static int opt_number(const struct iom_opt *opt, void *dst, const char *arg, char *msg, size_t len)
{
	uint64_t u = 0;
	double d;
	int ret = -EINVAL;

	if ((opt->flags & IOM_OPT_OR_ZERO) && arg && !strcmp(arg, "0")) {
		ret = 0;
		goto store;
	}
	switch (opt->type) {
	case IOM_OPT_UINT:
		ret = iom_parse_u64(arg, (uint64_t)opt->lo, (uint64_t)opt->hi, &u);
		if (ret)
			snprintf(msg, len, "--%s: want a whole number from %.0f to %.0f", opt->name,
				 opt->lo, opt->hi);
		break;
	case IOM_OPT_SIZE:
		ret = iom_parse_size(arg, (uint64_t)opt->lo, (uint64_t)opt->hi, &u);
		if (ret)
			snprintf(msg, len, "--%s: want a size from %.0f to %.0f (4K, 1M, ...)",
				 opt->name, opt->lo, opt->hi);
		break;
	case IOM_OPT_US:
		ret = iom_parse_double(arg, opt->lo, opt->hi, &d);
		u = (uint64_t)(d * 1e3);
		if (ret)
			snprintf(msg, len, "--%s: want a number from %g to %g", opt->name, opt->lo,
				 opt->hi);
		break;
	case IOM_OPT_DURATION:
		ret = iom_parse_duration(arg, (uint64_t)(opt->lo * 1e9), (uint64_t)(opt->hi * 1e9),
					 &u);
		if (ret)
			snprintf(msg, len, "--%s: want a duration from %gs to %gs (5s, 200us, 1m)",
				 opt->name, opt->lo, opt->hi);
		break;
	default:
		break;
	}
	if (ret)
		return -EINVAL;
	if ((opt->flags & IOM_OPT_POW2) && (u & (u - 1))) {
		snprintf(msg, len, "--%s: want a power of two from %.0f to %.0f (got '%s')",
			 opt->name, opt->lo, opt->hi, arg);
		return -EINVAL;
	}
store:
	if (opt->type == IOM_OPT_UINT)
		*(unsigned int *)dst = (unsigned int)u;
	else
		*(uint64_t *)dst = u;
	return 0;
}

int iom_opt_parse(const struct iom_opt *opt, void *opts, const char *arg, char *msg, size_t len)
{
	void *dst = (char *)opts + opt->off;

	switch (opt->type) {
	case IOM_OPT_BOOL:
		return opt_bool(opt, dst, arg, msg, len);
	case IOM_OPT_ENUM:
		return opt_enum(opt, dst, arg, msg, len);
	default:
		if (!arg) {
			snprintf(msg, len, "--%s: needs a value", opt->name);
			return -EINVAL;
		}
		return opt_number(opt, dst, arg, msg, len);
	}
}

void iom_opt_format(const struct iom_opt *opt, const void *opts, char *buf, size_t len)
{
	const void *src = (const char *)opts + opt->off;
	uint64_t u = 0;
	int e;

	if (opt->type == IOM_OPT_US || opt->type == IOM_OPT_DURATION || opt->type == IOM_OPT_SIZE)
		memcpy(&u, src, sizeof(u));
	switch (opt->type) {
	case IOM_OPT_BOOL:
		snprintf(buf, len, "%s", *(const bool *)src ? "on" : "off");
		break;
	case IOM_OPT_UINT:
		snprintf(buf, len, "%u", *(const unsigned int *)src);
		break;
	case IOM_OPT_US:
		snprintf(buf, len, "%.15g", (double)u / 1e3);
		break;
	case IOM_OPT_DURATION:
		snprintf(buf, len, "%.15gus", (double)u / 1e3);
		break;
	case IOM_OPT_SIZE:
		snprintf(buf, len, "%llu", (unsigned long long)u);
		break;
	case IOM_OPT_ENUM:
		memcpy(&e, src, sizeof(e));
		snprintf(buf, len, "%s", opt->words[e]);
		break;
	}
}

void iom_opt_type_name(const struct iom_opt *opt, char *buf, size_t len)
{
	static const char *const names[] = {
		[IOM_OPT_BOOL] = "bool", [IOM_OPT_UINT] = "uint", [IOM_OPT_US] = "us",
		[IOM_OPT_DURATION] = "duration", [IOM_OPT_SIZE] = "size",
	};
	size_t used = 0;

	buf[0] = '\0';
	if (opt->type != IOM_OPT_ENUM) {
		snprintf(buf, len, "%s", names[opt->type]);
		return;
	}
	for (size_t i = 0; opt->words[i] && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "|" : "",
					 opt->words[i]);
}

const void *iom_cfg_model_opts(const struct iom_cfg *cfg)
{
	for (unsigned int i = 0; i < cfg->nr_model_opts; i++)
		if (cfg->model_opts[i].model == cfg->model)
			return cfg->model_opts[i].opts;
	return cfg->model->opts_defaults;
}
