#!/bin/sh
# Static analysis of user/ and tests/unit/: cppcheck and clang-tidy (their
# checks, and the reasons for what is left out, in tools/cppcheck.suppress
# and .clang-tidy: the one place findings are justified). Needs the
# skeletons (make), which the sources include. Prints the findings and
# "analyze: N passed, N failed" (one per tool).
cd "$(dirname "$0")/.." || exit 1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
passed=0 failed=0

tool() {
	name=$1
	shift
	if ! command -v "$1" > /dev/null; then
		echo "analyze: $1 not found (tools/bootstrap.sh installs it)"
		failed=$((failed + 1))
		return
	fi
	"$@" > "$out" 2>&1
	# bpftool's generated skeletons are not ours to fix
	findings=$(grep -E '(warning|error|style|performance|portability):' "$out" |
		grep -v '^build/\|/build/[a-z_]*\.skel\.h:')
	if [ -n "$findings" ]; then
		echo "$name:"
		echo "$findings"
		failed=$((failed + 1))
	else
		passed=$((passed + 1))
	fi
}

srcs="user/*.c tests/unit/*.c"
# shellcheck disable=SC2086
tool cppcheck cppcheck --quiet --std=c11 --max-configs=1 -D__x86_64__ -D_GNU_SOURCE \
	--enable=warning,style,performance,portability --inline-suppr \
	--suppressions-list=tools/cppcheck.suppress -Iuser -Ibpf -Itests/unit $srcs
# shellcheck disable=SC2086
tool clang-tidy clang-tidy --quiet $srcs -- -D_GNU_SOURCE -Ibuild -Ibpf -Iuser -Itests/unit
echo "analyze: $passed passed, $failed failed"
[ "$failed" = 0 ]
