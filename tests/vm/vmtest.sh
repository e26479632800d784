#!/bin/bash
# Runs a command (by default `make test`, the whole suite) as root inside a
# Debian kernel booted under qemu, in the current directory, and exits with
# the command's exit status.
#
#   tests/vm/vmtest.sh KERNEL [--] [COMMAND ...]
#
# KERNEL is one of the names in the table below, SUITE/METAPACKAGE (any
# Debian suite and kernel image package, e.g. trixie/linux-image-amd64), or
# the path of a linux-image .deb. To add a named kernel, add a line to the
# table: name, Debian suite, the metapackage that depends on its image.
# The package is fetched with apt through a private sources list and state
# directory (the host's apt setup is neither used nor touched), unpacked
# with dpkg-deb into $VMTEST_CACHE/NAME (default build/vm/NAME) and reused
# from there; nothing is installed. Without the network, the last unpacked
# one is used.
#
# The guest sees this machine's / read-only over 9p under a tmpfs overlay
# (writes go to the guest's memory and are lost), except that the git work
# tree around the current directory is a copy taken at the start (the host
# can go on editing and building). The package's modules are at
# /lib/modules/VER (modprobe works); there is no kernel config file, as in
# a container (the host's /boot has none for the guest's kernel). The
# guest mounts what this machine has mounted of cgroup2, bpffs, tracefs
# and debugfs at the same places, and runs COMMAND
# with this shell's environment, ulimit -n and -l, and hostname. See init
# (the initramfs) and guest.sh (the rest of the boot).
#
# Exit status: COMMAND's; 124 when the run took longer than VMTEST_TIMEOUT
# seconds (default 1200); 125 when the VM could not be set up or booted.
# VMTEST_SMP (default 2) is the guest's CPUs, VMTEST_ACCEL (default
# tcg,thread=multi: a host thread per guest CPU) qemu's -accel; matrix.sh
# sets tcg,thread=single when VMs run side by side.
# Needs qemu-system-x86 busybox-static kmod (and apt, dpkg, xz-utils) on
# the host. Under TCG (KVM does not work on these machines) a boot takes
# seconds and each process start most of a second: timings in tests stretch.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
die() { echo "vmtest: $*" >&2; exit 125; }
# a failure of this script's own must not pass for COMMAND's exit status
trap 'die "line $LINENO: $BASH_COMMAND failed"' ERR

