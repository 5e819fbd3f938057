#!/bin/bash
# dracut module "kmodguard": puts kmodguard-early, its configuration, the guarded kernel modules
# and the filesystem modules for /boot into the image, and runs the guard from a pre-trigger hook,
# i.e. before anything waits for the root device; from the initqueue, once udev has assembled
# the array, when /boot is on md RAID (docs/initramfs.md).
#
# Sourced by dracut (bash); check/depends/installkernel/install are its entry points. Helpers are
# prefixed kmodguard_ and keep their variables local: this file shares dracut's namespace.
# dracut sets kernel, moddir, initdir and dracutsysrootdir:
# shellcheck disable=SC2154

kmodguard_early=/usr/sbin/kmodguard-early
kmodguard_conf=/etc/kmodguard/kmodguard.conf

# kmodguard_validate: true when kmodguard.conf exists and the guard itself accepts it (the guard's
# parser refuses anything a shell would expand, which makes sourcing it below safe). Reasons go
# to dracut's log.
kmodguard_validate() {
    local _sysroot=${dracutsysrootdir:-/} _out _rc=0
    if [[ ! -f $dracutsysrootdir$kmodguard_conf ]]; then
        dwarn "kmodguard: $kmodguard_conf is missing: not adding the guard (restore it: apt-get install --reinstall -o Dpkg::Options::=--force-confmiss kmodguard)"
        return 1
    fi
    _out=$("$dracutsysrootdir$kmodguard_early" --root "$_sysroot" --check --kernel "${kernel:?}" \
        --config "$dracutsysrootdir$kmodguard_conf" --log stderr 2>&1) || _rc=$?
    if ((_rc == 4 || _rc == 64)); then
        dwarn "kmodguard: $kmodguard_conf is not usable (kmodguard-early exit $_rc): not adding the guard"
        [[ $_out ]] && printf '%s\n' "$_out" | while IFS= read -r _line; do dwarn "  $_line"; done
        return 1
    fi
    return 0
}

# kmodguard_conf_value KEY: the value of KEY in kmodguard.conf (a subshell sources it, so nothing
# leaks into dracut). Call kmodguard_validate first.
kmodguard_conf_value() {
    (
        unset MODULES WAIT_FOR BOOT_DEVICE GRUBENV
        # shellcheck disable=SC1090 # the admin's file, validated by kmodguard-early
        . "$dracutsysrootdir$kmodguard_conf" > /dev/null 2>&1 || exit 0
        case $1 in
            MODULES) printf '%s\n' "${MODULES-}" ;;
            WAIT_FOR) printf '%s\n' "${WAIT_FOR-}" ;;
            BOOT_DEVICE) printf '%s\n' "${BOOT_DEVICE-}" ;;
            GRUBENV) printf '%s\n' "${GRUBENV:-/boot/grub/grubenv}" ;;
        esac
    )
}

# kmodguard_verified_kernels: the kernels under /lib/modules whose tree holds every guarded module
# built for them, one per line (`kmodguard-early --check`). Inside the initramfs other kernels'
# trees are invisible; the guard uses this list to choose a fallback kernel.
kmodguard_verified_kernels() {
    local _dir _k _sysroot=${dracutsysrootdir:-/}
    for _dir in "$dracutsysrootdir"/lib/modules/*/; do
        _k=${_dir%/}
        _k=${_k##*/}
        [[ -f $_dir/modules.dep ]] || continue
        if "$dracutsysrootdir$kmodguard_early" --root "$_sysroot" --check --kernel "$_k" \
            --config "$dracutsysrootdir$kmodguard_conf" --log stderr > /dev/null 2>&1; then
            printf '%s\n' "$_k"
        fi
    done
}

