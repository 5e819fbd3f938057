# shellcheck shell=sh
# Variables set here are read by scripts/bench and by the other figure files:
# shellcheck disable=SC2034
# bench-figures.sh - the figures of scripts/bench that need no QEMU: footprint, cpu, prebuilt,
# rebuild. Each bench_figure_NAME records its rows with bench_row (lib/bench.sh). Expects
# scripts/bench's globals: BENCH_REPO, BENCH_WORK, RUNS, QUICK, KMODGUARD, EARLY, FIXTURE_ROOT,
# K_OLD, K_NEW, FIXTURE_MODULE, SOURCES, VIRTIO_SRC.

BENCH_TIME_FORMAT='%e %U %S'

# bench_time LOG CMD...: run CMD (output appended to LOG); print "WALL CPU" (seconds; CPU =
# user + system of CMD and every child it waited for, /usr/bin/time).
bench_time() {
	_bt_log=$1
	shift
	printf '$ %s\n' "$*" >>"$_bt_log"
	if ! /usr/bin/time -f "$BENCH_TIME_FORMAT" -o "$BENCH_WORK/time.out" "$@" >>"$_bt_log" 2>&1; then
		log "'$*' failed; the end of its output:"
		tail -n 30 "$_bt_log" >&2
		return 1
	fi
	tail -n 1 "$BENCH_WORK/time.out" | awk '{ printf "%s %.2f\n", $1, $2 + $3 }'
}

# bench_kib BYTES
bench_kib() {
	awk -v b="$1" 'BEGIN { printf "%.1f\n", b / 1024 }'
}

# ---------------------------------------------------------------------------------------------
# footprint: initramfs images with and without kmodguard, and the guard itself
# ---------------------------------------------------------------------------------------------

# A C program doing the guard's system work (the issue's 1.40 MB reference), linked the same
# way: static glibc, libkmod.a, libblkid.a, zstd, xz; -Os, --gc-sections, stripped.
bench_c_guard_source() {
	cat <<'EOF'
#include <blkid.h>
#include <fcntl.h>
#include <libkmod.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The guard's work without its policy: config read, kmod load, blkid tag, grubenv write, kmsg. */
int main(int argc, char **argv) {
	const char *root = argc > 1 ? argv[1] : "";
	char path[4096], conf[4096] = "", env[1024];
	struct utsname u;
	uname(&u);
	snprintf(path, sizeof path, "%s/etc/kmodguard/kmodguard.conf", root);
	int fd = open(path, O_RDONLY);
	if (fd >= 0) { ssize_t n = read(fd, conf, sizeof conf - 1); if (n > 0) conf[n] = 0; close(fd); }
	snprintf(path, sizeof path, "%s/lib/modules/%s", root, u.release);
	struct kmod_ctx *ctx = kmod_new(path, NULL);
	if (!ctx) return 4;
	kmod_load_resources(ctx);
	struct kmod_list *list = NULL, *it;
	int rc = kmod_module_new_from_lookup(ctx, argc > 2 ? argv[2] : "virtio_blk", &list);
	kmod_list_foreach(it, list) {
		struct kmod_module *m = kmod_module_get_module(it);
		rc = kmod_module_probe_insert_module(m, argc > 3 ? KMOD_PROBE_DRY_RUN : 0, NULL, NULL, NULL, NULL);
		kmod_module_unref(m);
	}
	kmod_module_unref_list(list);
	kmod_unref(ctx);
	char *dev = blkid_evaluate_tag("UUID", argc > 4 ? argv[4] : "0", NULL);
	int kmsg = open("/dev/kmsg", O_WRONLY);
	if (kmsg >= 0) { dprintf(kmsg, "<6>cguard: %d %s\n", rc, dev ? dev : "-"); close(kmsg); }
	if (rc == 0) return 0;
	snprintf(path, sizeof path, "%s/boot/grub/grubenv", root);
	fd = open(path, O_RDWR);
	if (fd >= 0 && pread(fd, env, sizeof env, 0) == (ssize_t)sizeof env) {
		memcpy(env + 25, "next_entry=x\n", 13);
		pwrite(fd, env, sizeof env, 0);
		fsync(fd);
		close(fd);
	}
	sync();
	return reboot(RB_AUTOBOOT);
}
EOF
}