[ $# -ge 1 ] || die "usage: $0 KERNEL [--] [COMMAND ...]"
kernel=$1
shift
[ "${1:-}" = -- ] && shift
# the suite without the static analysis: its result does not depend on
# the kernel, and the host's run has it
[ $# -gt 0 ] || set -- make test ANALYZE=0
timeout_s=${VMTEST_TIMEOUT:-1200}
smp=${VMTEST_SMP:-2} accel=${VMTEST_ACCEL:-tcg,thread=multi}
cache_base=${VMTEST_CACHE:-$(cd "$here/../.." && pwd)/build/vm}

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found: apt-get install qemu-system-x86"
busybox=$(command -v busybox) || die "busybox not found: apt-get install busybox-static"
# the initramfs has no libraries: a dynamically linked busybox cannot run
ldd "$busybox" >/dev/null 2>&1 && die "$busybox is dynamically linked: apt-get install busybox-static"
command -v depmod >/dev/null || die "depmod not found: apt-get install kmod"

tmp=$(mktemp -d /tmp/vmtest.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# resolve KERNEL: sets name, and suite and meta (or deb)
suite='' meta='' deb=''
case $kernel in
*.deb)
	[ -f "$kernel" ] || die "no such file: $kernel"
	deb=$(realpath "$kernel")
	name=$(basename "$kernel" .deb) ;;
*/*)
	suite=${kernel%%/*} meta=${kernel#*/} name=${kernel//\//-} ;;
*)
	name=$kernel
	#  name            suite     metapackage
	read -r suite meta < <(awk -v k="$kernel" '$1 == k { print $2, $3 }' <<'EOF'
bookworm-6.1   bookworm  linux-image-amd64
bookworm-6.12  bookworm  linux-image-6.12-amd64
bullseye-5.10  bullseye  linux-image-amd64
EOF
	) || die "unknown kernel '$kernel': bookworm-6.1, bookworm-6.12, bullseye-5.10, SUITE/METAPACKAGE or a .deb file" ;;
esac
cache=$cache_base/$name
root=$cache/root	# the unpacked package; root/.package says which
mkdir -p "$cache"

# apt with a sources list and state of its own, for one suite
apt_private() {
	local cmd=$1
	shift
	"$cmd" -q -o Dir::Etc::sourcelist="$cache/apt/sources.list" \
		-o Dir::Etc::sourceparts=- -o Dir::Etc::preferences=/dev/null \
		-o Dir::Etc::preferencesparts="$cache/apt/preferences.d" \
		-o Dir::State="$cache/apt/state" -o Dir::Cache="$cache/apt/cache" \
		-o Acquire::Languages=none -o APT::Sandbox::User=root \
		-o Acquire::Check-Valid-Until=false "$@"
}

# The image package that SUITE's META depends on today, or nothing when no
# mirror answers. Suites that left deb.debian.org are on archive.debian.org
# (whose Release files have expired: hence Check-Valid-Until=false).
current_package() {
	local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg pkg
	mkdir -p "$cache/apt/state/lists/partial" "$cache/apt/cache/archives/partial" \
		"$cache/apt/preferences.d"
	for mirror in http://deb.debian.org http://archive.debian.org; do
		cat > "$cache/apt/sources.list" <<-EOF
		deb [arch=amd64 signed-by=$keyring] $mirror/debian $suite main
		deb [arch=amd64 signed-by=$keyring] $mirror/debian $suite-updates main
		deb [arch=amd64 signed-by=$keyring] $mirror/debian-security $suite-security main
		EOF
		apt_private apt-get update >"$tmp/apt.log" 2>&1 || true
		pkg=$(apt_private apt-cache depends "$meta" 2>/dev/null | awk '/Depends:/ { print $2; exit }')
		if [ -n "$pkg" ]; then
			echo "$pkg $(apt_private apt-cache show --no-all-versions "$pkg" | awk '/^Version:/ { print $2 }')"
			return
		fi
	done
}

if [ -n "$deb" ]; then
	want=$(dpkg-deb -W --showformat='${Package} ${Version}' "$deb")
else
	want=$(current_package)
	if [ -z "$want" ]; then
		[ -f "$root/.package" ] || { cat "$tmp/apt.log" >&2; die "cannot resolve $suite's $meta (no mirror answered)"; }
		want=$(cat "$root/.package")
		echo "vmtest: no mirror answered: using the cached $want" >&2
	fi
fi
if [ "$(cat "$root/.package" 2>/dev/null)" != "$want" ]; then
	echo "vmtest: fetching and unpacking $want into $root" >&2
	rm -rf "$cache/new"
	mkdir -p "$cache/new"
	if [ -z "$deb" ]; then
		(cd "$tmp" && apt_private apt-get download "${want%% *}" >"$tmp/apt.log" 2>&1) ||
			{ cat "$tmp/apt.log" >&2; die "cannot download ${want%% *}"; }
		deb=$(echo "$tmp"/*.deb)
	fi
	dpkg-deb -x "$deb" "$cache/new"
	# Debian's packages leave modules.dep to depmod in the postinst
	for base in "$cache/new" "$cache/new/usr"; do
		[ -d "$base/lib/modules" ] || continue
		depmod -b "$base" "$(ls "$base/lib/modules")"
	done
	echo "$want" > "$cache/new/.package"
	rm -rf "$root"
	mv "$cache/new" "$root"
fi

moddir=''
for d in "$root"/lib/modules/* "$root"/usr/lib/modules/*; do
	[ -d "$d" ] && moddir=$d
done
[ -n "$moddir" ] || die "no lib/modules in $want"
kver=$(basename "$moddir")
[ -f "$root/boot/vmlinuz-$kver" ] || die "no boot/vmlinuz-$kver in $want"

# The initramfs: static busybox, /init, and the modules that mounting the
# host's root needs, in load order, decompressed (busybox insmod takes
# plain .ko only; Debian compresses them in some releases).
mkdir -p "$tmp/initrd/bin" "$tmp/initrd/mod" "$tmp/share"
cp "$busybox" "$tmp/initrd/bin/busybox"
cp "$here/init" "$tmp/initrd/init"
modprobe -d "${moddir%/lib/modules/*}" -S "$kver" --show-depends \
	-a virtio_pci 9pnet_virtio 9p overlay | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' |
while read -r ko; do
	out=$tmp/initrd/mod/$(basename "$ko" | sed 's/\.ko\..*/.ko/')
	case $ko in
	*.ko.xz)  xz -dc "$ko" > "$out" ;;
	*.ko.zst) zstd -qdc "$ko" > "$out" ;;
	*.ko.gz)  gzip -dc "$ko" > "$out" ;;
	*)        cp "$ko" "$out" ;;
	esac
	basename "$out" >> "$tmp/initrd/modules"
done
[ -s "$tmp/initrd/modules" ] || die "no virtio/9p/overlay modules in $want"
echo "$here/guest.sh" > "$tmp/initrd/stage2"
(cd "$tmp/initrd" && find . | "$busybox" cpio -o -H newc 2>/dev/null) > "$tmp/initrd.cpio"

