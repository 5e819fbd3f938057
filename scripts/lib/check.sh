# shellcheck shell=sh
# One assertion style for kmodguard's shell tests (scripts/test-*, scripts/e2e). Source after
# lib/common.sh, set CHECK_WORK to a scratch directory (check_work NAME makes one), then:
#
#   check "what is asserted" COMMAND [ARG...]   # passes when COMMAND succeeds; its output is
#                                               # shown only when it fails
#   check_summary NAME                          # "NAME: N passed, M failed"; status 1 if M > 0
#   trap 'check_exit NAME' EXIT                 # (or call it from the EXIT trap) a run stopped
#                                               # early still ends with that line, one failure more
#
# Helpers for COMMAND: expect WHAT GOT WANT, fails CMD..., contains FILE TEXT, lacks FILE TEXT.
# CHECK_FAILURES, when set, names a file each failed check's description is appended to.
# docs/shell-tests.md says how to add a test.

CHECK_PASSED=0
CHECK_FAILED=0
CHECK_SUMMARIZED=

# check_work NAME: CHECK_WORK = a new scratch directory, $TMPDIR/kmodguard-test-NAME.XXXXXX.
check_work() {
	CHECK_WORK=$(mktemp -d "${TMPDIR:-/tmp}/kmodguard-test-$1.XXXXXX")
}

# check_work_end KEEP [PID...]: in the EXIT trap: the test's helper processes PID (servers; ""
# for none) stopped, CHECK_WORK removed, or kept (and said so) when KEEP is 1.
check_work_end() {
	_cwe_keep=${1:-0}
	shift
	for _cwe_pid; do
		if [ -n "$_cwe_pid" ]; then kill "$_cwe_pid" 2>/dev/null || :; fi
	done
	if [ "$_cwe_keep" = 1 ]; then log "kept $CHECK_WORK"; else rm -rf "$CHECK_WORK"; fi
}

# check_try WHAT COMMAND...: run COMMAND quietly; log "ok   WHAT" when it succeeds, else fail
# with its output kept for check_show.
check_try() {
	_ct_what=$1
	shift
	"$@" >"$CHECK_WORK/check.out" 2>&1 || return 1
	log "ok   $_ct_what"
}

# check_show TAG WHAT: log "TAG WHAT" and the output of the command that failed.
check_show() {
	log "$1 $2"
	sed 's/^/    /' "$CHECK_WORK/check.out" >&2
}

check() {
	_c_what=$1
	shift
	if check_try "$_c_what" "$@"; then
		CHECK_PASSED=$((CHECK_PASSED + 1))
		return 0
	fi
	CHECK_FAILED=$((CHECK_FAILED + 1))
	check_show FAIL "$_c_what"
	[ -z "${CHECK_FAILURES:-}" ] || printf '%s\n' "$_c_what" >>"$CHECK_FAILURES"
}

# expect WHAT GOT WANT
expect() {
	[ "$2" = "$3" ] && return 0
	printf '%s: got "%s", want "%s"\n' "$1" "$2" "$3"
	return 1
}

# fails CMD [ARG...]: succeeds when CMD fails.
fails() {
	if "$@"; then return 1; fi
	return 0
}

# contains FILE TEXT / lacks FILE TEXT (fixed strings; lacks shows the lines it found)
contains() {
	grep -q -F -e "$2" "$1" && return 0
	printf '%s does not contain: %s\n' "$1" "$2"
	return 1
}
lacks() { ! grep -n -F -e "$2" "$1"; }

check_summary() {
	CHECK_SUMMARIZED=1
	printf '%s: %s passed, %s failed\n' "$1" "$CHECK_PASSED" "$CHECK_FAILED"
	[ "$CHECK_FAILED" = 0 ]
}

# check_exit NAME: in an EXIT trap. A run stopped before its check_summary (die, set -e, a
# signal) counts that as one more failure and prints its summary line all the same.
check_exit() {
	[ -z "$CHECK_SUMMARIZED" ] || return 0
	CHECK_FAILED=$((CHECK_FAILED + 1))
	check_summary "$1" || :
}