# bench_c_guard_musl OUT: the same against musl and scripts/deps' musl builds of the libraries
# (musl-gcc); false when they are not there.
bench_c_guard_musl() {
	_cgm=''
	for _cgm_d in "$KMODGUARD_CACHE"/musl-static-*/; do
		[ -f "$_cgm_d/libkmod.a" ] && _cgm=${_cgm_d%/}
	done
	if [ -z "$_cgm" ] || [ ! -f "$_cgm/libkmod.a" ] || ! command -v musl-gcc >/dev/null 2>&1; then
		log "no musl builds of libkmod/libblkid (scripts/deps) or no musl-gcc: no musl C reference"
		return 1
	fi
	bench_c_guard_source >"$BENCH_WORK/cguard.c"
	musl-gcc -Os -static -ffunction-sections -fdata-sections -Wl,--gc-sections -I"$_cgm/include" \
		-I"$_cgm/include/blkid" -o "$1" "$BENCH_WORK/cguard.c" -L"$_cgm" -lkmod -lblkid -lzstd -llzma \
		>"$BENCH_WORK/cguard-musl.log" 2>&1 || { cat "$BENCH_WORK/cguard-musl.log" >&2; return 1; }
	strip "$1"
}

# bench_c_guard OUT: build the C reference guard; false when it cannot be built here.
bench_c_guard() {
	_cg_kmod=
	for _cg_d in "${KMODGUARD_KMOD_STATIC_DIR:-}" "$KMODGUARD_CACHE/libkmod-static" "$KMODGUARD_CACHE"/libkmod-static-*; do
		if [ -n "$_cg_d" ] && [ -f "$_cg_d/libkmod.a" ]; then
			_cg_kmod=$_cg_d
			break
		fi
	done
	[ -n "$_cg_kmod" ] || { log "no libkmod.a (scripts/deps builds it): no C reference"; return 1; }
	ensure_packages gcc libblkid-dev libkmod-dev libzstd-dev liblzma-dev
	bench_c_guard_source >"$BENCH_WORK/cguard.c"
	gcc -Os -static -ffunction-sections -fdata-sections -Wl,--gc-sections -I/usr/include/blkid \
		-o "$1" "$BENCH_WORK/cguard.c" -L"$_cg_kmod" -lkmod -lblkid -lzstd -llzma \
		>"$BENCH_WORK/cguard.log" 2>&1 || { cat "$BENCH_WORK/cguard.log" >&2; return 1; }
	strip "$1"
}

# bench_symbol_shares BINARY: where the bytes of an unstripped static link go (nm sizes by
# origin), as "origin KiB" lines, largest first.
bench_symbol_shares() {
	nm -S --size-sort "$1" 2>/dev/null | awk '
		NF == 4 {
			size = 0; h = tolower($2)
			for (i = 1; i <= length(h); i++) size = size * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
			name = $4
			if (name ~ /^\$s|^_?\$s|^swift_|^_swift_|^\$e/) o = "Swift (kmodguard + embedded stdlib)"
			else if (name ~ /_swift_stdlib_|UnicodeData|unicode/) o = "Swift Unicode data tables"
			else if (name ~ /^kmod_|^_kmod|^index_|^array_|^hash_|^strbuf_|^log_filep|^kmod/) o = "libkmod"
			else if (name ~ /^blkid_|^ul_|^_blkid|^mnt_|^sysfs_|^loopcxt|^[a-z0-9]+_idinfo$|^probe_/) o = "libblkid"
			else if (name ~ /^ZSTD|^HUF_|^FSE_|^ZSTDv|^POOL_|^XXH|^COVER|^ZDICT|^HIST_|^g_|^ZSTDMT/) o = "zstd"
			else if (name ~ /^lzma_|^lzma/) o = "xz (liblzma)"
			else o = "libc and the rest"
			s[o] += size
		}
		END { for (o in s) printf "%s\t%.0f\n", o, s[o] / 1024 }' | sort -t "$(printf '\t')" -k2,2nr
}

