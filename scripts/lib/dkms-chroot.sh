# shellcheck shell=sh
# The cached Debian chroot holding DKMS (used by scripts/bench-dkms-baseline
# and scripts/dkms-corpus). Source after common.sh; set K_OLD and K_NEW (the
# fixture kernels), then call ensure_chroot: it sets CHROOT (a directory
# holding root/, dkms-version and inputs.txt), making it first if needed.
#
# The chroot is made with common.sh's debian_root (mmdebstrap) from this
# host's apt sources (dkms, openssl, time, linux-headers-K_old and -K_new,
# and K_new's module tree unpacked from its linux-image .deb, minus
# kernel/drivers/block/virtio_blk.ko as in the e2e test bed, and depmod'ed),
# cached as
# $KMODGUARD_CACHE/dkms-chroot-<key>/root and never modified after it is
# made: users run in a private mount namespace on an overlay of it.

# Bump when the chroot's content changes: it is part of the cache key.
CHROOT_LAYOUT=3
CHROOT_PACKAGES="dkms openssl time initramfs-tools zstd libcurl4 mount"

candidate_version() {
	apt-cache policy "$1" 2>/dev/null |
		awk '$1 == "Candidate:" && $2 != "(none)" { print $2; exit }'
}

need_candidate() {
	_nc=$(candidate_version "$1")
	if [ -z "$_nc" ]; then
		apt_update once
		_nc=$(candidate_version "$1")
	fi
	[ -n "$_nc" ] || die "apt knows no package $1"
	printf '%s\n' "$_nc"
}

# image_deb K: the cached linux-image .deb of K (scripts/fixture-kernels
# downloads both fixture kernels' images).
image_deb() {
	for _id in "$KMODGUARD_CACHE/debs/linux-image-$1"_*.deb; do
		if [ -f "$_id" ]; then
			printf '%s\n' "$_id"
			return 0
		fi
	done
	die "no linux-image-$1 .deb in $KMODGUARD_CACHE/debs (run scripts/fixture-kernels)"
}

# make_chroot DEST: build the chroot into DEST/root.
make_chroot() {
	_mc_started=$(date +%s)
	_mc_work=$(mktemp -d "$KMODGUARD_CACHE/.dkms-chroot.XXXXXX")
	chmod 0755 "$_mc_work" # apt's sandbox user writes below it
	# shellcheck disable=SC2064 # expand now
	trap "rm -rf '$_mc_work'" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	log "making the DKMS chroot"
	# shellcheck disable=SC2086 # a list
	debian_root "$SUITE" "$_mc_work/root" "$_mc_work/mmdebstrap.log" --variant=apt \
		--include="$(printf '%s,' $CHROOT_PACKAGES)linux-headers-$K_OLD,linux-headers-$K_NEW" ||
		die "mmdebstrap failed"
	_mc_r="$_mc_work/root"

	# K_new's module tree (an unpacked image .deb would replace the
	# chroot's /lib -> usr/lib symlink: unpack aside, copy in).
	dpkg-deb -x "$(image_deb "$K_NEW")" "$_mc_work/image"
	_mc_mods="$_mc_work/image/lib/modules/$K_NEW"
	[ -d "$_mc_mods" ] || _mc_mods="$_mc_work/image/usr/lib/modules/$K_NEW"
	[ -d "$_mc_mods/kernel" ] || die "the linux-image-$K_NEW .deb has no module tree"
	mkdir -p "$_mc_r/lib/modules/$K_NEW"
	cp -a "$_mc_mods/." "$_mc_r/lib/modules/$K_NEW/"
	cp -a "$_mc_work/image/boot/." "$_mc_r/boot/"
	# As in the e2e test bed: the in-tree virtio_blk is gone. (With it
	# there, `dkms install` of virtio_blk-oot says "exactly matches what is
	# already found in kernel", installs nothing and exits 0.)
	rm -f "$_mc_r/lib/modules/$K_NEW/kernel/drivers/block/virtio_blk.ko"
	chroot "$_mc_r" depmod -a "$K_NEW" || die "depmod in the chroot failed"
	[ -e "$_mc_r/lib/modules/$K_NEW/build/Makefile" ] ||
		die "the chroot has no headers for $K_NEW"

	# DKMS's signing key, made as DKMS makes it (prepare_signing in dkms 3.0.10).
	mkdir -p "$_mc_r/var/lib/dkms"
	chroot "$_mc_r" openssl req -new -x509 -nodes -days 36500 \
		-subj "/CN=DKMS module signing key" -newkey rsa:2048 \
		-keyout /var/lib/dkms/mok.key -outform DER -out /var/lib/dkms/mok.pub \
		>/dev/null 2>&1 || die "cannot make the DKMS signing key"

	# shellcheck disable=SC2016 # dpkg-query's own ${} syntax
	chroot "$_mc_r" dpkg-query -W -f='${Version}\n' dkms >"$_mc_work/dkms-version"
	printf '%s\n' "$CHROOT_INPUTS" >"$_mc_work/inputs.txt"
	rm -rf "$_mc_work/image"
	rm -rf "$1" # only a stray, incomplete one can be here
	mv "$_mc_work" "$1"
	trap - EXIT
	log "made $1 in $(($(date +%s) - _mc_started)) s"
}

# ensure_chroot: set CHROOT (a directory holding root/ and dkms-version).
ensure_chroot() {
	SUITE=$(. /etc/os-release && printf '%s\n' "${VERSION_CODENAME:-}")
	[ -n "$SUITE" ] || die "cannot tell this host's Debian suite from /etc/os-release"
	CHROOT_INPUTS="layout=$CHROOT_LAYOUT
suite=$SUITE
packages=$CHROOT_PACKAGES
dkms=$(need_candidate dkms)
linux-headers-$K_OLD=$(need_candidate "linux-headers-$K_OLD")
linux-headers-$K_NEW=$(need_candidate "linux-headers-$K_NEW")
image=$(basename -- "$(image_deb "$K_NEW")")"
	_ec_key=$(printf '%s\n' "$CHROOT_INPUTS" | sha256sum | cut -c 1-12)
	CHROOT="$KMODGUARD_CACHE/dkms-chroot-$_ec_key"
	if [ ! -f "$CHROOT/dkms-version" ]; then
		with_lock dkms-chroot
		[ -f "$CHROOT/dkms-version" ] || make_chroot "$CHROOT"
	else
		log "the DKMS chroot is cached: $CHROOT"
	fi
}

