#!/bin/sh
# kmodguard: dracut cmdline hook (priority 29, just before 90mdraid's parse-md.sh at 30),
# installed by module-setup.sh. Only does something when /boot's filesystem (BOOT_DEVICE) is on
# md RAID: module-setup.sh then wrote the array's UUID to /etc/kmodguard/boot-md-uuid.
#
# dracut assembles md arrays only when the command line names them (rd.md.uuid=, which hostonly
# images carry for their root and /boot) or asks for all of them (rd.auto). A generic image has
# neither, and the guard would never reach grubenv. So: unless rd.auto already assembles every
# array, name /boot's array too (added to the arrays named, never replacing them), and tell the
# pre-trigger hook to run the guard once the array exists.
#
# dracut sources this file into its init shell: no exit, no set -e, and everything defined here
# is unset at the end.

# shellcheck source=/dev/null # dracut's own library, in the image only
type getargbool > /dev/null 2>&1 || . /lib/dracut-lib.sh

kmodguard_cmdline_md=
{ [ -r /etc/kmodguard/boot-md-uuid ] && read -r kmodguard_cmdline_md < /etc/kmodguard/boot-md-uuid; } 2> /dev/null
if [ -z "$kmodguard_cmdline_md" ] || ! getargbool 1 kmodguard; then
    :
elif ! command -v mdadm > /dev/null 2>&1; then
    warn "kmodguard: BOOT_DEVICE is on md array $kmodguard_cmdline_md, but this image has no mdadm (dracut's mdraid module): the guard cannot reach grubenv"
elif ! getargbool 1 rd.md -d -n rd_NO_MD; then
    warn "kmodguard: BOOT_DEVICE is on md array $kmodguard_cmdline_md, but rd.md=0 keeps md RAID inactive: the guard cannot reach grubenv"
else
    mkdir -p /run/kmodguard
    echo "$kmodguard_cmdline_md" > /run/kmodguard/boot-md-uuid
    if [ -n "$(getargs rd.md.uuid -d rd_MD_UUID=)" ] || ! getargbool 0 rd.auto; then
        echo "rd.md.uuid=$kmodguard_cmdline_md" > /etc/cmdline.d/90kmodguard-md.conf
    fi
fi
unset kmodguard_cmdline_md
