# shellcheck shell=sh
# One assertion style for kmodguard's shell tests (scripts/test-*). Source after lib/common.sh,
# set CHECK_WORK to a scratch directory, then:
#
#   check "what is asserted" COMMAND [ARG...]   # passes when COMMAND succeeds; its output is
#                                               # shown only when it fails
#   check_summary NAME                          # "NAME: N passed, M failed"; status 1 if M > 0
#
# Helpers for COMMAND: expect WHAT GOT WANT, fails CMD..., contains FILE TEXT, lacks FILE TEXT.

CHECK_PASSED=0
CHECK_FAILED=0

check() {
	_c_what=$1
	shift
	if "$@" >"$CHECK_WORK/check.out" 2>&1; then
		CHECK_PASSED=$((CHECK_PASSED + 1))
		log "ok   $_c_what"
	else
		CHECK_FAILED=$((CHECK_FAILED + 1))
		log "FAIL $_c_what"
		sed 's/^/    /' "$CHECK_WORK/check.out" >&2
	fi
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
	printf '%s: %s passed, %s failed\n' "$1" "$CHECK_PASSED" "$CHECK_FAILED"
	[ "$CHECK_FAILED" = 0 ]
}
