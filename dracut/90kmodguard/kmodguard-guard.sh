#!/bin/sh
# kmodguard: runs kmodguard-early once per boot inside a dracut image. Installed as
# /sbin/kmodguard-guard by module-setup.sh; started by the pre-trigger hook (kmodguard-hook.sh),
# or, when /boot is on md RAID, from dracut's initqueue once udev has assembled the array.
#
#   kmodguard-guard                     run the guard (unless it already ran this boot)
#   kmodguard-guard --when-boot-ready   the same, but only once /boot's md array exists
#
# Kernel command line:
#   kmodguard=off        (or =0, =no) skip the guard
#   kmodguard.dry_run=1  load and decide as usual, but --no-write --no-reboot
#
# Always exits 0: whatever the guard does, this script never stops the boot; only the guard
# itself reboots, and only when it scheduled a fallback (or cannot reach grubenv).
# kmodguard-early logs its own one-line summary (--summary: exit status, time, what it means);
# this script only reports what the guard cannot: that it could not be executed, or died.

# shellcheck source=/dev/null # dracut's own library, in the image only
type getargbool > /dev/null 2>&1 || . /lib/dracut-lib.sh

# Marks that the guard ran (or is running) this boot; the initqueue's "finished" condition.
kmodguard_done=/run/kmodguard/dracut-guard-done
# The md array holding /boot (mdadm's UUID form), written by the cmdline hook when the guard
# waits for it.
kmodguard_md=/run/kmodguard/boot-md-uuid

# log LEVEL MESSAGE: one kmsg record, so the line lands on the console and in the journal next
# to the guard's own "kmodguard:" lines; dracut's warn/info when kmsg is not there.
log() {
    if ! { printf '<%s>kmodguard-hook: %s\n' "$1" "$2" > /dev/kmsg; } 2> /dev/null; then
        if [ "$1" -le 4 ]; then
            warn "kmodguard-hook: $2"
        else
            info "kmodguard-hook: $2"
        fi
    fi
}

[ -e "$kmodguard_done" ] && exit 0
md_uuid=
[ -r "$kmodguard_md" ] && read -r md_uuid < "$kmodguard_md"
if [ -n "$md_uuid" ] && [ ! -e "/dev/disk/by-id/md-uuid-$md_uuid" ]; then
    # udev has not assembled the array (yet): the settled job tries again on the next round;
    # the timeout job (after mdraid_start's attempt at a degraded start) runs the guard anyway.
    [ "${1-}" = --when-boot-ready ] && exit 0
    log 4 "md array $md_uuid (BOOT_DEVICE) did not appear before dracut's initqueue timed out: running the guard without it"
fi
mkdir -p "${kmodguard_done%/*}" && : > "$kmodguard_done"

if ! getargbool 1 kmodguard; then
    log 5 "kmodguard=off on the kernel command line: guard skipped"
    exit 0
fi
if [ ! -x /usr/sbin/kmodguard-early ]; then
    log 3 "/usr/sbin/kmodguard-early is missing from this initramfs: guard skipped"
    exit 0
fi
set -- --summary
getargbool 0 kmodguard.dry_run && set -- --summary --no-write --no-reboot

/usr/sbin/kmodguard-early "$@" < /dev/null
rc=$?
case $rc in
    126 | 127) log 3 "kmodguard-early exit $rc: it cannot be executed; the boot continues" ;;
    *)
        if [ "$rc" -gt 128 ]; then
            log 3 "kmodguard-early exit $rc: it died of signal $((rc - 128)); the boot continues"
        fi
        ;;
esac
exit 0
