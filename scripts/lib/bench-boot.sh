# shellcheck shell=sh
# Variables set here are read by scripts/bench:
# shellcheck disable=SC2034
# bench-boot.sh - the QEMU figures of scripts/bench: boot (the guard's happy path vs plain
# modprobe, kernel start -> switch_root with and without kmodguard) and recovery (scripts/e2e's
# main scenario; the guard's decision vs an unguarded initramfs's root wait). Source after
# common.sh, qemu.sh, bench.sh, e2e-image.sh, e2e-boot.sh and e2e-scenarios.sh.
#
# The boots use the e2e images (initramfs-tools, split layout: /boot on NVMe, / on virtio) but
# start the kernel directly (QEMU -kernel/-initrd: no SeaBIOS/GRUB disk load, which is the same
# for both images and costs ~7 s under TCG), with the disks in snapshot mode (nothing written
# to the cached images). Each image's initrd is unpacked and repacked (lz4 -l, as the image's
# own) with marks added: tiny scripts that write "kmodguard-bench: NAME" to /dev/kmsg, so the
# console shows them with the kernel's printk timestamps:
#
#   local-top:  start -> (kmodguard's own local-top script | modprobe virtio_blk | nothing) -> end
#   init-bottom (last): switch -- right before run-init switches to the root filesystem
#
# init=/bin/true + panic=-1: once run-init execs the root's "init", it exits, the kernel panics
# and reboots at once, and QEMU (-no-reboot) ends: a boot costs kernel + initramfs only.

BENCH_ROOT_UUID=5e2e0001-4b1d-4c2a-9e6f-0a1b2c3d4e01
BENCH_E2E_LOCKED=''

# bench_lock_e2e: take the e2e lock (lib/common.sh's with_lock: fd 9) in the calling shell, once;
# kept until bench_unlock_e2e or the end of scripts/bench, so boot and recovery do not queue
# for it twice. Call it in the main shell, not in a subshell.
bench_lock_e2e() {
	[ -z "$BENCH_E2E_LOCKED" ] || return 0
	log "waiting for the e2e lock ($KMODGUARD_CACHE/.e2e.lock: scripts/e2e runs hold it)"
	with_lock e2e
	BENCH_E2E_LOCKED=1
	log "got the e2e lock"
}

# bench_unlock_e2e: release it (before running scripts/e2e, which takes it itself).
bench_unlock_e2e() {
	exec 9>&-
	BENCH_E2E_LOCKED=''
}

# _bench_mark_script NAME [COMMAND]: an initramfs-tools boot script that runs COMMAND (if any)
# and then writes the mark NAME.
_bench_mark_script() {
	cat <<EOF
#!/bin/sh
PREREQ=""
case \$1 in prereqs) echo "\$PREREQ"; exit 0 ;; esac
${2:-:}
echo "<6>kmodguard-bench: $1" >/dev/kmsg
exit 0
EOF
}

