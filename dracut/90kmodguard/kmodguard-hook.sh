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
# kmodguard-early logs its own one-line summary (--summary: exit status, time, what it means);
# this hook only reports what the guard cannot: that it could not be executed, or died.

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

kmodguard_hook_main() {
    if ! getargbool 1 kmodguard; then
        kmodguard_hook_log 5 "kmodguard=off on the kernel command line: guard skipped"
        return 0
    fi
    if [ ! -x /usr/sbin/kmodguard-early ]; then
        kmodguard_hook_log 3 "/usr/sbin/kmodguard-early is missing from this initramfs: guard skipped"
        return 0
    fi
    kmodguard_hook_args=--summary
    if getargbool 0 kmodguard.dry_run; then
        kmodguard_hook_args="--summary --no-write --no-reboot"
    fi

    # shellcheck disable=SC2086 # the options are separate words
    /usr/sbin/kmodguard-early $kmodguard_hook_args < /dev/null
    kmodguard_hook_rc=$?
    case $kmodguard_hook_rc in
        126 | 127) kmodguard_hook_log 3 "kmodguard-early exit $kmodguard_hook_rc: it cannot be executed; the boot continues" ;;
        *)
            if [ "$kmodguard_hook_rc" -gt 128 ]; then
                kmodguard_hook_log 3 "kmodguard-early exit $kmodguard_hook_rc: it died of signal $((kmodguard_hook_rc - 128)); the boot continues"
            fi
            ;;
    esac
    return 0
}

kmodguard_hook_main
unset -f kmodguard_hook_main kmodguard_hook_log
unset kmodguard_hook_args kmodguard_hook_rc
