# shellcheck shell=sh
# Debian's dracut, extracted rather than installed: the dracut package conflicts with
# initramfs-tools, Debian's default, and installing it would replace the host's generator.
# Source after lib/common.sh:
#
#   . "$(dirname -- "$0")/lib/common.sh"
#   . "$(dirname -- "$0")/lib/dracut.sh"
#   wrapper=$(dracut_extracted)
#   KMODGUARD_INITRAMFS_GENERATOR=dracut KMODGUARD_DRACUT=$wrapper kmodguard ...
#
# dracut_extracted prints the path of a dracut wrapper (progress goes to stderr). VERSION is
# apt's candidate of dracut-core, or KMODGUARD_DRACUT_VERSION. In $KMODGUARD_CACHE:
#
#   debs/dracut-core_VERSION_ARCH.deb   the package (the dracut package itself only adds kernel
#                                       postinst hooks: not needed)
#   dracut-core-VERSION/                dpkg-deb -x of it; the same tree scripts/test-initramfs
#                                       extracts, so either script reuses the other's
#   dracut-run-VERSION/dracut           runs the tree's usr/bin/dracut with dracutbasedir=the
#                                       tree's usr/lib/dracut (unless dracutbasedir is set) and
#                                       an empty configuration (never the host's /etc/dracut.conf*)
#   dracut-run-VERSION/lsinitrd         the same for lsinitrd; kmodguard lists images with the
#                                       lsinitrd beside KMODGUARD_DRACUT
#   dracut-run-VERSION/basedir          -> the tree's usr/lib/dracut (modules.d, dracut-install)
#
# kmodguard's 90kmodguard is not in basedir/modules.d: a test copies basedir, adds it and sets
# dracutbasedir. Everything else dracut runs (bash, cpio, kmod, udev, systemd) is the host's.

# dracut_extracted: extract dracut-core once per version; print the wrapper's path.
dracut_extracted() {
	# systemd: the images with dracut's systemd modules take the host's systemd.
	ensure_packages bash cpio kmod udev kpartx e2fsprogs systemd
	_de_version=${KMODGUARD_DRACUT_VERSION:-$(_dracut_candidate)}
	if [ -z "$_de_version" ]; then
		apt_update once
		_de_version=$(_dracut_candidate)
	fi
	[ -n "$_de_version" ] || die "apt knows no dracut-core package"
	_de_tree="$KMODGUARD_CACHE/dracut-core-$_de_version"
	_de_run="$KMODGUARD_CACHE/dracut-run-$_de_version"
	if [ ! -x "$_de_tree/usr/bin/dracut" ] || [ ! -x "$_de_run/dracut" ]; then
		with_lock dracut
		# Another run may have made them while we waited for the lock.
		[ -x "$_de_tree/usr/bin/dracut" ] || _dracut_extract "$_de_version" "$_de_tree"
		[ -x "$_de_run/dracut" ] || _dracut_wrappers "$_de_version" "$_de_tree" "$_de_run"
	fi
	printf '%s\n' "$_de_run/dracut"
}

_dracut_candidate() {
	apt-cache policy dracut-core 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '(none)' || :
}

# _dracut_deb VERSION: print the path of dracut-core VERSION's .deb, downloading it if needed.
_dracut_deb() {
	_dd_debs="$KMODGUARD_CACHE/debs"
	# Debian file names spell an epoch's ":" as "%3a".
	_dd_file="$_dd_debs/dracut-core_$(printf '%s' "$1" | sed 's/:/%3a/')_$(dpkg --print-architecture).deb"
	if [ ! -f "$_dd_file" ]; then
		mkdir -p "$_dd_debs"
		_dd_tmp=$(mktemp -d "$_dd_debs/.download.XXXXXX")
		apt_workdir "$_dd_tmp"
		log "downloading dracut-core $1"
		if ! (cd "$_dd_tmp" && run_quiet "apt-get download dracut-core=$1" _apt_get download "dracut-core=$1"); then
			rm -rf "$_dd_tmp"
			die "cannot download dracut-core $1"
		fi
		mv "$_dd_tmp"/dracut-core_*.deb "$_dd_file" || die "apt-get download dracut-core=$1 left no .deb in $_dd_tmp"
		rm -rf "$_dd_tmp"
	fi
	printf '%s\n' "$_dd_file"
}

# _dracut_extract VERSION TREE: unpack the package into TREE, atomically.
_dracut_extract() {
	_dx_deb=$(_dracut_deb "$1")
	mkdir -p "$KMODGUARD_CACHE"
	_dx_tmp=$(mktemp -d "$2.tmp.XXXXXX")
	log "extracting $(basename -- "$_dx_deb") into $2"
	if ! dpkg-deb -x "$_dx_deb" "$_dx_tmp"; then
		rm -rf "$_dx_tmp"
		die "dpkg-deb -x $_dx_deb failed"
	fi
	if [ ! -x "$_dx_tmp/usr/bin/dracut" ] || [ ! -x "$_dx_tmp/usr/lib/dracut/dracut-install" ]; then
		rm -rf "$_dx_tmp"
		die "$_dx_deb has no usr/bin/dracut or usr/lib/dracut/dracut-install"
	fi
	chmod 0755 "$_dx_tmp"
	rm -rf "$2" # only a stray, incomplete one can be here
	mv "$_dx_tmp" "$2"
}

# _dracut_wrappers VERSION TREE DIR: write DIR/dracut, DIR/lsinitrd and DIR/basedir, atomically.
_dracut_wrappers() {
	_dw_tmp=$(mktemp -d "$3.tmp.XXXXXX")
	ln -s "$2/usr/lib/dracut" "$_dw_tmp/basedir"
	mkdir "$_dw_tmp/dracut.conf.d"
	# shellcheck disable=SC2016 # $here is the wrapper's variable
	_dracut_wrapper "$1" "$3" dracut \
		'--conf /dev/null --confdir "$here/dracut.conf.d"' "$2" >"$_dw_tmp/dracut"
	_dracut_wrapper "$1" "$3" lsinitrd '' "$2" >"$_dw_tmp/lsinitrd"
	chmod 0755 "$_dw_tmp" "$_dw_tmp/dracut" "$_dw_tmp/lsinitrd"
	rm -rf "$3"
	mv "$_dw_tmp" "$3"
}

# _dracut_wrapper VERSION DIR PROGRAM OPTIONS TREE: print a wrapper script for usr/bin/PROGRAM.
_dracut_wrapper() {
	cat <<WRAPPER
#!/bin/sh
# Debian's $3 $1 from dracut-core, extracted (not installed) by kmodguard's scripts/lib/dracut.sh.
here='$2'
dracutbasedir=\${dracutbasedir:-'$5/usr/lib/dracut'}
export dracutbasedir
exec bash '$5/usr/bin/$3' $4 "\$@"
WRAPPER
}
