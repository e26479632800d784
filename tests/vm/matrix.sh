#!/bin/bash
# Runs the whole suite (`make test`, in the current directory) in each
# kernel with vmtest.sh, one after the other; `host` stands for this
# machine's own kernel, without a VM. Each run's output is shown and kept
# in $VMTEST_CACHE/KERNEL.log (default build/vm/KERNEL.log). Then a line per
# kernel: its last "N passed, N failed" line, the time taken and the
# verdict; last, the total "N passed, N failed" (a kernel whose run failed
# without counting a failure adds one). Exits non-zero if any kernel failed.
#
#   tests/vm/matrix.sh [KERNEL ...]   (default: bookworm-6.1 bookworm-6.12 bullseye-5.10)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
logs=${VMTEST_CACHE:-$(cd "$here/../.." && pwd)/build/vm}
mkdir -p "$logs"
[ $# -gt 0 ] || set -- bookworm-6.1 bookworm-6.12 bullseye-5.10

summary=()
failed=0 total_passed=0 total_failed=0
for k in "$@"; do
	case $k in
	*.deb) log=$logs/$(basename "$k" .deb).log ;;
	*)     log=$logs/${k//\//-}.log ;;
	esac
	echo "matrix: $k: console in $log"
	start=$(date +%s)
	if [ "$k" = host ]; then
		make test < /dev/null 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
	else
		"$here/vmtest.sh" "$k" < /dev/null 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		# 125: the VM itself failed (no exit status came back, e.g. a
		# guest kernel crash under TCG, seen once in about 15 runs of
		# 6.12): one more boot; a test failure is never run again
		if [ "$rc" = 125 ]; then
			echo "matrix: $k: the VM failed; booting it once more"
			"$here/vmtest.sh" "$k" < /dev/null 2>&1 | tee -a "$log"
			rc=${PIPESTATUS[0]}
		fi
	fi
	took=$(($(date +%s) - start))
	counts=$(tr -d '\r' < "$log" | grep -E '^([a-z0-9]+: )?[0-9]+ passed, [0-9]+ failed' | tail -n1)
	p=0 f=0
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
	[ "$rc" = 0 ] || failed=1
	summary+=("$(printf '%-16s %-26s %4ds  %s' "$k" "${counts:-no count}" "$took" "$verdict")")
done
echo "matrix:"
printf '  %s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
exit $failed
