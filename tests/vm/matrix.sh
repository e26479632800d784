#!/bin/bash
# Runs the whole suite (`make test`, in the current directory) in each
# kernel with vmtest.sh, MATRIX_JOBS VMs at a time (default all); `host`
# stands for this machine's own kernel, without a VM, and runs alongside
# from the start (it needs little CPU). Each run's console goes to
# $VMTEST_CACHE/KERNEL.log (default build/vm/KERNEL.log), not to the
# terminal, where parallel runs would interleave; a line per kernel is
# printed as it finishes: its last
# "N passed, N failed" line, the time taken and the verdict, followed by
# its whole console when it did not pass. Last, the table of all kernels in
# the order given and the total "N passed, N failed" (a kernel whose run
# failed without counting a failure adds one). Exits non-zero if any kernel
# failed.
#
#   tests/vm/matrix.sh [KERNEL ...]   (default: bookworm-6.1 bookworm-6.12 bullseye-5.10)
#
# Under TCG a guest keeps most of a host CPU busy (0.75 CPU for the
# suite). With more than one VM at a time each VM is one host thread
# (VMTEST_ACCEL=tcg,thread=single: two guest CPUs taking turns): qemu's
# one thread per guest CPU (thread=multi, vmtest.sh's default), more
# threads than the machine's CPUs, made every guest several times slower.
# All at once is the default: the guests are slower then (2 shared CPUs),
# and the suite is written for that (README, "The kernel matrix");
# MATRIX_JOBS=1 runs them one after the other.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
logs=${VMTEST_CACHE:-$(cd "$here/../.." && pwd)/build/vm}
mkdir -p "$logs"
[ $# -gt 0 ] || set -- bookworm-6.1 bookworm-6.12 bullseye-5.10
nvms=0
for k in "$@"; do [ "$k" = host ] || nvms=$((nvms + 1)); done
jobs=${MATRIX_JOBS:-$((nvms > 1 ? nvms : 1))}
[ "$jobs" -ge 1 ] 2>/dev/null || { echo "matrix: MATRIX_JOBS must be a number >= 1" >&2; exit 2; }
[ "$jobs" = 1 ] || export VMTEST_ACCEL=${VMTEST_ACCEL:-tcg,thread=single}

logname() {
	case $1 in
	*.deb) echo "$logs/$(basename "$1" .deb)" ;;
	*)     echo "$logs/${1//\//-}" ;;
	esac
}

# One kernel's run, in the background: console to its log, then
# "EXIT-STATUS SECONDS" to its .rc file.
run_one() {
	local k=$1 log rc start
	log=$(logname "$k").log
	start=$(date +%s)
	if [ "$k" = host ]; then
		make test > "$log" 2>&1 < /dev/null
		rc=$?
	else
		"$here/vmtest.sh" "$k" > "$log" 2>&1 < /dev/null
		rc=$?
		# 125: the VM itself failed (no exit status came back, e.g. a
		# guest kernel crash under TCG, seen once in about 15 runs of
		# 6.12): one more boot; a test failure is never run again
		if [ "$rc" = 125 ]; then
			echo "matrix: $k: the VM failed ($(grep '^vmtest: ' "$log" | tail -n1)); booting it once more" |
				tee -a "$log"
			"$here/vmtest.sh" "$k" >> "$log" 2>&1 < /dev/null
			rc=$?
		fi
	fi
	echo "$rc $(($(date +%s) - start))" > "$(logname "$k").rc"
}

declare -A line=() pid_of=()
vms=0	# VMs running
failed=0 total_passed=0 total_failed=0
# Reads a finished kernel's .rc and log: prints its line (and its console
# if it failed), adds its counts to the total.
report() {
	local k=$1 log rc took counts p=0 f=0 verdict
	log=$(logname "$k").log
	read -r rc took < "$(logname "$k").rc" 2>/dev/null || { rc=125 took=0; }
	counts=$(tr -d '\r' < "$log" | grep -E '^([a-z0-9]+: )?[0-9]+ passed, [0-9]+ failed' | tail -n1)
	[ -z "$counts" ] || read -r p f < <(echo "$counts" | awk '{ print $(NF-3), $(NF-1) }')
	# a failed run that counted no failure (cut short) is one
	[ "$rc" = 0 ] || [ "$f" -gt 0 ] || f=1
	total_passed=$((total_passed + p)) total_failed=$((total_failed + f))
	case $rc in
	0)   verdict=ok ;;
	124) verdict="TIMEOUT" ;;
	125) verdict="VM FAILED ($(grep '^vmtest: ' "$log" | tail -n1))" ;;
	*)   verdict="FAILED (exit $rc)" ;;
	esac
	line[$k]=$(printf '%-16s %-26s %4ds  %s' "$k" "${counts:-no count}" "$took" "$verdict")
	echo "matrix: ${line[$k]}"
	if [ "$rc" != 0 ]; then
		failed=1
		echo "matrix: $k: its console ($log):"
		sed "s/^/$k| /" "$log"
	fi
}

stop_all() {
	local p
	# each run's children first (vmtest.sh stops its VM on TERM)
	for p in "${!pid_of[@]}"; do pkill -TERM -P "$p"; kill "$p" 2>/dev/null; done
	wait
	exit "$1"
}
trap 'stop_all 130' INT
trap 'stop_all 143' TERM

start=$(date +%s)
next=1
while [ "$next" -le $# ] || [ ${#pid_of[@]} -gt 0 ]; do
	if [ "$next" -le $# ]; then
		k=${!next}
		if [ "$k" = host ] || [ "$vms" -lt "$jobs" ]; then
			next=$((next + 1))
			[ "$k" = host ] || vms=$((vms + 1))
			rm -f "$(logname "$k").rc"
			echo "matrix: $k: started, console in $(logname "$k").log"
			run_one "$k" &
			pid_of[$!]=$k
			continue
		fi
	fi
	done_pid=''
	wait -n -p done_pid
	[ -n "$done_pid" ] || continue
	[ "${pid_of[$done_pid]}" = host ] || vms=$((vms - 1))
	report "${pid_of[$done_pid]}"
	unset "pid_of[$done_pid]"
done

echo "matrix: $# kernels, $jobs VMs at a time, $(($(date +%s) - start))s:"
for k in "$@"; do
	echo "  ${line[$k]}"
done
echo "$total_passed passed, $total_failed failed"
exit $failed
