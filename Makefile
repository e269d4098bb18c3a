# SPDX-License-Identifier: MIT
# iomodels: one non-recursive Makefile, out-of-tree build/, quiet unless V=1.
#   make            build build/iomodels          make test    run the cmocka tests
#   make check      tests under ASan+UBSan (and TSan)   make bench   the benchmark matrix
#   make deps       install the Debian packages (as root)   make clean
#   make mutate     every promise's line, broken once, must fail a test
#   make install    PREFIX=/usr/local DESTDIR= (make uninstall removes it)

BUILD   ?= build
CC      ?= cc
PYTHON  ?= /usr/bin/python3
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-format-truncation -pthread \
	   -D_GNU_SOURCE -MMD -MP -I. $(EXTRA_CFLAGS)
LDLIBS  += -luring -ljson-c -lncursesw -ltinfo -lm -pthread
TEST_LDLIBS = -lcmocka

DEB_PACKAGES = build-essential pkg-config liburing-dev libbpf-dev libcmocka-dev libjson-c-dev \
	       fio python3-matplotlib tmux libncurses-dev iproute2 bpftool clang llvm libelf-dev zlib1g-dev \
	       openmpi-bin libopenmpi-dev chromium chromium-driver python3-selenium

ifeq ($(V),1)
Q =
else
Q = @
endif

