# tcpkawatch: see README.md. `make`, `make test`, `make matrix`, `make bench`, `make install`.
#   make test SANITIZE=1   unit tests and a short end-to-end run under
#                          AddressSanitizer and UndefinedBehaviorSanitizer
#                          (built apart, in build/sanitize)
#   make analyze           cppcheck and clang-tidy (also part of make test;
#                          ANALYZE=0 leaves them out)
ifeq ($(SANITIZE),1)
OUTPUT := build/sanitize
BIN := $(OUTPUT)/tcpkawatch
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# the end-to-end tests that run under the sanitizers: every command once
E2E_TESTS ?= test_keepalive_answered test_stats_file test_keepalive_death_ipv6 \
	test_list_at_risk_and_formats test_export_scraped test_watch_with_enforce \
	test_pin_status test_bad_values test_top test_webconfig
export E2E_TESTS
export TCPKAWATCH := $(abspath $(BIN))
export TKW_BUILD := $(abspath $(OUTPUT))
ANALYZE := 0
else
OUTPUT := build
BIN := tcpkawatch
endif
ANALYZE ?= 1
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
MAN8DIR ?= $(MANDIR)/man8
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
UNITS := tcpkawatch-enforce.service tcpkawatch-export.service
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX := vmlinux/$(ARCH)/vmlinux.h

# Packagers' variables are theirs: CFLAGS, CPPFLAGS, LDFLAGS, DESTDIR,
# PREFIX, V=1 (show the commands) all work as usual; what the build itself
# needs is added apart from them.
CFLAGS ?= -O2 -g
TKW_CFLAGS := -Wall -Wextra -Werror -D_GNU_SOURCE -I$(OUTPUT) -Ibpf -Iuser -MMD -MP $(SAN_FLAGS)
ALL_CFLAGS = $(TKW_CFLAGS) $(HTTP_CFLAGS) $(CPPFLAGS) $(CFLAGS)
BPF_CFLAGS := -g -O2 -Wall -Wextra -Wno-unused-parameter -target bpf \
	-D__TARGET_ARCH_$(ARCH) -I$(dir $(VMLINUX)) -Ibpf -MMD -MP
# libbpf is linked statically: one binary with the BPF object embedded;
# export's HTTP server dynamically, as Debian ships it: libmicrohttpd, and
# for --web-config libyaml, GnuTLS (checks the certificate, hashes) and
# libcrypt (bcrypt); libcap (the capability checks) and libmnl (kill's
# inet_diag requests) likewise.
PKG_CONFIG ?= pkg-config
HTTP_PKGS := libmicrohttpd yaml-0.1 gnutls libcrypt
KILL_PKGS := libmnl
HTTP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(HTTP_PKGS) $(KILL_PKGS))
LIBS := -Wl,-Bstatic -lbpf -Wl,-Bdynamic -lelf -lz -lncurses \
	$(shell $(PKG_CONFIG) --libs $(HTTP_PKGS) $(KILL_PKGS)) -lcap -pthread

ifeq ($(V),1)
Q :=
msg := @true
else
Q := @
msg := @printf '  %-8s %s\n'
endif

BPF_OBJS := $(OUTPUT)/watch.bpf.o $(OUTPUT)/enforce.bpf.o $(OUTPUT)/list.bpf.o \
	$(OUTPUT)/kill.bpf.o
SKELS := $(BPF_OBJS:.bpf.o=.skel.h)
# Pure modules (no BPF, no libbpf): what the unit tests link, built
# without clang or bpftool. The rest load, attach or read BPF objects, or
# serve them (export's HTTP server and its web config).
PURE_SRCS := user/aggregate.c user/cgroup.c user/clock.c user/decode.c user/fields.c \
	user/output.c user/owner.c user/records.c user/series.c user/text.c user/tree.c \
	user/workload.c
BPF_USER_SRCS := user/args.c user/bpf_log.c user/bpf_read.c \
	user/enforce.c user/export.c user/kernel.c user/kill.c user/list.c user/netns.c \
	user/select.c user/snapshot.c user/sock_destroy.c user/top.c user/watch.c user/webauth.c user/webconfig.c
PURE_OBJS := $(PURE_SRCS:user/%.c=$(OUTPUT)/%.o)
LIB_OBJS := $(PURE_OBJS) $(BPF_USER_SRCS:user/%.c=$(OUTPUT)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(OUTPUT)/%)

.SECONDARY:
.PHONY: all clean install uninstall test check unit e2e bench run vmtest matrix analyze
all: $(BIN)

$(OUTPUT):
	$(Q)mkdir -p $@

# Header dependencies come from -MMD (the .d files); the skeletons must
# exist before the first compile that includes one.
$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(VMLINUX) | $(OUTPUT)
	$(msg) BPF $@
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(msg) GEN-SKEL $@
	$(Q)$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(OUTPUT)/%.o: user/%.c | $(OUTPUT)
	$(msg) CC $@
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# The skeletons exist before the first compile that may include one (after
# it, -MMD's .d files know which do).
$(OUTPUT)/tcpkawatch.o $(filter-out $(PURE_OBJS),$(LIB_OBJS)): | $(SKELS)

