#!/bin/bash
# Sets up a fresh Debian or Ubuntu machine and runs a make target:
# installs the packages that are missing (apt-get), then
#   tools/bootstrap.sh run [OPTIONS]   builds and runs tcpkawatch OPTIONS
#   tools/bootstrap.sh test            builds and runs every test, on this
#                                      kernel and in Debian's under qemu
#   tools/bootstrap.sh bench           builds and runs the benchmarks
# tcpkawatch and its tests load BPF programs: run by another user, it
# runs itself again through sudo.
set -eu
if [ "$(id -u)" != 0 ]; then
	exec sudo -- "$0" "$@"
fi
cd "$(dirname "$0")/.."

# build: compiler, BPF toolchain, libbpf, export's libmicrohttpd and its
# --web-config's libyaml, GnuTLS and libcrypt, kill's libmnl; tests: nft, ip/ss/nstat,
# python3, sysctl, setpriv, prometheus and promtool (export, and deploy/'s
# rules and dashboard), python3-yaml (deploy/'s manifests), openssl and
# curl (export's TLS), tmux (top), groff and mandoc (the man page's lint),
# cppcheck and clang-tidy (static analysis); podman, runc (crun refuses a
# hybrid cgroup layout) and mmdebstrap (the container image's test makes
# its Debian base images: no registry may be reachable);
# the kernel matrix: qemu, a static busybox for its initramfs, depmod and
# modprobe, and the decompressors of kernel modules; the benchmarks:
# libbpf-tools (tcplife and tcpstates, the churn benchmark's other observers)
PKGS="make gcc clang llvm libbpf-dev libelf-dev zlib1g-dev libncurses-dev libmicrohttpd-dev libcap-dev pkg-config
      libyaml-dev libgnutls28-dev libcrypt-dev libmnl-dev
      bpftool nftables iproute2 python3 python3-yaml procps util-linux prometheus openssl curl tmux
      groff-base mandoc cppcheck clang-tidy podman runc mmdebstrap
      qemu-system-x86 busybox-static kmod xz-utils zstd
      libbpf-tools"

missing=()
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update -q
	# Ubuntu ships bpftool in linux-tools, not as a package of its own
	if [[ " ${missing[*]} " == *" bpftool "* ]] && ! apt-cache show bpftool >/dev/null 2>&1; then
		missing=("${missing[@]/bpftool/linux-tools-common}" "linux-tools-$(uname -r)")
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

target=${1:-run}
[ $# -gt 0 ] && shift
case $target in
run)	make -s && exec ./tcpkawatch "$@" ;;
test)	exec make matrix ;;
*)	exec make "$target" ;;
esac
