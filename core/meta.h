/* SPDX-License-Identifier: MIT */
/*
 * Machine metadata for run.json: kernel, CPU, idle and frequency policy, mitigations, library
 * versions and the filesystem under test, so two runs can be compared knowing what differed.
 */
#ifndef IOM_META_H
#define IOM_META_H

#include "report.h"

/*
 * Record every key with iom_report_meta_str/num. Each value is read from the machine at call
 * time; a source that is absent is recorded as a string saying so (e.g. "absent"), never
 * guessed. file_dir (may be NULL) adds fs_type, fs_device, fs_model, fs_scheduler and
 * fs_rotational for the filesystem holding it. models (a NULL-ended list, may be NULL) add
 * each one's library version ("liburing_version"); libbpf's comes from the probes.
 */
struct iom_model;
void iom_meta_collect(struct iom_report *r, const char *file_dir,
		      const struct iom_model *const *models);

/* What this binary was built from: `git describe --always --dirty`, or "unknown". */
const char *iom_meta_git_commit(void);

#endif