bench_figure_footprint() {
	_fp=$BENCH_WORK/footprint
	mkdir -p "$_fp"
	# The guard: stripped, and as zstd -19 would store it.
	cp "$EARLY" "$_fp/kmodguard-early"
	strip "$_fp/kmodguard-early" 2>/dev/null || :
	_g_size=$(stat -c %s "$_fp/kmodguard-early")
	_g_zst=$(zstd -q -19 -c "$_fp/kmodguard-early" | wc -c)
	# glibc's static startup always carries its tunables parser; musl has none.
	_libc=musl
	if strings "$_fp/kmodguard-early" | grep -q GLIBC_TUNABLES; then
		_libc=glibc
	fi
	_note="out/kmodguard-early ($_libc)"
	_unstripped=$BENCH_REPO/.build-embedded/release/kmodguard-early
	if [ -f "$_unstripped" ] && nm "$_unstripped" >/dev/null 2>&1; then
		_shares=$(bench_symbol_shares "$_unstripped" | head -n 5 | awk -F '\t' '{ printf "%s%s %s KiB", sep, $1, $2; sep = ", " }')
		_note="$_note; symbol sizes (nm --size-sort of the unstripped link $(stat -c %y "$_unstripped" | cut -c1-16), may differ from out/): $_shares"
		bench_symbol_shares "$_unstripped" >"$_fp/symbol-shares.txt"
		nm -S --size-sort -C "$_unstripped" | tail -n 25 >"$_fp/largest-symbols.txt" 2>/dev/null || :
	fi
	if bench_c_guard "$_fp/cguard"; then
		_c_size=$(stat -c %s "$_fp/cguard")
		_c_zst=$(zstd -q -19 -c "$_fp/cguard" | wc -c)
		bench_row guard-size "guard binary, stripped" KiB "C equivalent, static glibc (the issue's 1.40 MB reference)" \
			"kmodguard-early" "<= 1.55 MB" "$(bench_kib "$_c_size")" "$(bench_kib "$_g_size")" "$_note"
		bench_row guard-zstd "guard binary, zstd -19" KiB "C equivalent (glibc)" "kmodguard-early" "-" \
			"$(bench_kib "$_c_zst")" "$(bench_kib "$_g_zst")"
	else
		bench_row guard-size "guard binary, stripped" KiB "issue's C reference (not built here)" \
			"kmodguard-early" "<= 1.55 MB" "1433.6" "$(bench_kib "$_g_size")" "$_note"
		bench_row guard-zstd "guard binary, zstd -19" KiB "-" "kmodguard-early" "-" "" "$(bench_kib "$_g_zst")"
	fi
	if [ "$_libc" = musl ] && bench_c_guard_musl "$_fp/cguard-musl"; then
		bench_row guard-size-musl "guard binary, stripped, vs musl C" KiB "C equivalent, static musl (same libraries, -Os)" \
			"kmodguard-early (musl)" "-" "$(bench_kib "$(stat -c %s "$_fp/cguard-musl")")" "$(bench_kib "$_g_size")" \
			"the same libkmod, libblkid, zstd, xz builds as the guard (scripts/deps); what remains is kmodguard's Swift code, the Embedded stdlib and its Unicode tables"
		bench_row guard-zstd-musl "guard binary, zstd -19, vs musl C" KiB "C equivalent, static musl" "kmodguard-early (musl)" "-" \
			"$(bench_kib "$(zstd -q -19 -c "$_fp/cguard-musl" | wc -c)")" "$(bench_kib "$_g_zst")"
	fi

	# The images: the e2e rootfs of each generator (both kernels, Debian's defaults: zstd,
	# MODULES=most / generic dracut), without and with scripts/install; built for K_OLD.
	e2e_kernels
	e2e_driver_source
	for _gen in initramfs-tools dracut; do
		_tar=$(e2e_rootfs "$_gen")
		_dir=$_fp/$_gen
		mkdir -p "$_dir"
		log "footprint: $_gen images for $E2E_K_OLD (extracting $(basename "$_tar"))"
		if ! unshare --mount --propagation private -- /bin/sh "$BENCH_REPO/scripts/bench" \
			--inside-footprint "$_gen" "$_tar" "$_dir" "$E2E_K_OLD" "$BENCH_REPO" "$BENCH_WORK" \
			>"$_dir/build.log" 2>&1; then
			tail -n 40 "$_dir/build.log" >&2
			die "footprint: building the $_gen images failed"
		fi
		rm -rf "$_dir/root"
		without_c='' with_c='' without_u='' with_u='' without_s='' with_s=''
		# shellcheck source=/dev/null
		. "$_dir/sizes"
		# What the image gains: files only in the "with" listing (cpio -itv: size is field 5).
		_added=$(awk 'NR == FNR { seen[$NF] = 1; next } !($NF in seen) && $5 > 0 { print $5, $NF }' \
			"$_dir/without.list" "$_dir/with.list" | sort -nr | head -n 6 |
			awk '{ n = $2; sub(/.*\//, "", n); printf "%s%s %.0f KiB", sep, n, $1 / 1024; sep = ", " }')
		bench_row "$_gen-zstd" "$_gen image, zstd (Debian default)" KiB "without kmodguard" \
			"with kmodguard" "<= +700 KB" "$(bench_kib "$without_c")" "$(bench_kib "$with_c")" \
			"adds $(bench_kib $((with_c - without_c))) KiB compressed (largest new files, uncompressed: $_added); build $without_s s / $with_s s"
		bench_row "$_gen-raw" "$_gen image, uncompressed" KiB "without kmodguard" "with kmodguard" "-" \
			"$(bench_kib "$without_u")" "$(bench_kib "$with_u")" \
			"adds $(bench_kib $((with_u - without_u))) KiB uncompressed"
	done
}

