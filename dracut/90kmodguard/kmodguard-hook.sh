#!/bin/sh
# kmodguard: dracut pre-trigger hook, installed by module-setup.sh. Runs the guard
# (/sbin/kmodguard-guard, i.e. kmodguard-early) before udev triggers the devices and before
# anything waits for the root device.
#
# When /boot is on md RAID (the cmdline hook wrote /run/kmodguard/boot-md-uuid), the guard could
# not reach grubenv yet: udev assembles the array only once the devices are triggered. Then the
# guard runs from dracut's initqueue instead: as a settled job once the array exists, or as a
# timeout job (after mdraid_start's attempt at a degraded start) if it never does; a "finished"
# condition keeps the initqueue, and so the root mount, waiting until it has run.
#
# dracut sources this file into its init shell: no exit, no set -e, and everything defined here
# is unset at the end.

# shellcheck source=/dev/null # dracut's own library, in the image only
type getargbool > /dev/null 2>&1 || . /lib/dracut-lib.sh

if [ -s /run/kmodguard/boot-md-uuid ]; then
    /sbin/initqueue --settled --unique --name kmodguard /sbin/kmodguard-guard --when-boot-ready
    /sbin/initqueue --timeout --onetime --unique --name kmodguard /sbin/kmodguard-guard
    # shellcheck disable=SC2154 # hookdir: set by dracut-lib.sh
    echo '[ -e /run/kmodguard/dracut-guard-done ]' > "$hookdir/initqueue/finished/kmodguard.sh"
    { read -r kmodguard_hook_md < /run/kmodguard/boot-md-uuid \
        && printf '<5>kmodguard-hook: BOOT_DEVICE is on md array %s: the guard runs once udev has assembled it\n' \
            "$kmodguard_hook_md" > /dev/kmsg; } 2> /dev/null
    unset kmodguard_hook_md
else
    /sbin/kmodguard-guard
fi