$(BIN): $(OUTPUT)/tcpkawatch.o $(LIB_OBJS)
	$(msg) LINK $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LIBS) -o $@

# only the pure modules: no libbpf, no skeletons
$(OUTPUT)/test_%: tests/unit/test_%.c $(PURE_OBJS) | $(OUTPUT)
	$(msg) CC $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Itests/unit $< $(PURE_OBJS) -o $@

-include $(wildcard $(OUTPUT)/*.d)

unit: $(UNIT_BINS)

# a foreign sockops program for the enforce tests
$(OUTPUT)/foreign_sockops.bpf.o: tests/e2e/foreign_sockops.bpf.c $(VMLINUX) | $(OUTPUT)
	$(msg) BPF $@
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# Unit tests, then the end-to-end tests (root: they load BPF and make
# network namespaces). The last line counts both: "N passed, N failed".
test: $(BIN) unit $(OUTPUT)/foreign_sockops.bpf.o
	tests/run.sh $(UNIT_BINS) $(if $(filter 1,$(ANALYZE)),tools/analyze.sh)

# Static analysis: the findings, and the reasons for what is left out, in
# .clang-tidy and tools/cppcheck.suppress.
analyze: $(SKELS)
	tools/analyze.sh

check: test

# The kernel matrix (tests/vm): the suite on this machine's kernel and,
# alongside, inside each of Debian's kernels under qemu, all at once
# (MATRIX_JOBS=N: N VMs at a time, 1: one after the other; root; see
# README, "Kernels").
KERNELS ?= bookworm-6.1 bookworm-6.12 bullseye-5.10
vmtest: tcpkawatch unit $(OUTPUT)/foreign_sockops.bpf.o
	tests/vm/vmtest.sh $(KERNEL)

matrix: tcpkawatch unit $(OUTPUT)/foreign_sockops.bpf.o
	tests/vm/matrix.sh host $(KERNELS)

$(OUTPUT)/churn: tests/bench/churn.c | $(OUTPUT)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< -o $@

# the bare iterator list is measured against; the hook floor (empty
# programs on watch's hooks) and attach_all, which holds them attached
BENCH_BPF := $(OUTPUT)/bare_iter.bpf.o $(OUTPUT)/hook_floor.bpf.o
BENCH_BINS := $(OUTPUT)/bare_iter $(OUTPUT)/attach_all
$(BENCH_BPF): $(OUTPUT)/%.bpf.o: tests/bench/%.bpf.c $(VMLINUX) | $(OUTPUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BENCH_BINS): $(OUTPUT)/%: tests/bench/%.c | $(OUTPUT)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(LIBS) -o $@

# Loopback churn with nothing attached, with tcpkawatch, with the hook
# floor, with libbpf-tools' tcplife and tcpstates, and BPF run times; list over
# about 100,000 sockets against ss and a bare iterator; memory per tracked
# connection; a million reset deaths through export; a 10-minute soak of
# export and watch; a million connections held under watch, with list, ss
# and a probe storm over them (root; about 27 minutes in all).
bench: tcpkawatch $(OUTPUT)/churn $(BENCH_BINS) $(BENCH_BPF)
	python3 tests/bench/churn.py
	python3 tests/bench/list.py
	python3 tests/bench/memory.py
	python3 tests/bench/resets.py
	python3 tests/bench/soak.py
	python3 tests/bench/million.py

run: tcpkawatch
	./tcpkawatch

# The binary, the man page tcpkawatch(8), the bash completion and the
# systemd units (their ExecStart= and ExecStop= naming the binary where it
# goes); DESTDIR and PREFIX as usual, each directory apart if need be
# (SBINDIR, MANDIR or MAN8DIR, BASHCOMPDIR, SYSTEMDUNITDIR). uninstall
# removes those files.
install: tcpkawatch
	install -D -m 0755 tcpkawatch $(DESTDIR)$(SBINDIR)/tcpkawatch
	install -D -m 0644 doc/tcpkawatch.8 $(DESTDIR)$(MAN8DIR)/tcpkawatch.8
	install -D -m 0644 tools/bash-completion/tcpkawatch $(DESTDIR)$(BASHCOMPDIR)/tcpkawatch
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	for u in $(UNITS); do \
		sed 's|/usr/local/sbin/tcpkawatch|$(SBINDIR)/tcpkawatch|' tools/systemd/$$u \
			> $(DESTDIR)$(SYSTEMDUNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/tcpkawatch $(DESTDIR)$(MAN8DIR)/tcpkawatch.8 \
		$(DESTDIR)$(BASHCOMPDIR)/tcpkawatch $(UNITS:%=$(DESTDIR)$(SYSTEMDUNITDIR)/%)

clean:
	rm -rf $(OUTPUT) tcpkawatch
