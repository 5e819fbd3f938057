# shellcheck shell=sh
# Variables set here are results for the caller:
# shellcheck disable=SC2034
# QEMU helpers for kmodguard's test scripts. Source it after lib/common.sh:
#
#   . "$(dirname "$0")/lib/qemu.sh"
#
# Boots are TCG-only (KVM is not usable on the build machines), direct-kernel (-kernel/-initrd),
# with the serial console written to a file that the caller reads.

# qemu_boot CONSOLE KERNEL INITRD APPEND TIMEOUT STOP_REGEX [QEMU_ARG...]
#
# Boots KERNEL + INITRD with APPEND on the kernel command line, the first serial port going to
# the file CONSOLE. No disk, no network, unless QEMU_ARGs add them. Returns once QEMU exits by
# itself (-no-reboot: a reboot or a panic ends it), or when STOP_REGEX (grep -E) shows up on the
# console (QEMU is then killed after a short grace period, for the lines that follow), or after
# TIMEOUT seconds. Sets:
#   QEMU_END      exited | stopped | timeout
#   QEMU_MS       wall-clock milliseconds from start to end
#   QEMU_STATUS   QEMU's exit status (exited), else the kill's
# While QEMU runs, QEMU_PID is its process id (kill it from an EXIT trap).
qemu_boot() {
	_qb_console=$1 _qb_kernel=$2 _qb_initrd=$3 _qb_append=$4 _qb_timeout=$5 _qb_stop=$6
	shift 6
	: >"$_qb_console"
	_qb_start=$(now_ms)
	qemu-system-x86_64 -accel tcg -m 512 -smp 1 -nodefaults -display none -no-reboot \
		-monitor none -serial "file:$_qb_console" \
		-kernel "$_qb_kernel" -initrd "$_qb_initrd" -append "$_qb_append" \
		"$@" </dev/null >"$_qb_console.qemu" 2>&1 &
	_qb_pid=$!
	QEMU_PID=$_qb_pid # for the caller's EXIT trap
	QEMU_END=exited
	while kill -0 "$_qb_pid" 2>/dev/null; do
		if [ -n "$_qb_stop" ] && grep -a -q -E "$_qb_stop" "$_qb_console"; then
			QEMU_END=stopped
			sleep 0.5
			kill "$_qb_pid" 2>/dev/null || :
			break
		fi
		if [ $(($(now_ms) - _qb_start)) -ge $((_qb_timeout * 1000)) ]; then
			QEMU_END=timeout
			kill "$_qb_pid" 2>/dev/null || :
			break
		fi
		sleep 0.2
	done
	QEMU_STATUS=0
	wait "$_qb_pid" || QEMU_STATUS=$?
	QEMU_PID=
	QEMU_MS=$(($(now_ms) - _qb_start))
	if [ "$QEMU_END" = exited ] && [ "$QEMU_STATUS" -ne 0 ]; then
		log "qemu exited with status $QEMU_STATUS:"
		sed 's/^/    /' "$_qb_console.qemu" >&2
	fi
	return 0
}

# console_lines CONSOLE REGEX: the console lines matching REGEX (grep -E), carriage returns and
# colour escapes removed.
console_lines() {
	tr -d '\r' <"$1" | sed 's/\x1b\[[0-9;]*m//g' | grep -a -E "$2" || :
}

# kernel_time LINE: the printk timestamp of a console line ("[    9.288760] ..." -> 9.29).
kernel_time() {
	printf '%s\n' "$1" | sed -n 's/^.*\[ *\([0-9]*\.[0-9][0-9]\)[0-9]*\].*$/\1/p' | head -n 1
}
