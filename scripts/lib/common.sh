# shellcheck shell=sh
# Helpers shared by kmodguard's development scripts. Source it:
#
#   . "$(dirname "$0")/lib/common.sh"
#
# Conventions: a script's result goes to stdout (its last line), everything
# else (progress, apt/make output, errors) goes to stderr.

# Where the dev scripts keep what they download and build.
: "${KMODGUARD_CACHE:=/var/cache/kmodguard-dev}"

_kmodguard_apt_updated=0

log() {
	printf 'kmodguard-dev: %s\n' "$*" >&2
}

die() {
	log "error: $*"
	exit 1
}

# Print the repository's top directory: the nearest ancestor of the calling
# script that holds scripts/lib/common.sh, else git's idea of it.
repo_root() {
	_rr_dir=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P) || return 1
	while :; do
		if [ -f "$_rr_dir/scripts/lib/common.sh" ]; then
			printf '%s\n' "$_rr_dir"
			return 0
		fi
		[ "$_rr_dir" = / ] && break
		_rr_dir=$(dirname -- "$_rr_dir")
	done
	git -C "$(dirname -- "$0")" rev-parse --show-toplevel 2>/dev/null ||
		die "cannot find the repository root from $0"
}

# run_quiet DESCRIPTION CMD [ARG...]: run CMD with its output captured;
# print the output to stderr if CMD fails, else only apt-style warning and
# error lines ("W: ...", "E: ..."). Returns CMD's status.
run_quiet() {
	_rq_what=$1
	shift
	_rq_log=$(mktemp "${TMPDIR:-/tmp}/kmodguard-dev.XXXXXX") || return 1
	if "$@" >"$_rq_log" 2>&1; then
		grep -E '^(W|E|Err):' "$_rq_log" >&2 || :
		rm -f "$_rq_log"
		return 0
	else
		_rq_status=$?
		log "$_rq_what failed (exit $_rq_status); its output:"
		cat "$_rq_log" >&2
		rm -f "$_rq_log"
		return "$_rq_status"
	fi
}

_apt_get() {
	DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 "$@"
}

# apt_update once|force: run `apt-get update` once per process ("once"), or
# again ("force", e.g. after adding a source).
apt_update() {
	if [ "$_kmodguard_apt_updated" = 1 ] && [ "$1" != force ]; then
		return 0
	fi
	log "apt-get update"
	run_quiet "apt-get update" _apt_get update || die "apt-get update failed"
	_kmodguard_apt_updated=1
}

# is_installed PKG: true if the Debian package PKG is installed.
is_installed() {
	case $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) in
	ii*) return 0 ;;
	*) return 1 ;;
	esac
}

# ensure_packages PKG...: install those of the packages that are missing.
ensure_packages() {
	_ep_missing=
	for _ep_pkg in "$@"; do
		is_installed "$_ep_pkg" || _ep_missing="$_ep_missing $_ep_pkg"
	done
	[ -n "$_ep_missing" ] || return 0
	[ "$(id -u)" = 0 ] || die "need root to install:$_ep_missing"
	apt_update once
	log "installing:$_ep_missing"
	# shellcheck disable=SC2086 # word splitting of the package list is wanted
	run_quiet "apt-get install" \
		_apt_get install -y --no-install-recommends $_ep_missing ||
		die "could not install:$_ep_missing"
}

# apt_workdir DIR: make DIR writable by apt's sandbox user, so apt-get
# download/source need not fall back to downloading unsandboxed as root.
apt_workdir() {
	mkdir -p "$1"
	if id _apt >/dev/null 2>&1; then
		chown _apt "$1"
	fi
}

# with_lock NAME: serialise concurrent runs of a script (fd 9 stays open
# until the script exits).
with_lock() {
	mkdir -p "$KMODGUARD_CACHE"
	exec 9>"$KMODGUARD_CACHE/.$1.lock"
	if command -v flock >/dev/null 2>&1; then
		flock 9 || die "cannot lock $KMODGUARD_CACHE/.$1.lock"
	fi
}