# bench_initrd IMAGEDIR KVER VARIANT OUT [noautoload] [addmodule]: OUT = KVER's initrd of the image, with
# the marks. VARIANT: guard (kmodguard's local-top script between start and end), modprobe
# (modprobe virtio_blk between them), none. noautoload: a udev rule in the image clears the
# MODALIAS of the virtio block device, so udev's coldplug does not load virtio_blk and the step
# under test does. (A "blacklist virtio_blk" -- modprobe.d or modprobe.blacklist= -- is no
# substitute: seen here, kmod 30's modprobe then exits 0 without loading the module even when
# it is named explicitly, while the guard's libkmod probe loads it.)
bench_initrd() {
	_bi_dir=$BENCH_WORK/boot/initrd-$3-$(basename "$1")
	rm -rf "$_bi_dir"
	mkdir -p "$_bi_dir"
	_bi_src=$BENCH_WORK/boot/$(basename "$1")-initrd.img-$2
	if [ ! -s "$_bi_src" ]; then
		_bi_boot=$(($(partx -g -o START -n 2 "$1/boot.img" | tr -d ' ') * 512))
		debugfs -R "dump /initrd.img-$2 $_bi_src" "$1/boot.img?offset=$_bi_boot" >/dev/null 2>&1
		debugfs -R "dump /vmlinuz-$2 $BENCH_WORK/boot/vmlinuz-$2" "$1/boot.img?offset=$_bi_boot" >/dev/null 2>&1
		if [ ! -s "$_bi_src" ] || [ ! -s "$BENCH_WORK/boot/vmlinuz-$2" ]; then die "boot: no kernel/initrd $2 in $1/boot.img"; fi
	fi
	unmkinitramfs "$_bi_src" "$_bi_dir/x" || die "boot: unmkinitramfs $_bi_src failed"
	_bi_root=$_bi_dir/x
	[ -d "$_bi_root/main" ] && _bi_root=$_bi_root/main
	_bi_mods=$_bi_root/usr/lib/modules/$2
	case " $* " in *" addmodule "*) _bi_add=1 ;; *) _bi_add='' ;; esac
	if [ -n "$_bi_add" ] && ! find "$_bi_mods" -name 'virtio_blk.ko*' | grep -q .; then
		# initramfs-tools (MODULES=most) never copies updates/: a DKMS user adds the driver to
		# /etc/initramfs-tools/modules. Do that here: the module from the image's root
		# filesystem, depmod on the image's tree.
		_bi_rootoff=$(($(partx -g -o START -n 1 "$1/root.img" | tr -d ' ') * 512))
		mkdir -p "$_bi_mods/updates/dkms"
		debugfs -R "dump /usr/lib/modules/$2/updates/dkms/virtio_blk.ko $_bi_mods/updates/dkms/virtio_blk.ko" \
			"$1/root.img?offset=$_bi_rootoff" >/dev/null 2>&1
		[ -s "$_bi_mods/updates/dkms/virtio_blk.ko" ] ||
			die "boot: no updates/dkms/virtio_blk.ko for $2 in $1/root.img"
		depmod -b "$_bi_root" "$2" || die "boot: depmod on the unpacked initrd failed"
	fi
	_bi_lt=$_bi_root/scripts/local-top
	mkdir -p "$_bi_lt" "$_bi_root/scripts/init-bottom"
	_bench_mark_script start >"$_bi_lt/bench_start"
	# After the end mark (outside the timed step): what modprobe said, if anything.
	# shellcheck disable=SC2016 # expanded in the guest
	_bench_mark_script end 'echo "<6>kmodguard-bench: end" >/dev/kmsg
if [ -s /run/bench-modprobe.out ]; then
	while read -r l; do echo "<6>kmodguard-bench-modprobe: $l" >/dev/kmsg; done </run/bench-modprobe.out