# Everything but main.c goes in a library the tests link against.
LIB_SRCS = $(wildcard core/*.c) $(wildcard cli/*.c) $(wildcard ui/*.c) $(wildcard threads/*.c) $(wildcard epoll/*.c) \
	   $(wildcard uring/*.c) $(wildcard calibrate/*.c) $(wildcard kernel_free/*.c) \
	   $(wildcard backend/*.c) $(wildcard server/*.c) $(wildcard scenario/*.c) mpi/merge.c
LIB_SRCS := $(filter-out cli/main.c,$(LIB_SRCS))
LIB_OBJS = $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB      = $(BUILD)/libiomodels.a
BIN      = $(BUILD)/iomodels
TEST_SRCS = $(wildcard tests/test_*.c)
TEST_BINS = $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TEST_HELPERS = $(BUILD)/tests/helpers.o
.SECONDARY: $(TEST_HELPERS) $(TEST_BINS:%=%.o)
# A test copy of the binary with broken models added (tests/stub_models.c): test_invariant runs it.
STUB_BIN = $(BUILD)/tests/iomodels-stub

.PHONY: all test check bench plot clean deps compare compare-fio fuzz probe-overhead check-layers \
	hotpath targets install uninstall mutate chaos soak
all: $(BIN)

# iomodels-mpi (mpi/, docs/mpi.md): the same command line with an MPI layer, built when Open
# MPI's mpicc is here; cli/main.c is compiled again with its main renamed, so the plain binary
# has no MPI in it.
MPICC     ?= mpicc
MPI_CFLAGS := $(shell $(MPICC) --showme:compile 2>/dev/null)
MPI_LIBS   := $(shell $(MPICC) --showme:link 2>/dev/null)
ifneq ($(MPI_LIBS),)
MPI_BIN  = $(BUILD)/iomodels-mpi
MPI_OBJS = $(BUILD)/mpi/main.o $(BUILD)/mpi/mpi.o $(BUILD)/mpi/cli_main.o
all: $(MPI_BIN)
$(BUILD)/mpi/main.o $(BUILD)/mpi/mpi.o: EXTRA_DEFS = $(MPI_CFLAGS)
$(BUILD)/mpi/cli_main.o: cli/main.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $< (as iom_cli_main)")
	$(Q)$(CC) $(CFLAGS) $(CLI_DEFS) -Dmain=iom_cli_main -c -o $@ $<
$(MPI_BIN): $(MPI_OBJS) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(MPI_LIBS) $(LDLIBS)
else
all: mpi-skipped
.PHONY: mpi-skipped
mpi-skipped:
	@echo "  NOTE    iomodels-mpi: skipped (no $(MPICC): apt-get install openmpi-bin libopenmpi-dev)"
endif

# eBPF probes (bpf/): CO-RE objects, vmlinux.h from this kernel's BTF, skeletons by bpftool.
# Without BTF, bpftool, clang or libbpf, core/probe_stub.c stands in (and says so when built).
BPFTOOL     ?= bpftool
BPF_CLANG   ?= clang
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
# ISA v3 for 32-bit atomics: the sched probe claims a thread's array slot with a 32-bit cmpxchg.
BPF_CPU     ?= -mcpu=v3
BPF_MISSING := $(strip $(if $(wildcard $(VMLINUX_BTF)),,$(VMLINUX_BTF)) \
	       $(if $(shell command -v $(BPFTOOL) 2>/dev/null),,bpftool) \
	       $(if $(shell command -v $(BPF_CLANG) 2>/dev/null),,clang) \
	       $(if $(wildcard /usr/include/bpf/libbpf.h),,libbpf-dev))
ifeq ($(BPF_MISSING),)
BPF_PROGS     = $(patsubst bpf/%.bpf.c,%,$(wildcard bpf/*.bpf.c))
BPF_SKELS     = $(BPF_PROGS:%=$(BUILD)/bpf/%.skel.h)
BPF_USER_SRCS = $(filter-out %.bpf.c,$(wildcard bpf/*.c))
BPF_USER_OBJS = $(BPF_USER_SRCS:%.c=$(BUILD)/%.o)
LIB_SRCS     := $(filter-out core/probe_stub.c,$(LIB_SRCS)) $(BPF_USER_SRCS)
LDLIBS       += -lbpf -lelf -lz

$(BPF_USER_OBJS): EXTRA_DEFS = -I$(BUILD)/bpf
.SECONDARY: $(BPF_PROGS:%=$(BUILD)/bpf/%.bpf.o)
$(BPF_USER_OBJS): $(BPF_SKELS) $(BUILD)/bpf/syscall_names.h

$(BUILD)/bpf/vmlinux.h:
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c >$@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BUILD)/bpf/vmlinux.h
	@$(if $(Q),echo "  BPF     $<")
	$(Q)$(BPF_CLANG) -g -O2 -target bpf $(BPF_CPU) -D__TARGET_ARCH_x86 -I$(BUILD)/bpf -Ibpf -I. \
		-MMD -MP -Wall -Werror -c -o $@ $<

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	@$(if $(Q),echo "  GEN     $@")
	$(Q)$(BPFTOOL) gen skeleton $< >$@.tmp && mv $@.tmp $@

# Syscall names by number, from this machine's <asm/unistd.h>.
$(BUILD)/bpf/syscall_names.h:
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)$(CC) -E -dM -include sys/syscall.h -x c /dev/null | \
		sed -n 's/^#define __NR_\([a-z0-9_]*\) \([0-9]*\)$$/\t[\2] = "\1",/p' >$@.tmp && \
		mv $@.tmp $@
else
$(BUILD)/core/probe_stub.o: core/probe_stub.c
	@mkdir -p $(dir $@)
	@echo "  NOTE    probes: BPF not built (missing: $(BPF_MISSING)); core/probe_stub.c stands in"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(EXTRA_DEFS) -c -o $@ $<

# The run's metadata names the commit and flags it was built from; rebuild meta.o every time.
GIT_COMMIT := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(BUILD)/core/meta.o: EXTRA_DEFS = -DIOM_GIT_COMMIT='"$(GIT_COMMIT)"' -DIOM_CFLAGS='"$(strip $(CFLAGS))"'
$(BUILD)/core/meta.o: FORCE
.PHONY: FORCE
FORCE:

# `iomodels compare` runs the bundled scripts/compare with the python this build was made for.
CLI_DEFS = -DIOM_PYTHON='"$(PYTHON)"'
$(BUILD)/cli/main.o: EXTRA_DEFS = $(CLI_DEFS)

$(LIB): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(BUILD)/cli/main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_HELPERS) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(TEST_LDLIBS) $(LDLIBS)

# A bare echo loop as a process with serve's flags: scripts/server_cost.py's floor for a server.
ECHO_BIN = $(BUILD)/tests/iom-echo
$(ECHO_BIN): $(BUILD)/tests/echo_serve.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(STUB_BIN): $(BUILD)/cli/main.o $(BUILD)/tests/stub_models.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# Tests: the layering check (ARCHITECTURE.md), every cmocka binary but TEST_SKIP's, then one
# closing line "N passed, N failed".
TEST_SKIP ?=
test: $(BIN) $(STUB_BIN) $(MPI_BIN) $(TEST_BINS)
	$(Q)$(PYTHON) scripts/check-layers
	$(Q)IOM_BIN=$(abspath $(BIN)) PYTHON=$(PYTHON) bash tests/run.sh \
		$(filter-out $(TEST_SKIP:%=$(BUILD)/tests/%),$(TEST_BINS))

# Sanitizers in their own build trees, so they never mix with the normal objects.
# test_scripts is left to the plain stage: it drives the Python scripts (plots, report, compare,
# browser) over CSVs, so a sanitizer build adds no check to it, only its 2+ minutes a stage.
check:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/asan \
		EXTRA_CFLAGS="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" TEST_SKIP=test_scripts test
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/tsan \
		EXTRA_CFLAGS="-O1 -fsanitize=thread" LDFLAGS="-fsanitize=thread" \
		IOM_TSAN=1 TEST_SKIP=test_scripts test

# make chaos [CHAOS_BUDGET=S] [CHAOS_SEED=N] [CHAOS_COUNT=N]: the fault campaign (scripts/chaos),
# random option combinations, limits and signals under the ASan+UBSan build, bounded in time
# (start no run past S seconds). A random seed unless CHAOS_SEED is given; CI fixes it.
CHAOS_BUDGET ?= 300
chaos:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/asan \
		EXTRA_CFLAGS="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" $(BUILD)/asan/iomodels
	$(Q)$(MAKE) --no-print-directory $(BIN)
	$(Q)$(PYTHON) scripts/chaos --bin $(BUILD)/asan/iomodels --plain-bin $(BIN) \
		--budget $(CHAOS_BUDGET) $(if $(CHAOS_SEED),--seed $(CHAOS_SEED)) \
		$(if $(CHAOS_COUNT),--count $(CHAOS_COUNT))

check-layers:
	$(Q)$(PYTHON) scripts/check-layers

# Mutation check: every line of tests/mutants.txt broken in a scratch copy must fail its tests.
mutate: $(BIN)
	$(Q)$(PYTHON) scripts/mutate $(ARGS)

bench: $(BIN)
	$(Q)$(PYTHON) scripts/bench $(if $(QUICK),--quick) $(ARGS)

compare-fio: $(BIN)
	$(Q)$(PYTHON) scripts/compare-fio $(ARGS)

# Where one cell's time per task goes: ours, liburing, the kernel; instructions per task.
#   make hotpath ARGS="-- --model uring --workload nop --concurrency 128 --cpus 0"
hotpath: $(BIN)
	$(Q)$(PYTHON) scripts/hotpath $(ARGS)

# Issues #14 and #16's speed targets, each as A B, B A pairs against its reference (a benchmark).
#   make targets ARGS="--rounds 3 --only nop-uring-128,server-uring"
targets: $(BIN)
	$(Q)$(PYTHON) scripts/targets $(ARGS)

# What the probes cost each model: probed vs not, alternating, in one run (a benchmark).
probe-overhead: $(BIN)
	$(Q)$(PYTHON) scripts/probe-overhead $(ARGS)

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary (the BPF probes are compiled into it),
# the scripts under share/iomodels, iomodels(1) made from the help text, bash completion.
PREFIX  ?= /usr/local
DESTDIR ?=
install: $(BIN) $(MPI_BIN)
	$(Q)PYTHON=$(PYTHON) sh dist/install $(BIN) "$(DESTDIR)" "$(PREFIX)"

uninstall:
	$(Q)sh dist/install --uninstall "$(DESTDIR)" "$(PREFIX)"

# make soak [DURATION=60s]: each server model under load, faults and abusive clients for
# DURATION; passes when RSS, fds and threads stay flat after warm-up (docs/soak.md).
DURATION ?= 60s
soak: $(BIN)
	$(Q)$(PYTHON) scripts/soak --duration $(DURATION) $(ARGS)

deps:
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y --no-install-recommends $(DEB_PACKAGES)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# make plot [RUN=results/<dir>]: figures, report.md and report.html for a run (default results/latest).
plot:
	$(Q)$(PYTHON) scripts/plot.py $(RUN)

# make compare A=RUN_A B=RUN_B [C=RUN_C] [OUT=DIR] [FORMAT=md,csv,json]: the same cells of two or
# more runs side by side (what `iomodels compare` runs).
compare:
	$(Q)$(PYTHON) scripts/compare $(A) $(B) $(C) $(if $(OUT),--output $(OUT)) \
		$(if $(FORMAT),--format $(FORMAT))

# make fuzz [FUZZ_SECONDS=60]: libFuzzer (clang), bounded in time, on the rpc frame reader, the
# servers' per-connection buffering and caps (server/conn.c, with the async store: seeds in
# tests/fuzz/conn) and the CLI's option parser (seeds in tests/fuzz/cli). A finding fails the
# target (the fuzzer's exit status, its last lines shown).
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	      -D_GNU_SOURCE -I. -pthread
FUZZ_RUN = -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(BUILD)/fuzz/
fuzz: $(LIB)
	@mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/corpus_conn $(BUILD)/fuzz/cli
	$(Q)clang $(FUZZ_CFLAGS) -o $(BUILD)/fuzz/fuzz_rpc_frame tests/fuzz/fuzz_rpc_frame.c \
		core/rpc.c core/err.c
	$(Q)$(BUILD)/fuzz/fuzz_rpc_frame $(FUZZ_RUN) -max_len=4096 $(BUILD)/fuzz/corpus \
		>$(BUILD)/fuzz/rpc_frame.log 2>&1; rc=$$?; tail -n 3 $(BUILD)/fuzz/rpc_frame.log; exit $$rc
	$(Q)clang $(FUZZ_CFLAGS) -o $(BUILD)/fuzz/fuzz_server_conn tests/fuzz/fuzz_server_conn.c \
		server/conn.c server/server.c server/async.c core/parse.c core/rpc.c core/err.c
	$(Q)$(BUILD)/fuzz/fuzz_server_conn $(FUZZ_RUN) -max_len=16384 $(BUILD)/fuzz/corpus_conn \
		tests/fuzz/conn >$(BUILD)/fuzz/server_conn.log 2>&1; rc=$$?; tail -n 3 $(BUILD)/fuzz/server_conn.log; exit $$rc
	$(Q)clang $(FUZZ_CFLAGS) -Wl,--wrap=exit -o $(BUILD)/fuzz/fuzz_cli_opts tests/fuzz/fuzz_cli_opts.c \
		$(LIB) $(LDLIBS)
	$(Q)$(BUILD)/fuzz/fuzz_cli_opts $(FUZZ_RUN) -max_len=512 -close_fd_mask=2 \
		$(BUILD)/fuzz/cli tests/fuzz/cli >$(BUILD)/fuzz/cli_opts.log 2>&1; \
		rc=$$?; tail -n 3 $(BUILD)/fuzz/cli_opts.log; exit $$rc
