#!/bin/sh
# Runs the unit test binaries given as arguments, then the end-to-end tests
# (as root), and prints one closing line adding them up: "N passed, N failed".
# E2E=0 skips the end-to-end tests; E2E_TESTS="name ..." picks some.
cd "$(dirname "$0")/.." || exit 1
log=$(mktemp)
out=$(mktemp)
trap 'rm -f "$log" "$out"' EXIT

# One suite: its output counts; a crash before its closing line is a failure.
suite() {
	"$@" > "$out" 2>&1
	rc=$?
	cat "$out"
	cat "$out" >> "$log"
	if [ $rc -ne 0 ] && ! grep -q "passed, [0-9]* failed" "$out"; then
		echo "crashed: 0 passed, 1 failed" | tee -a "$log"
	fi
}

for t in "$@"; do
	suite "$t"
done
if [ "${E2E:-1}" != 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "e2e: needs root (it loads BPF and makes network namespaces)"
		echo "e2e: 0 passed, 1 failed" >> "$log"
	else
		# One end-to-end run at a time on a machine: the tests attach
		# system-wide and count the kernel's own counters.
		exec 9> /run/tcpkawatch-e2e.lock
		flock 9
		# shellcheck disable=SC2086
		suite python3 tests/e2e/run.py $E2E_TESTS
		exec 9>&-
	fi
fi
awk '/^[a-z0-9]+: [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
	END { printf "%d passed, %d failed\n", p, f; exit f ? 1 : 0 }' "$log"
