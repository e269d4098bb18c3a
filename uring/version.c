// SPDX-License-Identifier: MIT
/* Which liburing this build uses, for run.json and --version. */
#include <liburing.h>
#include <stdio.h>
#include <string.h>

#include "uring/uring.h"

/*
 * liburing 2.4+ exports its version as macros; 2.3 (Debian 12) does not, so ask dpkg which
 * package the headers came from. popen is fine here: this runs once, before any measurement.
 */
void iom_uring_lib_version(char *buf, size_t len)
{
#ifdef IO_URING_VERSION_MAJOR
	snprintf(buf, len, "%d.%d (headers)", IO_URING_VERSION_MAJOR, IO_URING_VERSION_MINOR);
#else
	char ver[64] = "";
	FILE *p = popen("dpkg-query -W -f='${Version}' liburing-dev 2>/dev/null", "r");

	if (p) {
		if (!fgets(ver, sizeof(ver), p))
			ver[0] = '\0';
		ver[strcspn(ver, "\n")] = '\0';
		/* A failed query may still print; only an exit status of 0 counts. */
		if (pclose(p) != 0)
			ver[0] = '\0';
	}
	if (ver[0])
		snprintf(buf, len, "%s (dpkg liburing-dev)", ver);
	else
		snprintf(buf, len, "unknown");
#endif
}
