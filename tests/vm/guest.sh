#!/bin/bash
# vmtest's second stage, PID 1 in the guest, on the overlay of the host's /
# (see init). Mounts what a booted system has, except /tmp: that stays the
# host's, writable in the overlay (a work tree or VMTEST_CACHE may be
# there). Takes the run's settings from vmtest.sh through the 9p tag
# vmshare, mounted at /run/vmtest (conf in; booted and status out), runs
# the command on the console and powers off. A setup failure powers off
# without a status.
# "A && B || fail" on purpose; guest_* come from /run/vmtest/conf
# shellcheck disable=SC2015,SC2154,SC1091
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

fail() {
	echo "vmtest guest: $*"
	busybox poweroff -f
}

mount -t proc proc /proc &&
mount -t sysfs sysfs /sys &&
mount -t devtmpfs devtmpfs /dev &&
ln -sfn /proc/self/fd /dev/fd &&	# what udev makes: bash's <(...) needs it
mkdir -p /dev/pts /dev/shm &&
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts &&
mount -t tmpfs -o mode=1777 tmpfs /dev/shm &&
mount -t tmpfs -o mode=755 tmpfs /run &&
mkdir /run/vmtest &&
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 vmshare /run/vmtest &&
source /run/vmtest/conf || fail "setup failed"

# the package's modules where modprobe looks for them. No kernel config
# file (no /boot/config-VER, Debian has no /proc/config.gz), as in a
# container: tcpkawatch must not need one.
mkdir -p "/lib/modules/$guest_kver" &&
mount --bind "$guest_moddir" "/lib/modules/$guest_kver" ||
	fail "cannot set up /lib/modules/$guest_kver"

# the work tree as vmtest.sh copied it
[ -z "$guest_tree" ] || mount --bind "$guest_copy" "$guest_tree" ||
	fail "cannot mount the copy of $guest_tree"

# the host's mounts of cgroup2, bpffs, tracefs, debugfs (and the tmpfs that
# holds a cgroup2 mount point), at the same places; cgroup2 at least
[[ "${guest_mounts[*]}" == *cgroup2* ]] || guest_mounts+=("cgroup2 /sys/fs/cgroup")
for m in "${guest_mounts[@]}"; do
	mkdir -p "${m#* }" && mount -t "${m%% *}" "${m%% *}" "${m#* }" || fail "cannot mount $m"
done

ip link set lo up || fail "cannot bring up lo"
hostname "$guest_hostname"
ulimit -Hn "${guest_nofile[1]}" && ulimit -Sn "${guest_nofile[0]}" &&
ulimit -Hl "${guest_memlock[1]}" && ulimit -Sl "${guest_memlock[0]}" || fail "cannot set ulimits"
# plain \n on the console: the host's log gets no \r
stty -onlcr

cut -d' ' -f1 /proc/uptime > /run/vmtest/booted
cd "$guest_cwd" || fail "no directory $guest_cwd"
"${guest_cmd[@]}" < "$guest_stdin"
echo $? > /run/vmtest/status
busybox poweroff -f