# bench_footprint_inside GEN TAR DIR KVER REPO WORK (private mount namespace): unpack TAR,
# build an image without kmodguard, scripts/install, build one with it; write DIR/sizes.
bench_footprint_inside() {
	_gen=$1 _tar=$2 _dir=$3 _k=$4 _repo=$5
	set -x
	R=$_dir/root
	mkdir -p "$R"
	tar -xpf "$_tar" -C "$R" --numeric-owner
	mount --bind /dev "$R/dev"
	mount -t proc proc "$R/proc"
	mount -t sysfs sysfs "$R/sys"
	mount -t tmpfs tmpfs "$R/run"
	mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
	_img() { # NAME: build /boot/bench-NAME.img, print seconds
		_s=$(date +%s)
		if [ "$_gen" = dracut ]; then
			chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
				dracut --force --no-hostonly --kver "$_k" "/boot/bench-$1.img" >&2
		else
			chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
				mkinitramfs -o "/boot/bench-$1.img" "$_k" >&2
		fi
		echo $(($(date +%s) - _s))
	}
	_raw() { # IMG [LIST]: bytes once decompressed (an uncompressed early cpio in front is skipped)
		_sk=$R/usr/lib/dracut/skipcpio
		if [ -x "$_sk" ]; then "$_sk" "$1"; else cat "$1"; fi >"$_dir/main.part"
		case $(od -An -tx1 -N4 "$_dir/main.part" | tr -d ' \n') in
		28b52ffd) zstd -dc "$_dir/main.part" ;;
		1f8b*) gzip -dc "$_dir/main.part" ;;
		04224d18 | 02214c18) lz4 -dc "$_dir/main.part" ;;
		*) cat "$_dir/main.part" ;;
		esac >"$_dir/main.cpio"
		[ -z "${2:-}" ] || cpio -itv --quiet <"$_dir/main.cpio" >"$2" 2>/dev/null || :
		wc -c <"$_dir/main.cpio"
		rm -f "$_dir/main.part" "$_dir/main.cpio"
	}
	without_s=$(_img without)
	"$_repo/scripts/install" --root "$R" --set MODULES=virtio_blk >&2
	with_s=$(_img with)
	{
		printf 'without_s=%s\nwith_s=%s\n' "$without_s" "$with_s"
		printf 'without_c=%s\nwith_c=%s\n' "$(stat -c %s "$R/boot/bench-without.img")" "$(stat -c %s "$R/boot/bench-with.img")"
		printf 'without_u=%s\nwith_u=%s\n' "$(_raw "$R/boot/bench-without.img" "$_dir/without.list")" \
			"$(_raw "$R/boot/bench-with.img" "$_dir/with.list")"
	} >"$_dir/sizes"
	cat "$_dir/sizes"
	umount "$R/tmp" "$R/run" "$R/sys" "$R/proc" "$R/dev"
}

