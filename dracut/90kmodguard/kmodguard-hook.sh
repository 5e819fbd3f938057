#!/bin/sh
# kmodguard: dracut pre-trigger hook, installed by module-setup.sh. Runs kmodguard-early before
# udev triggers the devices and before anything waits for the root device.
#
# Kernel command line:
#   kmodguard=off        (or =0, =no) skip the guard
#   kmodguard.dry_run=1  load and decide as usual, but --no-write --no-reboot
#
# dracut sources this file into its init shell: no exit, no set -e, and everything defined here
# is unset at the end. Whatever the guard does, this hook never stops the boot; only the guard
# itself reboots, and only when it scheduled a fallback (or cannot reach grubenv).

# shellcheck source=/dev/null # dracut's own library, in the image only
type getargbool > /dev/null 2>&1 || . /lib/dracut-lib.sh

# kmodguard_hook_log LEVEL MESSAGE: one kmsg record, so the line lands on the console and in the
# journal next to the guard's own "kmodguard:" lines; dracut's warn/info when kmsg is not there.
kmodguard_hook_log() {
    if ! { printf '<%s>kmodguard-hook: %s\n' "$1" "$2" > /dev/kmsg; } 2> /dev/null; then
        if [ "$1" -le 4 ]; then
            warn "kmodguard-hook: $2"
        else
            info "kmodguard-hook: $2"
        fi
    fi
}

# kmodguard_hook_uptime: centiseconds since boot, from /proc/uptime ("12.34 ...").
kmodguard_hook_uptime() {
    kmodguard_hook_up=0
    { read -r kmodguard_hook_up _ < /proc/uptime; } 2> /dev/null
    kmodguard_hook_up="${kmodguard_hook_up%%.*}${kmodguard_hook_up#*.}"
    while [ "${kmodguard_hook_up#0}" != "$kmodguard_hook_up" ]; do
        kmodguard_hook_up=${kmodguard_hook_up#0}
    done
    case $kmodguard_hook_up in
        '' | *[!0-9]*) kmodguard_hook_up=0 ;;
    esac
    echo "$kmodguard_hook_up"
}

kmodguard_hook_main() {
    if ! getargbool 1 kmodguard; then
        kmodguard_hook_log 5 "kmodguard=off on the kernel command line: guard skipped"
        return 0
    fi
    if [ ! -x /usr/sbin/kmodguard-early ]; then
        kmodguard_hook_log 3 "/usr/sbin/kmodguard-early is missing from this initramfs: guard skipped"
        return 0
    fi
    kmodguard_hook_dry=
    kmodguard_hook_args=
    if getargbool 0 kmodguard.dry_run; then
        kmodguard_hook_dry=1
        kmodguard_hook_args="--no-write --no-reboot"
    fi

    kmodguard_hook_t0=$(kmodguard_hook_uptime)
    # shellcheck disable=SC2086 # the options are separate words
    /usr/sbin/kmodguard-early $kmodguard_hook_args < /dev/null
    kmodguard_hook_rc=$?
    kmodguard_hook_t=$(($(kmodguard_hook_uptime) - kmodguard_hook_t0))
    kmodguard_hook_t="$((kmodguard_hook_t / 100)).$((kmodguard_hook_t / 10 % 10))$((kmodguard_hook_t % 10)) s"

    kmodguard_hook_level=3
    case $kmodguard_hook_rc in
        0)
            kmodguard_hook_level=6
            kmodguard_hook_what="ok"
            ;;
        1)
            if [ -n "$kmodguard_hook_dry" ]; then
                kmodguard_hook_level=4
                kmodguard_hook_what="a fallback would be scheduled (dry run: grubenv unchanged, no reboot)"
            else
                kmodguard_hook_what="fallback scheduled, but the reboot failed"
            fi
            ;;
        2) kmodguard_hook_what="the guarded modules failed and no fallback is possible (see above)" ;;
        3)
            if [ -n "$kmodguard_hook_dry" ]; then
                kmodguard_hook_level=4
                kmodguard_hook_what="grubenv unreachable: would reboot at once (dry run: no reboot)"
            else
                kmodguard_hook_what="grubenv unreachable, and the reboot failed"
            fi
            ;;
        4) kmodguard_hook_what="configuration missing or invalid: nothing checked" ;;
        64) kmodguard_hook_what="usage error: this hook and kmodguard-early do not match" ;;
        126 | 127) kmodguard_hook_what="kmodguard-early cannot be executed" ;;
        *)
            if [ "$kmodguard_hook_rc" -gt 128 ]; then
                kmodguard_hook_what="kmodguard-early died of signal $((kmodguard_hook_rc - 128))"
            else
                kmodguard_hook_what="unexpected exit status"
            fi
            ;;
    esac
    kmodguard_hook_log "$kmodguard_hook_level" "kmodguard-early exit $kmodguard_hook_rc after $kmodguard_hook_t: $kmodguard_hook_what${kmodguard_hook_dry:+ [kmodguard.dry_run]}; the boot continues"
    return 0
}

kmodguard_hook_main
unset -f kmodguard_hook_main kmodguard_hook_log kmodguard_hook_uptime
unset kmodguard_hook_up kmodguard_hook_dry kmodguard_hook_args \
    kmodguard_hook_t0 kmodguard_hook_t kmodguard_hook_rc kmodguard_hook_level kmodguard_hook_what
