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
# again ("force", e.g. after adding a source). Waits (up to 10 minutes) while
# another process holds apt's lists lock: DPkg::Lock::Timeout covers dpkg's
# lock only.
apt_update() {
	if [ "$_kmodguard_apt_updated" = 1 ] && [ "$1" != force ]; then
		return 0
	fi
	log "apt-get update"
	_au_waited=0
	while :; do
		if _au_out=$(_apt_get update 2>&1); then
			break
		fi
		if [ "$_au_waited" -lt 600 ] &&
			printf '%s\n' "$_au_out" | grep -q 'Could not get lock'; then
			[ "$_au_waited" -gt 0 ] ||
				log "apt's lists are locked by another process; waiting"
			sleep 5
			_au_waited=$((_au_waited + 5))
			continue
		fi
		printf '%s\n' "$_au_out" >&2
		die "apt-get update failed"
	done
	printf '%s\n' "$_au_out" | grep -E '^(W|E|Err):' >&2 || :
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

# Disk images with GRUB installed for real (grub-image.sh, e2e-image.sh, the grub.cfg fixtures'
# Tests/Fixtures/grub/regenerate.sh): sparse files with a GPT, attached with losetup; grub-install
# and update-grub run in a chroot in a private mount namespace whose /dev and /sys/block are
# made up to look like a machine's (namespace_*).

# gpt_image FILE SIZE DISK_ID PART...: a sparse raw disk FILE of SIZE with a GPT (label-id
# DISK_ID) holding each PART in order: "bios:UUID" (a 1 MiB BIOS boot partition, for GRUB's
# core.img) or "NAME:UUID[:SIZE]" (Linux data; without SIZE the rest of the disk).
gpt_image() {
	_gpt_file=$1
	truncate -s "$2" "$_gpt_file" || return 1
	_gpt_table="label: gpt
label-id: $3"
	shift 3
	for _gpt_part in "$@"; do
		_gpt_name=${_gpt_part%%:*} _gpt_uuid=${_gpt_part#*:} _gpt_size=
		case $_gpt_uuid in *:*)
			_gpt_size="size=${_gpt_uuid#*:}, "
			_gpt_uuid=${_gpt_uuid%%:*}
			;;
		esac
		if [ "$_gpt_name" = bios ]; then
			_gpt_line="size=1MiB, type=21686148-6449-6E6F-744E-656564454649, uuid=$_gpt_uuid, name=bios"
		else
			_gpt_line="${_gpt_size}type=L, uuid=$_gpt_uuid, name=$_gpt_name"
		fi
		_gpt_table="$_gpt_table
$_gpt_line"
	done
	printf '%s\n' "$_gpt_table" | sfdisk --quiet "$_gpt_file"
}

# loop_attach IMG LASTPART: attach IMG to a loop device with its partitions (partx adds them
# when losetup -P did not: it may not), print the device.
loop_attach() {
	_la=$(losetup --find --show --partscan "$1") || return 1
	[ -e "${_la}p$2" ] || partx -a "$_la" 2>/dev/null || :
	[ -e "${_la}p$2" ] || {
		log "no partition devices for $_la ($1)"
		losetup -d "$_la"
		return 1
	}
	printf '%s\n' "$_la"
}

# loop_detach LOOP...: detach loop devices with their partitions.
loop_detach() {
	for _ld in "$@"; do
		partx -d "$_ld" 2>/dev/null || :
		losetup -d "$_ld" 2>/dev/null || :
	done
}

# loop_devnum LOOP [PART]: MAJ:MIN of a loop device or one of its partitions.
loop_devnum() {
	cat "/sys/class/block/${1##*/}${2:+p$2}/dev"
}

# grub_entry_path GRUB_CFG KVER: the "submenu-id>entry-id" path of KVER's normal entry (what
# next_entry needs; the inner id alone boots the default).
grub_entry_path() {
	awk -v kver="$2" '
		function id_of(line) {
			if (!match(line, /\$menuentry_id_option \047[^\047]*\047/)) return ""
			return substr(line, RSTART + 22, RLENGTH - 23)
		}
		/^submenu / { sub_id = id_of($0) }
		/^\tmenuentry / { id = id_of($0)
			if (index(id, "gnulinux-" kver "-advanced-") == 1) { print sub_id ">" id; exit } }
	' "$1"
}

# namespace_dev TAG: a fresh tmpfs on /dev with the character devices a chroot needs.
namespace_dev() {
	mount -t tmpfs -o mode=0755,size=1m "$1" /dev
	mknod -m 0666 /dev/null c 1 3
	mknod -m 0666 /dev/zero c 1 5
	mknod -m 0666 /dev/full c 1 7
	mknod -m 0666 /dev/random c 1 8
	mknod -m 0666 /dev/urandom c 1 9
}

# namespace_block_node NAME MAJ:MIN: a block device node in the namespace's /dev.
namespace_block_node() {
	mknod -m 0660 "/dev/$1" b "${2%:*}" "${2#*:}"
}

# namespace_sysfs_disk SYSBLOCK NAME N: /sys/block/NAME as a disk on an AHCI port (grub-probe's
# hints_string reads .../device/vendor; without it entries lose their search hints).
namespace_sysfs_disk() {
	_nsd_scsi=$1/.kmodguard-ata$3/host$3/target$3:0:0/$3:0:0:0
	mkdir -p "$_nsd_scsi/block/$2"
	printf 'ATA     \n' >"$_nsd_scsi/vendor"
	ln -s ../.. "$_nsd_scsi/block/$2/device"
	ln -s ".kmodguard-ata$3/host$3/target$3:0:0/$3:0:0:0/block/$2" "$1/$2"
}

# namespace_chroot_mounts ROOT [DISK...]: /dev (the namespace's), /proc and /sys in the chroot
# ROOT, and with DISKs (sda, sdb, ...) a /sys/block of its own holding those as SATA disks.
namespace_chroot_mounts() {
	_ncm=$1
	shift
	mount --bind /dev "$_ncm/dev"
	mount -t proc proc "$_ncm/proc"
	mount -t sysfs sysfs "$_ncm/sys"
	[ $# -gt 0 ] || return 0
	mount -t tmpfs -o mode=0755,size=1m kmodguard-sys-block "$_ncm/sys/block"
	_ncm_n=0
	for _ncm_disk; do
		namespace_sysfs_disk "$_ncm/sys/block" "$_ncm_disk" "$_ncm_n"
		_ncm_n=$((_ncm_n + 1))
	done
}

# namespace_chroot_umounts ROOT: undo namespace_chroot_mounts.
namespace_chroot_umounts() {
	if mountpoint -q "$1/sys/block"; then umount "$1/sys/block"; fi
	umount "$1/sys" "$1/proc" "$1/dev"
}

# now_ms: wall clock in milliseconds.
now_ms() {
	_nm=$(date +%s%N)
	echo $((_nm / 1000000))
}

# ms_to_s MS: "12.3" (seconds, one decimal).
ms_to_s() {
	printf '%d.%d\n' $(($1 / 1000)) $(($1 % 1000 / 100))
}

# host_sources: the host's apt source files that hold binary ("deb") entries, one per line.
host_sources() {
	for _hs in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$_hs" ] || continue
		if grep -Eq '^[[:space:]]*deb[[:space:]]' "$_hs"; then
			printf '%s\n' "$_hs"
		fi
	done
	for _hs in /etc/apt/sources.list.d/*.sources; do
		[ -f "$_hs" ] || continue
		if sed -n 's/^[Tt]ypes://p' "$_hs" | tr -s ' \t' '\n' | grep -qx deb; then
			printf '%s\n' "$_hs"
		fi
	done
}

# debian_sources SUITE: those of host_sources that carry SUITE. The Debian roots below are made
# from them (mmdebstrap takes them as its mirrors, apt in the root keeps them): the same archive,
# mirror and snapshot this host uses, never a host chosen here.
debian_sources() {
	for _ds in $(host_sources); do
		if grep -qw -e "$1" "$_ds"; then printf '%s\n' "$_ds"; fi
	done
}

# debian_root SUITE DEST LOG [MMDEBSTRAP_OPTION...]: the one way a Debian root is made (the e2e
# and GRUB test images, the grub.cfg fixtures, the DKMS chroot, test-package's server,
# fresh-check's machine): mmdebstrap --mode=root SUITE into DEST (a directory, or a tarball with
# --format=tar) from debian_sources SUITE, its output into LOG (the end of it shown on failure).
debian_root() {
	_dr_suite=$1 _dr_dest=$2 _dr_log=$3
	shift 3
	_dr_sources=$(debian_sources "$_dr_suite")
	[ -n "$_dr_sources" ] || die "no apt source of this host carries $_dr_suite (/etc/apt/sources.list*)"
	ensure_packages mmdebstrap
	log "mmdebstrap $_dr_suite into $_dr_dest from $(echo "$_dr_sources" | tr '\n' ' ')(a few minutes)"
	# shellcheck disable=SC2086 # one word per sources file
	mmdebstrap --mode=root "$@" "$_dr_suite" "$_dr_dest" $_dr_sources >"$_dr_log" 2>&1 && return 0
	tail -n 40 "$_dr_log" >&2
	log "mmdebstrap failed (log: $_dr_log)"
	return 1
}

# debian_root_tar PREFIX DIGITS KEY_TEXT SUITE [MMDEBSTRAP_OPTION...]: print PREFIX-KEY.tar, a
# cached debian_root tarball, made when missing (older PREFIX-*.tar removed then); KEY is the
# first DIGITS hex digits of the sha256 of KEY_TEXT (a line) and debian_sources' content.
debian_root_tar() {
	_drt_prefix=$1 _drt_suite=$4
	_drt=$_drt_prefix-$({
		printf '%s\n' "$3"
		for _drt_src in $(debian_sources "$_drt_suite"); do cat "$_drt_src"; done
	} | sha256sum | cut -c "1-$2").tar
	shift 4
	if [ ! -s "$_drt" ]; then
		mkdir -p "$(dirname -- "$_drt")"
		rm -f "$_drt_prefix"-*.tar
		_drt_t0=$(date +%s)
		debian_root "$_drt_suite" "$_drt.tmp" "$_drt_prefix.log" --format=tar "$@" || return 1
		mv "$_drt.tmp" "$_drt"
		log "made ${_drt##*/}: $(($(date +%s) - _drt_t0)) s, $(du -m "$_drt" | cut -f1) MB"
	fi
	printf '%s\n' "$_drt"
}

# in_root ROOTFS CMD [ARG...]: run CMD chrooted into ROOTFS (a directory such as mmdebstrap makes)
# with a clean environment (add VAR=value words before CMD), in a private mount namespace of its
# own with /proc, /sys and /dev mounted as on a machine, and the host directories named in
# IN_ROOT_RO_BINDS (e.g. "/opt/swift") bound in read-only; the mounts vanish with the namespace
# when CMD exits, so nothing is left to unmount. ROOTFS is made a mount point first, as / is on
# a machine (unshare(1) in the root cannot make a plain directory private). Needs root.
in_root() {
	_ir_root=$1
	shift
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare --mount --propagation private -- /bin/sh -c '
		r=$1 binds=$2
		shift 2
		mount --bind "$r" "$r" && mount -t proc proc "$r/proc" &&
			mount --rbind /sys "$r/sys" && mount --rbind /dev "$r/dev" || exit 125
		for d in $binds; do
			[ -d "$d" ] || continue
			mkdir -p "$r$d" && mount --bind "$d" "$r$d" &&
				mount -o remount,bind,ro "$r$d" || exit 125
		done
		exec chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"' \
		in_root "$_ir_root" "${IN_ROOT_RO_BINDS:-}" "$@"
}
