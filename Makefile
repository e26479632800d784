# tcpkawatch: see README.md. `make`, `make test`, `make matrix`, `make bench`, `make install`.
OUTPUT := build
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
PREFIX ?= /usr/local
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX := vmlinux/$(ARCH)/vmlinux.h

# Packagers' variables are theirs: CFLAGS, CPPFLAGS, LDFLAGS, DESTDIR,
# PREFIX, V=1 (show the commands) all work as usual; what the build itself
# needs is added apart from them.
CFLAGS ?= -O2 -g
TKW_CFLAGS := -Wall -Wextra -Werror -D_GNU_SOURCE -I$(OUTPUT) -Ibpf -Iuser -MMD -MP
ALL_CFLAGS = $(TKW_CFLAGS) $(CPPFLAGS) $(CFLAGS)
BPF_CFLAGS := -g -O2 -Wall -Wextra -Wno-unused-parameter -target bpf \
	-D__TARGET_ARCH_$(ARCH) -I$(dir $(VMLINUX)) -Ibpf -MMD -MP
# libbpf is linked statically: one binary with the BPF object embedded.
LIBS := -Wl,-Bstatic -lbpf -Wl,-Bdynamic -lelf -lz -lncurses

ifeq ($(V),1)
Q :=
msg := @true
else
Q := @
msg := @printf '  %-8s %s\n'
endif

BPF_OBJS := $(OUTPUT)/watch.bpf.o $(OUTPUT)/enforce.bpf.o $(OUTPUT)/list.bpf.o
SKELS := $(BPF_OBJS:.bpf.o=.skel.h)
LIB_SRCS := user/args.c user/decode.c user/aggregate.c user/output.c \
	user/owner.c user/kernel.c user/enforce.c user/list.c \
	user/snapshot.c user/export.c user/watch.c \
	user/top.c user/text.c
LIB_OBJS := $(LIB_SRCS:user/%.c=$(OUTPUT)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(OUTPUT)/%)

.SECONDARY:
.PHONY: all clean install uninstall test check unit e2e bench run vmtest matrix
all: tcpkawatch

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

$(OUTPUT)/%.o: user/%.c | $(SKELS) $(OUTPUT)
	$(msg) CC $@
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

tcpkawatch: $(OUTPUT)/tcpkawatch.o $(LIB_OBJS)
	$(msg) LINK $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LIBS) -o $@

$(OUTPUT)/test_%: tests/unit/test_%.c $(LIB_OBJS) | $(OUTPUT)
	$(msg) CC $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Itests/unit $< $(LIB_OBJS) $(LIBS) -o $@

-include $(wildcard $(OUTPUT)/*.d)

unit: $(UNIT_BINS)

# a foreign sockops program for the enforce tests
$(OUTPUT)/foreign_sockops.bpf.o: tests/e2e/foreign_sockops.bpf.c $(VMLINUX) | $(OUTPUT)
	$(msg) BPF $@
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# Unit tests, then the end-to-end tests (root: they load BPF and make
# network namespaces). The last line counts both: "N passed, N failed".
test: tcpkawatch unit $(OUTPUT)/foreign_sockops.bpf.o
	tests/run.sh $(UNIT_BINS)

check: test

# The kernel matrix (tests/vm): the suite on this machine's kernel and,
# alongside, inside each of Debian's kernels under qemu, one after the
# other (MATRIX_JOBS=N: N VMs at a time; root; see README, "Kernels").
KERNELS ?= bookworm-6.1 bookworm-6.12 bullseye-5.10
vmtest: tcpkawatch unit $(OUTPUT)/foreign_sockops.bpf.o
	tests/vm/vmtest.sh $(KERNEL)

matrix: tcpkawatch unit $(OUTPUT)/foreign_sockops.bpf.o
	tests/vm/matrix.sh host $(KERNELS)

$(OUTPUT)/churn: tests/bench/churn.c | $(OUTPUT)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< -o $@

$(OUTPUT)/bare_iter.bpf.o: tests/bench/bare_iter.bpf.c $(VMLINUX) | $(OUTPUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/bare_iter: tests/bench/bare_iter.c | $(OUTPUT)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(LIBS) -o $@

# Loopback churn with and without tcpkawatch, and BPF run times; list over
# about 100,000 sockets against ss and a bare iterator; memory per tracked
# connection (root).
bench: tcpkawatch $(OUTPUT)/churn $(OUTPUT)/bare_iter $(OUTPUT)/bare_iter.bpf.o
	python3 tests/bench/churn.py
	python3 tests/bench/list.py
	python3 tests/bench/memory.py

run: tcpkawatch
	./tcpkawatch

install: tcpkawatch
	install -D -m 0755 tcpkawatch $(DESTDIR)$(PREFIX)/sbin/tcpkawatch

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/tcpkawatch

clean:
	rm -rf $(OUTPUT) tcpkawatch