# A copy of the git work tree around the current directory (less the
# kernel cache), which the guest mounts at the tree's own path: files that
# the host rebuilds during a run would reach the guest half old, half new
# (9p keeps pages of the old file cached), which breaks binaries.
tree=$(git rev-parse --show-toplevel 2>/dev/null) || tree=''
if [ -n "$tree" ]; then
	mkdir "$tmp/tree"
	# make matrix runs the suite on the host in the same tree meanwhile:
	# a file that changes or goes while tar reads it (python's
	# __pycache__) is no failure (GNU tar's exit status 1)
	(tar -C "$tree" --exclude="./${cache_base#"$tree"/}" --ignore-failed-read \
		--warning=no-file-changed --warning=no-file-removed -cf - . || [ $? = 1 ]) |
		tar -C "$tmp/tree" -xf -
fi

# A terminal types into the guest's console, COMMAND's stdin; otherwise
# COMMAND's stdin is /dev/null (the console would never end a read).
if [ -t 0 ]; then
	console_in=/dev/stdin guest_stdin=/dev/console
else
	console_in=/dev/null guest_stdin=/dev/null
fi

# What guest.sh needs, for bash to source: the command, where to run it,
# this shell's environment, limits and mounts, the kernel's files.
{
	export -p | grep -vE '^declare -x (PWD|OLDPWD|SHLVL|_)='
	# python3 as the host resolves it here, ahead of a wrapper such as
	# pyenv's shim (a bash script: 3 s a start under TCG, 0.7 s without)
	if py=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) &&
		[ "$(dirname "$py")" != "$(dirname "$(command -v python3)")" ]; then
		printf 'PATH=%q:$PATH\n' "$(dirname "$py")"
	fi
	printf 'guest_cmd=(%s)\n' "$(printf '%q ' "$@")"
	printf 'guest_cwd=%q guest_tree=%q guest_copy=%q\n' "$PWD" "$tree" "$tmp/tree"
	printf 'guest_stdin=%s\n' "$guest_stdin"
	printf 'guest_kver=%q guest_moddir=%q\n' "$kver" "$moddir"
	printf 'guest_hostname=%q\n' "$(hostname)"
	printf 'guest_nofile=(%s %s) guest_memlock=(%s %s)\n' \
		"$(ulimit -Sn)" "$(ulimit -Hn)" "$(ulimit -Sl)" "$(ulimit -Hl)"
	# "TYPE MOUNTPOINT" lines; a tmpfs under /sys holds a cgroup2 mount
	# point such as /sys/fs/cgroup/unified (the hybrid cgroup layout)
	echo 'guest_mounts=('
	awk '$2 ~ "^/sys/" && $3 ~ /^(tmpfs|cgroup2|bpf|tracefs|debugfs)$/ { print "\"" $3, $2 "\"" }' /proc/mounts
	echo ')'
} > "$tmp/share/conf"

echo "vmtest: booting $want ($kver): $*" >&2
start=$(date +%s)
# -cpu max: TCG's fullest CPU model. mitigations=off: page-table isolation
# and friends cost much more under TCG than on hardware. 9p's multidevs=remap
# keeps inode numbers unique across the host's mounts seen through /.
timeout --foreground -k 10 "$timeout_s" qemu-system-x86_64 \
	-accel "$accel" -cpu max -smp "$smp" -m 4G \
	-nodefaults -display none -no-reboot -serial stdio \
	-kernel "$root/boot/vmlinuz-$kver" -initrd "$tmp/initrd.cpio" \
	-append "console=ttyS0 panic=-1 quiet mitigations=off" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$tmp/share",mount_tag=vmshare,security_model=none < "$console_in" &
# in the background, so that a signal to this script stops the VM at once,
# not after it
vm=$!
stop_vm() { kill "$vm" 2>/dev/null || :; wait "$vm" || :; exit "$1"; }
trap 'stop_vm 130' INT
trap 'stop_vm 143' TERM
rc=0
wait $vm || rc=$?
took=$(($(date +%s) - start))

if [ $rc = 124 ] || [ $rc = 137 ]; then
	echo "vmtest: timed out after ${timeout_s}s (VMTEST_TIMEOUT)" >&2
	exit 124
fi
[ -f "$tmp/share/status" ] || die "the guest ended without an exit status (qemu exit $rc, ${took}s): see the console output above"
status=$(cat "$tmp/share/status")
echo "vmtest: $kver: exit status $status; booted in $(cat "$tmp/share/booted")s, ${took}s in all" >&2
exit "$status"
