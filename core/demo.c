// SPDX-License-Identifier: MIT
#include "watch.h"
int iom_demo(const struct iom_demo_opts *o) { (void)o; return 0; }