fi
exit 0' >"$_bi_lt/bench_end"
	case $3 in
	guard)
		[ -x "$_bi_lt/kmodguard" ] || die "boot: $1 has no kmodguard local-top script"
		_bi_mid='/scripts/local-top/kmodguard "$@"'
		;;
	modprobe)
		_bench_mark_script modprobed 'modprobe virtio_blk >/run/bench-modprobe.out 2>&1 || echo "modprobe virtio_blk: exit $?" >>/run/bench-modprobe.out' >"$_bi_lt/bench_modprobe"
		_bi_mid='/scripts/local-top/bench_modprobe "$@"'
		;;
	none) _bi_mid=':' ;;
	esac
	# ORDER: the marks around the step under test, then whatever else the image had.
	{
		printf '/scripts/local-top/bench_start "$@"\n[ -e /conf/param.conf ] && . /conf/param.conf\n'
		printf '%s\n[ -e /conf/param.conf ] && . /conf/param.conf\n' "$_bi_mid"
		printf '/scripts/local-top/bench_end "$@"\n[ -e /conf/param.conf ] && . /conf/param.conf\n'
		if [ -f "$_bi_lt/ORDER" ]; then
			grep -v -e 'local-top/kmodguard' -e '^\[ -e /conf/param.conf \]' "$_bi_lt/ORDER" |
				sed 's|$|\n[ -e /conf/param.conf ] \&\& . /conf/param.conf|'
		fi
	} >"$_bi_lt/ORDER.new"
	mv "$_bi_lt/ORDER.new" "$_bi_lt/ORDER"
	if [ "${5:-}" = noautoload ]; then
		mkdir -p "$_bi_root/etc/udev/rules.d"
		# virtio device id 2 = block.
		echo 'ACTION=="add", ENV{MODALIAS}=="virtio:d00000002v*", ENV{MODALIAS}=""' \
			>"$_bi_root/etc/udev/rules.d/79-kmodguard-bench.rules"
	fi
	_bench_mark_script switch >"$_bi_root/scripts/init-bottom/bench_switch"
	{
		[ ! -f "$_bi_root/scripts/init-bottom/ORDER" ] || cat "$_bi_root/scripts/init-bottom/ORDER"
		printf '/scripts/init-bottom/bench_switch "$@"\n[ -e /conf/param.conf ] && . /conf/param.conf\n'
	} >"$_bi_root/scripts/init-bottom/ORDER.new"
	mv "$_bi_root/scripts/init-bottom/ORDER.new" "$_bi_root/scripts/init-bottom/ORDER"
	chmod 0755 "$_bi_lt"/bench_* "$_bi_root/scripts/init-bottom/bench_switch"
	(cd "$_bi_root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | lz4 -l -q -c) >"$4"
	rm -rf "$_bi_dir"
}

# bench_qemu IMAGEDIR KVER INITRD CONSOLE APPEND: one direct kernel boot; prints its wall ms and
# how it ended (reboot | watchdog).
bench_qemu() {
	qemu_run --serial "$4" --mem 1024 --smp 2 --timeout 240 --kernel "$BENCH_WORK/boot/vmlinuz-$2" "$3" \
		"root=UUID=$BENCH_ROOT_UUID ro console=ttyS0,115200 panic=-1 init=/bin/true printk.devkmsg=on $5" \
		--disk nvme "$1/boot.img" snapshot=on serial=e2eboot \
		--disk virtio-blk-pci "$1/root.img" snapshot=on "" --net ""
	_bq_end=reboot
	[ "$QEMU_END" != timeout ] || _bq_end=watchdog
	echo "$QEMU_MS $_bq_end"
}

# bench_mark_time CONSOLE REGEX: the printk timestamp (s) of the first console line matching
# REGEX, or "" when none does.
bench_mark_time() {
	tr -d '\r' <"$1" | grep -a -E -e "$2" | sed -n 's/.*\[ *\([0-9]*\.[0-9]*\)\] .*/\1/p' | head -n 1
}

# bench_ms A B: (B - A) * 1000, or "" when either is missing.
bench_ms() {
	[ -n "$1" ] && [ -n "$2" ] || return 0
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
}

_bench_boot_images() {
	e2e_kernels
	e2e_driver_source
	e2e_package "$BENCH_WORK/package"
	BENCH_GUARDED=$(e2e_image initramfs-tools split guarded "$BENCH_WORK/package/kmodguard.deb")
	BENCH_CONTROL=$(e2e_image initramfs-tools split control)
}