# kmodguard_boot_md_uuid: when BOOT_DEVICE is (a partition of) an md array on this host, the
# array's UUID as mdadm prints it (MD_UUID, with colons); nothing otherwise.
kmodguard_boot_md_uuid() {
    local _tag _dev _name _line
    _tag=$(kmodguard_conf_value BOOT_DEVICE)
    [[ $_tag ]] || return 0
    _dev=$(blkid -l -o device -t "$_tag" 2> /dev/null) && [[ $_dev ]] || return 0
    _name=$(readlink -f "$_dev")
    _name=${_name##*/}
    if [[ -e /sys/class/block/$_name/partition ]]; then
        _name=$(readlink -f "/sys/class/block/$_name/..")
        _name=${_name##*/}
    fi
    [[ -d /sys/class/block/$_name/md ]] || return 0
    if ! command -v mdadm > /dev/null; then
        dwarn "kmodguard: BOOT_DEVICE $_tag is on md array /dev/$_name, but mdadm is not installed: at boot the guard cannot reach grubenv"
        return 0
    fi
    mdadm --detail --export "/dev/$_name" 2> /dev/null | while read -r _line; do
        [[ $_line == MD_UUID=* ]] && printf '%s\n' "${_line#MD_UUID=}"
    done
    return 0
}

# called by dracut
check() {
    local _modules _wait_for
    # Without the binary there is nothing to run.
    require_binaries "$kmodguard_early" || return 1
    # A missing or unreadable configuration would only make the guard log and exit 4.
    kmodguard_validate || return 1
    _modules=$(kmodguard_conf_value MODULES)
    _wait_for=$(kmodguard_conf_value WAIT_FOR)
    # Installed but not configured: nothing to guard. Include only when asked (--add kmodguard),
    # e.g. to try the plumbing. The same in hostonly and generic images: the configuration, not
    # the host's hardware, says which driver the root device needs.
    [[ -z ${_modules//[[:space:]]/} && -z ${_wait_for//[[:space:]]/} ]] && return 255
    return 0
}

# called by dracut
depends() {
    # Only "base" (dracut-lib.sh for the hook), which every image has.
    return 0
}

# called by dracut
installkernel() {
    local _m _modules
    _modules=$(kmodguard_conf_value MODULES)
    # hostonly='': the guarded driver must be in the image even when it is not loaded on the
    # build host (a new kernel, a generic image, a driver that was just rebuilt into updates/).
    for _m in $_modules; do
        hostonly='' instmods -c -s "$_m" \
            || dwarn "kmodguard: module '$_m' not found for kernel $kernel: not in this image"
    done
    # To mount the filesystem holding grubenv (BOOT_DEVICE): ext4, or vfat for an ESP.
    hostonly='' instmods ext4 vfat nls_cp437 nls_ascii
    return 0
}

# called by dracut
install() {
    local _list _out _line _grubenv _uuid _md
    inst_binary "$kmodguard_early"
    inst_simple "$kmodguard_conf"
    inst_script "$moddir/kmodguard-guard.sh" /sbin/kmodguard-guard

    # Generated now, for the kernels installed at image-build time.
    _list=$(mktemp "${DRACUT_TMPDIR:-${TMPDIR:-/tmp}}/kmodguard-verified.XXXXXX") || return 1
    kmodguard_verified_kernels > "$_list"
    chmod 0644 "$_list"
    inst_simple "$_list" /etc/kmodguard/verified-kernels
    if [[ -w $dracutsysrootdir/etc/kmodguard ]] \
        && ! cmp -s "$_list" "$dracutsysrootdir/etc/kmodguard/verified-kernels"; then
        # Keep the host's copy (read by `kmodguard status`) in step; best effort.
        cp "$_list" "$dracutsysrootdir/etc/kmodguard/verified-kernels.new" \
            && chmod 0644 "$dracutsysrootdir/etc/kmodguard/verified-kernels.new" \
            && mv -f "$dracutsysrootdir/etc/kmodguard/verified-kernels.new" \
                "$dracutsysrootdir/etc/kmodguard/verified-kernels"
    fi
    if ! grep -qxF -- "$kernel" "$_list"; then
        # Say why now rather than at boot; the image is still built (the guard will fall back).
        _out=$("$dracutsysrootdir$kmodguard_early" --root "${dracutsysrootdir:-/}" --check \
            --kernel "$kernel" --config "$dracutsysrootdir$kmodguard_conf" --log stderr 2>&1)
        dwarn "kmodguard: the guarded modules are not usable for kernel $kernel; at boot the guard will fail and fall back:"
        printf '%s\n' "$_out" | while IFS= read -r _line; do dwarn "  $_line"; done
    fi
    rm -f "$_list"

    if [[ -z $(kmodguard_conf_value BOOT_DEVICE) ]]; then
        _grubenv=$(kmodguard_conf_value GRUBENV)
        _uuid=$(findmnt -n -o UUID -T "$dracutsysrootdir$_grubenv" 2> /dev/null)
        dinfo "kmodguard: BOOT_DEVICE is empty: inside the initramfs the guard cannot reach $_grubenv; after a failed check it reboots at once and relies on GRUB's trial counter${_uuid:+ (the filesystem holding it: BOOT_DEVICE=UUID=$_uuid)}"
    fi

    # /boot on md RAID: the array's UUID for the cmdline hook, which has dracut's mdraid module
    # assemble it, and the pre-trigger hook, which then runs the guard once it exists.
    _md=$(kmodguard_boot_md_uuid)
    if [[ $_md ]]; then
        # Only the image gets it (no host copy to keep in step): written into it directly.
        mkdir -p "$initdir/etc/kmodguard" && printf '%s\n' "$_md" > "$initdir/etc/kmodguard/boot-md-uuid"
        if ! dracut_module_included mdraid; then
            dwarn "kmodguard: BOOT_DEVICE is on md array $_md, but this image has no mdraid module: at boot the guard cannot reach grubenv (add it: dracut --add mdraid)"
        fi
    fi
    inst_hook cmdline 29 "$moddir/kmodguard-cmdline.sh"

    # pre-trigger: udevd runs, no device has been triggered and nothing waits for root yet.
    # pre-mount would be too late: it only runs once the root device exists. 10 runs after
    # 03modsign's 01, which loads the module signing keys.
    inst_hook pre-trigger 10 "$moddir/kmodguard-hook.sh"
}