# ---------------------------------------------------------------------------------------------
# cpu: callgrind instruction counts (repeatable on a loaded machine), plus hyperfine wall times
# ---------------------------------------------------------------------------------------------

# bench_callgrind NAME CMD...: instructions executed by CMD (valgrind --tool=callgrind,
# children not traced), printed; the output file is kept as $BENCH_WORK/cpu/NAME.callgrind.
bench_callgrind() {
	_cg_name=$1
	shift
	valgrind --tool=callgrind --callgrind-out-file="$BENCH_WORK/cpu/$_cg_name.callgrind" "$@" \
		>>"$BENCH_WORK/cpu/$_cg_name.log" 2>&1 || {
		tail -n 20 "$BENCH_WORK/cpu/$_cg_name.log" >&2
		return 1
	}
	sed -n 's/^summary: *//p' "$BENCH_WORK/cpu/$_cg_name.callgrind" | head -n 1
}

# bench_hyperfine_ms JSON INDEX: the run times (ms) of hyperfine's INDEXth command.
bench_hyperfine_ms() {
	jq -r --argjson i "$2" '.results[$i].times | map(. * 1000 * 1000 | round / 1000) | map(tostring) | join(" ")' "$1"
}

bench_figure_cpu() {
	ensure_packages valgrind hyperfine grub-common kmod
	_c=$BENCH_WORK/cpu
	R=$_c/root
	mkdir -p "$R/lib/modules" "$R/etc/kmodguard" "$R/boot/grub"
	ln -s "$FIXTURE_ROOT/lib/modules/$K_OLD" "$R/lib/modules/$K_OLD"
	printf 'MODULES="%s"\n' "$FIXTURE_MODULE" >"$R/etc/kmodguard/kmodguard.conf"
	# The guard records its result in ROOT/run/kmodguard (fsync'd file and directory, even in a
	# dry run); /run is a tmpfs in the initramfs, so it is one here too.
	_shm=$(mktemp -d /dev/shm/kmodguard-bench.XXXXXX)
	ln -s "$_shm" "$R/run"
	set -- "$EARLY" --root "$R" --kernel "$K_OLD" --dry-run --no-reboot --log stderr
	"$@" >"$_c/guard.out" 2>&1 || { cat "$_c/guard.out" >&2; die "cpu: the guard's dry run failed on the fixture root"; }
	"$@" 2>&1 | grep -q . || :
	modprobe -n -d "$R" -S "$K_OLD" "$FIXTURE_MODULE" >"$_c/modprobe.out" 2>&1 ||
		{ cat "$_c/modprobe.out" >&2; die "cpu: modprobe -n failed on the fixture root"; }
	_base='' _kg=''
	_i=0
	while [ "$_i" -lt "$RUNS" ]; do
		_i=$((_i + 1))
		_base="$_base $(bench_callgrind "modprobe-$_i" modprobe -n -d "$R" -S "$K_OLD" "$FIXTURE_MODULE")"
		_kg="$_kg $(bench_callgrind "guard-$_i" "$@")"
	done
	bench_row guard-instructions "guard happy path, dry run (fixture root)" "instructions" \
		"modprobe -n (kmod 30, dynamic)" "kmodguard-early --dry-run" "-" "$_base" "$_kg" \
		"callgrind, main program only; $FIXTURE_MODULE on $K_OLD; guard: config + libkmod lookup + vermagic check, modprobe: lookup + dry-run insert"
	hyperfine -N --warmup 3 --runs 30 --export-json "$_c/guard.hyperfine.json" \
		"modprobe -n -d $R -S $K_OLD $FIXTURE_MODULE" "$*" >"$_c/guard.hyperfine.log" 2>&1 ||
		{ cat "$_c/guard.hyperfine.log" >&2; die "cpu: hyperfine failed"; }
	bench_row guard-wall "guard happy path, dry run, wall" ms "modprobe -n" "kmodguard-early --dry-run" "-" \
		"$(bench_hyperfine_ms "$_c/guard.hyperfine.json" 0)" "$(bench_hyperfine_ms "$_c/guard.hyperfine.json" 1)" \
		"hyperfine -N, 3 warm-up + 30 runs each; ROOT/run on tmpfs as in the initramfs (the guard fsyncs its result file there)"
	rm -rf "$_shm"

	# grubenv: the same change to the same 1024-byte block, each run from a fresh copy.
	grub-editenv "$_c/grubenv.orig" create
	grub-editenv "$_c/grubenv.orig" set "kmodguard_last_good=$K_OLD" "saved_entry=gnulinux-advanced-x>gnulinux-$K_OLD-advanced-x"
	_base='' _kg=''
	_i=0
	while [ "$_i" -lt "$RUNS" ]; do
		_i=$((_i + 1))
		cp "$_c/grubenv.orig" "$_c/grubenv.a"
		_base="$_base $(bench_callgrind "grub-editenv-$_i" grub-editenv "$_c/grubenv.a" set kmodguard_trial=armed "kmodguard_trial_kernel=$K_NEW")"
		cp "$_c/grubenv.orig" "$_c/grubenv.b"
		_kg="$_kg $(bench_callgrind "kmodguard-grubenv-$_i" "$KMODGUARD" grubenv --file "$_c/grubenv.b" set kmodguard_trial=armed "kmodguard_trial_kernel=$K_NEW")"
		cmp -s "$_c/grubenv.a" "$_c/grubenv.b" || die "cpu: kmodguard grubenv and grub-editenv wrote different blocks"
	done
	bench_row grubenv-instructions "grubenv set (2 variables)" instructions "grub-editenv FILE set" \
		"kmodguard grubenv --file FILE set" "-" "$_base" "$_kg" \
		"callgrind; the kmodguard CLI is dynamic Swift with Foundation and ArgumentParser: process start-up (dynamic linking, runtime and Foundation initialisation) is most of it; the guard does the same write with KmodguardCore's codec"
	hyperfine -N --warmup 3 --runs 30 --export-json "$_c/grubenv.hyperfine.json" \
		--prepare "cp $_c/grubenv.orig $_c/grubenv.a" "grub-editenv $_c/grubenv.a set kmodguard_trial=armed kmodguard_trial_kernel=$K_NEW" \
		--prepare "cp $_c/grubenv.orig $_c/grubenv.b" "$KMODGUARD grubenv --file $_c/grubenv.b set kmodguard_trial=armed kmodguard_trial_kernel=$K_NEW" \
		>"$_c/grubenv.hyperfine.log" 2>&1 || { cat "$_c/grubenv.hyperfine.log" >&2; die "cpu: hyperfine failed"; }
	bench_row grubenv-wall "grubenv set (2 variables), wall" ms "grub-editenv FILE set" "kmodguard grubenv --file FILE set" "-" \
		"$(bench_hyperfine_ms "$_c/grubenv.hyperfine.json" 0)" "$(bench_hyperfine_ms "$_c/grubenv.hyperfine.json" 1)" \
		"hyperfine -N, 3 warm-up + 30 runs each, fresh copy before each run; both fsync"
}