bench_figure_boot() {
	ensure_packages qemu-system-x86 e2fsprogs fdisk util-linux initramfs-tools-core lz4 zstd cpio mmdebstrap \
		grub-common jq
	mkdir -p "$BENCH_WORK/boot"
	bench_lock_e2e
	(
		_bench_boot_images
		_b=$BENCH_WORK/boot
		# K_OLD: its virtio_blk (updates/dkms) is in both images, so both boot.
		bench_initrd "$BENCH_CONTROL" "$E2E_K_OLD" modprobe "$_b/control-load.img" noautoload addmodule
		bench_initrd "$BENCH_GUARDED" "$E2E_K_OLD" guard "$_b/guarded-load.img" noautoload
		bench_initrd "$BENCH_CONTROL" "$E2E_K_OLD" none "$_b/control-normal.img" - addmodule
		bench_initrd "$BENCH_GUARDED" "$E2E_K_OLD" guard "$_b/guarded-normal.img"
		: >"$_b/results"
		_i=0
		while [ "$_i" -lt "$BOOTS" ]; do
			_i=$((_i + 1))
			# With udev's autoload of virtio_blk off (load), the step between the marks really
			# loads the module; without (normal), udev has loaded it before local-top and the
			# boot is an ordinary one.
			for _v in "control modprobe load" "guarded guard load" "control none normal" "guarded guard normal"; do
				# shellcheck disable=SC2086 # three words
				set -- $_v
				_img=$BENCH_CONTROL
				[ "$1" = guarded ] && _img=$BENCH_GUARDED
				_con=$_b/boot-$1-$3-$_i.console
				# shellcheck disable=SC2046
				set -- "$1" "$2" "$3" $(bench_qemu "$_img" "$E2E_K_OLD" "$_b/$1-$3.img" "$_con" "")
				_s=$(bench_mark_time "$_con" 'kmodguard-bench: start$')
				_e=$(bench_mark_time "$_con" 'kmodguard-bench: end$')
				_w=$(bench_mark_time "$_con" 'kmodguard-bench: switch$')
				_ok=ok
				[ "$5" = reboot ] && [ -n "$_s" ] && [ -n "$_e" ] && [ -n "$_w" ] || _ok=incomplete
				if [ "$2" = guard ] && ! tr -d '\r' <"$_con" | grep -a -q 'kmodguard-early exit 0 after'; then
					_ok=guard-failed
				fi
				# The driver's probe ("virtio_blk virtio1: [vda] ..."): between the marks when
				# autoload is off, before them otherwise.
				_p=$(bench_mark_time "$_con" 'virtio_blk virtio[0-9]+: \[vd')
				if [ "$3" = load ] && [ -n "$_p" ] && [ -n "$_s" ] &&
					awk -v p="$_p" -v s="$_s" 'BEGIN { exit !(p < s) }'; then
					_ok=loaded-before-step
				fi
				# The guard's own "module virtio_blk: loaded" line: the load part of its step.
				_gl=$(bench_mark_time "$_con" 'kmodguard: module virtio_blk: loaded')
				printf '%s %s %s %s %s %s %s %s %s\n' "$1" "$3" "$_i" "$_ok" "$(bench_ms "$_s" "$_e")" \
					"$(awk -v w="$_w" 'BEGIN { printf "%.3f", w }')" "$4" "$5" "$(bench_ms "$_s" "$_gl")" >>"$_b/results"
				log "boot $_i $1/$3: $_ok, step $(bench_ms "$_s" "$_e") ms, switch_root at $_w s, QEMU $4 ms"
			done
		done
	) || die "boot: the boots failed"
	_b=$BENCH_WORK/boot
	_vals() { # IMAGE KIND FIELD
		awk -v i="$1" -v k="$2" -v f="$3" '$1 == i && $2 == k && $4 == "ok" { printf "%s ", $f }' "$_b/results"
	}
	_bad=$(awk '$4 != "ok"' "$_b/results" | wc -l)
	bench_row boot-load "module load step in the initramfs (udev autoload off)" ms \
		"modprobe virtio_blk" "kmodguard-early (load + WAIT_FOR root UUID)" "<= 1.1" \
		"$(_vals control load 5)" "$(_vals guarded load 5)" \
		"e2e image initramfs-tools/split, $K_OLD, direct kernel boot under TCG; printk time between marks written right before and after the step; of the guard's step, start mark -> its 'module virtio_blk: loaded' line took median $(bench_stats "$(_vals guarded load 9)" | cut -d' ' -f2) ms (the rest: the WAIT_FOR UUID lookup with libblkid, its result file, the hook's logging); $_bad boot(s) discarded (incomplete or guard not ok)"
	bench_row boot-switchroot "kernel start -> switch_root, ordinary boot" s \
		"no kmodguard (control image)" "kmodguard image (guard in local-top)" "-" \
		"$(_vals control normal 6)" "$(_vals guarded normal 6)" \
		"printk time of a mark at the end of init-bottom; guard step in these boots (virtio_blk already loaded by udev): median $(bench_stats "$(_vals guarded normal 5)" | cut -d' ' -f2) ms vs empty step $(bench_stats "$(_vals control normal 5)" | cut -d' ' -f2) ms; with autoload off: switch_root at $(bench_stats "$(_vals control load 6)" | cut -d' ' -f2) s (modprobe) vs $(bench_stats "$(_vals guarded load 6)" | cut -d' ' -f2) s (guard)"
}

