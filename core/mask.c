// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>

#include "core/mask.h"

bool iom_masked(const char *feature)
{
	const char *list = getenv("IOM_MASK");
	size_t len = strlen(feature);

	while (list && *list) {
		const char *end = strchr(list, ',');
		size_t n = end ? (size_t)(end - list) : strlen(list);

		if (n == len && !strncmp(list, feature, len))
			return true;
		list = end ? end + 1 : NULL;
	}
	return false;
}