# ---------------------------------------------------------------------------------------------
# prebuilt: kmodguard complete with a prebuilt module from the database vs from its source
# ---------------------------------------------------------------------------------------------

# bench_scratch_root DIR KVER...: a root with the fixture's module trees (symlinked files),
# virtio_blk's in-tree module removed (as in the e2e image), K's headers, depmod'ed.
bench_scratch_root() {
	_sr=$1
	shift
	mkdir -p "$_sr/lib/modules" "$_sr/etc/kmodguard/keys" "$_sr/boot/grub" "$_sr/run/kmodguard"
	for _sr_k in "$@"; do
		_sr_t=$_sr/lib/modules/$_sr_k
		cp -rs "$FIXTURE_ROOT/lib/modules/$_sr_k" "$_sr_t"
		rm -rf "$_sr_t/updates" "$_sr_t/build" "$_sr_t/source"
		rm -f "$_sr_t/kernel/drivers/block/virtio_blk.ko"
		ln -s "/usr/src/linux-headers-$_sr_k" "$_sr_t/build"
		depmod -b "$_sr" "$_sr_k"
		: >"$_sr/boot/vmlinuz-$_sr_k"
	done
}

bench_figure_prebuilt() {
	_p=$BENCH_WORK/prebuilt
	mkdir -p "$_p"
	chmod 0755 "$_p"
	for _k in "$K_OLD" "$K_NEW"; do
		[ -f "/usr/src/linux-headers-$_k/Makefile" ] || ensure_packages "linux-headers-$_k"
	done
	# The publisher: one key, two databases (the same source; one with modules prebuilt for
	# both kernels, one with the source only).
	bench_scratch_root "$_p/publisher" "$K_OLD" "$K_NEW"
	"$KMODGUARD" keygen --out "$_p/keys" --name bench >"$_p/publish.log" 2>&1
	"$KMODGUARD" --root "$_p/publisher" publish --source "$VIRTIO_SRC" --key "$_p/keys/bench.key" \
		--out "$_p/db-prebuilt" --prebuilt "$K_OLD" --prebuilt "$K_NEW" >>"$_p/publish.log" 2>&1 ||
		{ cat "$_p/publish.log" >&2; die "prebuilt: kmodguard publish --prebuilt failed"; }
	"$KMODGUARD" --root "$_p/publisher" publish --source "$VIRTIO_SRC" --key "$_p/keys/bench.key" \
		--out "$_p/db-source" >>"$_p/publish.log" 2>&1 ||
		{ cat "$_p/publish.log" >&2; die "prebuilt: kmodguard publish failed"; }
	# The machine: booted K_OLD with the guard passing; K_NEW and K_OLD both lack virtio_blk.
	bench_scratch_root "$_p/machine" "$K_OLD" "$K_NEW"
	sed -e "s/6\.1\.0-56-cloud-amd64/@NEW@/g" -e "s/6\.1\.0-55-cloud-amd64/@OLD@/g" \
		-e "s/@NEW@/$K_NEW/g" -e "s/@OLD@/$K_OLD/g" \
		"$BENCH_REPO/Tests/Fixtures/grub/two-kernels.cfg" >"$_p/machine/boot/grub/grub.cfg"
	printf 'outcome=passed\nkernel=%s\n' "$K_OLD" >"$_p/machine/run/kmodguard/early-result"
	cp "$_p/keys/bench.pub" "$_p/machine/etc/kmodguard/keys/bench.pub"
	_base='' _kg='' _basec='' _kgc=''
	_i=0
	while [ "$_i" -lt "$RUNS" ]; do
		_i=$((_i + 1))
		for _kind in source prebuilt; do
			_m=$_p/run-$_kind-$_i
			cp -a "$_p/machine" "$_m"
			printf 'MODULES="virtio_blk"\nDATABASE_URL="file://%s/"\nACTIVATE="none"\n' "$_p/db-$_kind" \
				>"$_m/etc/kmodguard/kmodguard.conf"
			# shellcheck disable=SC2046 # two numbers
			set -- $(bench_time "$_p/complete-$_kind-$_i.log" "$KMODGUARD" --root "$_m" complete \
				--running "$K_OLD" --no-reboot) || die "prebuilt: kmodguard complete ($_kind) failed"
			for _k in "$K_OLD" "$K_NEW"; do
				[ -f "$_m/lib/modules/$_k/updates/kmodguard/virtio_blk.ko" ] ||
					die "prebuilt: complete ($_kind) installed no virtio_blk.ko for $_k (log: $_p/complete-$_kind-$_i.log)"
			done
			if [ "$_kind" = source ]; then
				_base="$_base $1" _basec="$_basec $2"
			else
				_kg="$_kg $1" _kgc="$_kgc $2"
			fi
			rm -rf "$_m"
		done
	done
	# What the prebuilt path cannot avoid: depmod of each kernel's full module tree.
	_dep=''
	_i=0
	while [ "$_i" -lt "$RUNS" ]; do
		_i=$((_i + 1))
		# shellcheck disable=SC2046
		set -- $(bench_time "$_p/depmod.log" depmod -b "$_p/machine" "$K_NEW")
		_dep="$_dep $1"
	done
	# shellcheck disable=SC2046
	set -- $(bench_stats "$_dep")
	bench_row prebuilt-wall "complete for 2 kernels: database prebuilt vs source (virtio_blk)" s \
		"complete, source from the database" "complete, prebuilt from the database" "<= 0.05 (20x)" "$_base" "$_kg" \
		"file:// database, ACTIVATE=none, no initramfs images in the scratch root (that step is the same both ways); the prebuilt path runs depmod once per kernel, median $2 s each here (min $3, max $4): that floor limits the ratio"
	bench_row prebuilt-cpu "complete for 2 kernels, CPU (user+sys)" s \
		"complete, source" "complete, prebuilt" "-" "$_basec" "$_kgc"
}