# ---------------------------------------------------------------------------------------------
# recovery
# ---------------------------------------------------------------------------------------------

bench_figure_recovery() {
	ensure_packages qemu-system-x86 e2fsprogs fdisk util-linux initramfs-tools-core lz4 zstd cpio mmdebstrap \
		grub-common jq
	_r=$BENCH_WORK/recovery
	mkdir -p "$_r" "$BENCH_WORK/boot"
	# (1) The guard's decision vs the unguarded root wait: K_NEW (no virtio_blk) booted directly,
	# panic=-1 so initramfs-tools' panic reboots at once when it gives up on the root device.
	bench_lock_e2e
	(
		_bench_boot_images
		bench_initrd "$BENCH_CONTROL" "$E2E_K_NEW" none "$_r/control-new.img"
		bench_initrd "$BENCH_GUARDED" "$E2E_K_NEW" guard "$_r/guarded-new.img"
		: >"$_r/results"
		_n=$((RUNS < 3 ? RUNS : 3))
		_i=0
		while [ "$_i" -lt "$_n" ]; do
			_i=$((_i + 1))
			for _v in control guarded; do
				_img=$BENCH_CONTROL
				[ "$_v" = guarded ] && _img=$BENCH_GUARDED
				_con=$_r/boot-$_v-$_i.console
				# shellcheck disable=SC2046
				set -- $(bench_qemu "$_img" "$E2E_K_NEW" "$_r/$_v-new.img" "$_con" "")
				_s=$(bench_mark_time "$_con" 'kmodguard-bench: start$')
				_g=$(bench_mark_time "$_con" 'kmodguard: ')
				_end=$(bench_mark_time "$_con" 'reboot: Restarting system')
				printf '%s %s %s %s %s %s\n' "$_v" "$_i" "$2" "$(bench_ms "$_s" "$_end")" \
					"$(bench_ms "$_g" "$_end")" "$1" >>"$_r/results"
				log "recovery boot $_i $_v ($E2E_K_NEW): $2, local-top start -> reboot $(bench_ms "$_s" "$_end") ms"
			done
		done
	) || die "recovery: the boots failed"
	_vals() { # KIND FIELD
		awk -v k="$1" -v f="$2" '$1 == k && $3 == "reboot" && $f != "" { printf "%s ", $f }' "$_r/results"
	}
	bench_row decision "missing driver: local-top start -> reboot" s \
		"no kmodguard: initramfs-tools root wait, then panic=-1" "kmodguard: guard falls back (writes grubenv, reboots)" "< 1 s" \
		"$(_vals control 4 | awk '{ for (i = 1; i <= NF; i++) printf "%.3f ", $i / 1000 }')" \
		"$(_vals guarded 4 | awk '{ for (i = 1; i <= NF; i++) printf "%.3f ", $i / 1000 }')" \
		"$K_NEW without virtio_blk, direct kernel boot; the guard's first kmsg line -> reboot: median $(bench_stats "$(_vals guarded 5)" | cut -d' ' -f2) ms; WAIT_FOR is set in the e2e image (root UUID, 20 s) but a module that is not there fails at once. Without panic=-1 (Debian's default) the unguarded machine stays in the initramfs shell"

	# (2) scripts/e2e: the whole story, boots and wall time, from a kept run directory (its
	# results.raw: "scenario generator layout result boots seconds passed failed" and each
	# scenario's timeline) -- ours, or one named with --e2e-kept.
	_kept=${E2E_KEPT:-}
	if [ -z "$_kept" ]; then
		bench_unlock_e2e
		log "recovery: scripts/e2e --scenario control --scenario main --keep (takes the e2e lock itself)"
		if ! KMODGUARD_E2E_NO_BUILD=1 "$BENCH_REPO/scripts/e2e" --scenario control --scenario main --keep \
			--json "$_r/e2e.json" >"$_r/e2e.out" 2>"$_r/e2e.err"; then
			tail -n 30 "$_r/e2e.err" >&2
			log "recovery: scripts/e2e reported failures; recording what it measured"
		fi
		_kept=$(sed -n 's/.*kept \(.*kmodguard-e2e\.[A-Za-z0-9]*\)$/\1/p' "$_r/e2e.err" | tail -n 1)
	fi
	if [ -z "$_kept" ] || [ ! -s "$_kept/results.raw" ]; then
		die "recovery: no scripts/e2e results (results.raw) in '${_kept}'"
	fi
	# The main scenario (initramfs-tools/split preferred), else main-database.
	_main=$(awk '$1 == "main" && $2 == "initramfs-tools" && $3 == "split"' "$_kept/results.raw" | head -n 1)
	[ -n "$_main" ] || _main=$(awk '$1 == "main"' "$_kept/results.raw" | head -n 1)
	[ -n "$_main" ] || _main=$(awk '$1 == "main-database"' "$_kept/results.raw" | head -n 1)
	[ -n "$_main" ] || die "recovery: $_kept has no main scenario"
	_ctl=$(awk '$1 == "control"' "$_kept/results.raw" | head -n 1)
	# shellcheck disable=SC2086 # eight fields
	set -- $_main
	_mname="$1 $2/$3" _mresult=$4 _mboots=$5 _msecs=$6
	_timeline=''
	if [ -f "$_kept/$1-$2-$3/timeline" ]; then
		_timeline=$(grep '^boot ' "$_kept/$1-$2-$3/timeline" |
			awk '{ printf "%s%s %s %s %s", sep, $2, $3, $4, $5; sep = "; " }')
		cp "$_kept/$1-$2-$3/timeline" "$_r/main.timeline"
	fi
	_csecs=''
	[ -z "$_ctl" ] || _csecs=$(printf '%s\n' "$_ctl" | awk '{ print $6 }')
	bench_row recovery-boots "failed new kernel -> new kernel running with its driver: boots" boots \
		"no kmodguard: never (initramfs shell; control boot shown)" "kmodguard (e2e $_mname)" "1 extra boot" \
		"" "$_mboots" \
		"e2e $_mname ($_mresult): $_timeline; the control scenario's one boot ends in the initramfs shell (needs a person)"
	bench_row recovery-time "failed new kernel -> new kernel running: wall time (TCG)" s \
		"no kmodguard: time to the initramfs shell (control)" "kmodguard (e2e $_mname, all boots)" "-" \
		"$_csecs" "$_msecs" \
		"scripts/e2e's scenario seconds (GRUB BIOS loads included); the completion boot is mostly the guest's module build and mkinitramfs under TCG (docs/e2e.md); e2e run kept in $_kept"
}
