/* SPDX-License-Identifier: MIT */
/*
 * A model's own options, as fio's ioengines declare theirs (struct fio_option): each model has
 * a table of them (name, type, where in the model's options struct, help, range) and a struct
 * of its defaults; the command line parses `--NAME value` through the table, whatever the
 * model, and `iomodels help MODEL` prints it. The values live in the model's own struct, which
 * the model reads with iom_cfg_model_opts(); struct iom_cfg holds no model's field.
 */
#ifndef IOM_OPT_H
#define IOM_OPT_H

#include <stdbool.h>
#include <stddef.h>

enum iom_opt_type {
	IOM_OPT_BOOL,		/* bool; a switch (--NAME), or on/off/1/0 */
	IOM_OPT_UINT,		/* unsigned int, lo..hi */
	IOM_OPT_US,		/* microseconds (a decimal, lo..hi), into uint64_t nanoseconds */
	IOM_OPT_DURATION,	/* a duration (parse.h: 5s, 200us, ...), lo..hi s, into uint64_t ns */
	IOM_OPT_SIZE,		/* a size (parse.h: 4K, 1G), lo..hi, into uint64_t */
	IOM_OPT_ENUM,		/* one of words[], stored as an int: its index */
};

#define IOM_OPT_POW2	(1u << 0)	/* uint, size: a power of two only */
#define IOM_OPT_OR_ZERO	(1u << 1)	/* uint, size: 0 (the model's own choice) or lo..hi */

struct iom_opt {
	const char *name;		/* the command line's --NAME */
	enum iom_opt_type type;
	size_t off;			/* offsetof(the model's options struct, field) */
	const char *help;		/* one line */
	double lo, hi;			/* the range (not for bool, enum) */
	unsigned int flags;
	const char *const *words;	/* enum: the value's names, NULL-terminated */
};

/* A model's options for a cell: model's table applies to opts (a struct of its own type). */
struct iom_model_opts {
	const struct iom_model *model;
	void *opts;
};

/* The entry called name in a table ended by { NULL }, or NULL. */
const struct iom_opt *iom_opt_find(const struct iom_opt *table, const char *name);

/*
 * Set opt's field in opts from arg (NULL: a switch given without a value). 0, or -EINVAL with
 * one line in msg that names --NAME and what it wants.
 */
int iom_opt_parse(const struct iom_opt *opt, void *opts, const char *arg, char *msg, size_t len);

/* opt's value in opts as the parser reads it back ("off", "4096", "50", "heap"). */
void iom_opt_format(const struct iom_opt *opt, const void *opts, char *buf, size_t len);

/* "bool", "uint", "us", "duration", "size" or the enum's words ("heap|op"). */
void iom_opt_type_name(const struct iom_opt *opt, char *buf, size_t len);

/* Does the option take a value (every type but bool)? */
static inline bool iom_opt_has_arg(const struct iom_opt *opt)
{
	return opt->type != IOM_OPT_BOOL;
}

#endif