# ---------------------------------------------------------------------------------------------
# rebuild: kmodguard build + update-initramfs vs dkms build + dkms install + update-initramfs
# ---------------------------------------------------------------------------------------------

# _bench_dkms_sum JSON NAME FIELD STEP...: per run, the sum over STEPs of FIELD (wall, or cpu =
# user + sys), space-separated.
_bench_dkms_sum() {
	_bds_json=$1 _bds_name=$2 _bds_field=$3
	shift 3
	jq -r --arg n "$_bds_name" --arg f "$_bds_field" --arg steps "$*" '
		.modules[] | select(.name == $n) | .steps as $s | ($steps | split(" ")) as $want |
		[range(0; ($s[$want[0]].runs | length))] |
		map(. as $i | [$want[] | $s[.].runs[$i] | if $f == "cpu" then .user + .sys else .wall end] | add) |
		map(. * 100 | round / 100 | tostring) | join(" ")' "$_bds_json"
}

bench_figure_rebuild() {
	_rb=$BENCH_WORK/rebuild
	mkdir -p "$_rb"
	_runs=3
	[ -z "$ONLY_RUNS_SET" ] || _runs=$RUNS
	set --
	[ -z "$QUICK" ] || { _runs=1; set -- virtio_blk; }
	"$BENCH_REPO/scripts/bench-dkms-baseline" --kmodguard "$KMODGUARD" --runs "$_runs" --warmup 1 \
		--json "$_rb/dkms.json" "$@" >"$_rb/report.txt" 2>"$_rb/log" ||
		{ tail -n 40 "$_rb/log" >&2; die "rebuild: scripts/bench-dkms-baseline failed"; }
	_dv=$(jq -r .dkms_version "$_rb/dkms.json")
	for _name in $(jq -r '.modules[].name' "$_rb/dkms.json"); do
		_add=$(bench_stats "$(_bench_dkms_sum "$_rb/dkms.json" "$_name" wall add)" | cut -d' ' -f2)
		_make=$(bench_stats "$(_bench_dkms_sum "$_rb/dkms.json" "$_name" cpu make)" | cut -d' ' -f2)
		_dkms_b=$(bench_stats "$(_bench_dkms_sum "$_rb/dkms.json" "$_name" cpu build install)" | cut -d' ' -f2)
		_kg_b=$(bench_stats "$(_bench_dkms_sum "$_rb/dkms.json" "$_name" cpu kg-build)" | cut -d' ' -f2)
		_init=$(bench_stats "$(_bench_dkms_sum "$_rb/dkms.json" "$_name" wall initramfs)" | cut -d' ' -f2)
		bench_row "rebuild-$_name-wall" "$_name: build + install + initramfs, wall" s \
			"dkms build && dkms install && update-initramfs -u" "kmodguard build && update-initramfs -u" "<= 1.0" \
			"$(_bench_dkms_sum "$_rb/dkms.json" "$_name" wall build install initramfs)" \
			"$(_bench_dkms_sum "$_rb/dkms.json" "$_name" wall kg-build kg-initramfs)" \
			"dkms $_dv, $K_NEW, same chroot, interleaved; update-initramfs alone: median $_init s of it (dkms add, not counted: $_add s)"
		bench_row "rebuild-$_name-cpu" "$_name: build + install + initramfs, CPU (user+sys)" s \
			"dkms build, install, update-initramfs" "kmodguard build, update-initramfs" "<= 1.0" \
			"$(_bench_dkms_sum "$_rb/dkms.json" "$_name" cpu build install initramfs)" \
			"$(_bench_dkms_sum "$_rb/dkms.json" "$_name" cpu kg-build kg-initramfs)" \
			"without the initramfs step (CPU): dkms build+install $_dkms_b s, kmodguard build $_kg_b s, plain make $_make s"
	done
}
