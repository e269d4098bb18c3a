// SPDX-License-Identifier: MIT
/* The table of models: the only place that names every one. */
#include <string.h>

#include "core/model.h"

extern const struct iom_model iom_model_threads;
extern const struct iom_model iom_model_epoll;
extern const struct iom_model iom_model_uring;
extern const struct iom_model iom_model_kernel_free;

const struct iom_model *const iom_models[] = {
	&iom_model_threads,
	&iom_model_epoll,
	&iom_model_uring,
	&iom_model_kernel_free,
	NULL,
};

const struct iom_model *const *iom_models_extra;

const struct iom_model *iom_model_find(const char *name)
{
	for (size_t i = 0; iom_models[i]; i++)
		if (!strcmp(iom_models[i]->name, name))
			return iom_models[i];
	for (size_t i = 0; iom_models_extra && iom_models_extra[i]; i++)
		if (!strcmp(iom_models_extra[i]->name, name))
			return iom_models_extra[i];
	return NULL;
}

const struct iom_model *iom_model_pick(unsigned int want, unsigned int avoid,
				       enum iom_wl_kind wl)
{
	const struct iom_model *best = NULL;

	for (size_t i = 0; iom_models[i]; i++) {
		const struct iom_model *m = iom_models[i];
		struct iom_err err = { "" };

		if ((m->caps & want) != want || (m->caps & avoid) ||
		    (best && __builtin_popcount(m->caps) <= __builtin_popcount(best->caps)))
			continue;
		if (m->probe(wl, &err) == 0)
			best = m;
	}
	return best;
}
