# shellcheck shell=sh
# Variables set here are results for the caller:
# shellcheck disable=SC2034
# qemu.sh - the one way kmodguard's test scripts run QEMU (test-initramfs, test-grub, the e2e,
# the bench). Source it after lib/common.sh:
#
#   . "$(dirname "$0")/lib/qemu.sh"
#   qemu_run --serial CONSOLE --kernel VMLINUZ INITRD "console=ttyS0 ..." --stop-on 'REGEX'
#
# Every run: qemu-system-x86_64 -accel tcg (KVM is not usable on the build machines), a PC whose
# SeaBIOS copies its text console to the serial port (-machine pc,graphics=off), no default
# devices, no display, no monitor, -no-reboot (a guest reboot or panic ends QEMU: one run per
# boot). The machine is made of the options, in the order given (serial ports, PCI slots):
#
#   --serial FILE          the next serial port (ttyS0, ttyS1, ...) into FILE, emptied first; the
#                          first one is the console (paths without white space)
#   --disk DEVICE FILE DRIVE_OPTS DEVICE_OPTS
#                          the raw image FILE as a DEVICE (nvme, virtio-blk-pci); DRIVE_OPTS for
#                          -drive (cache=unsafe, snapshot=on, readonly=on), DEVICE_OPTS for
#                          -device (serial=..., bootindex=N); "" for none
#   --kernel KERNEL INITRD APPEND   a direct kernel boot (no disk load by the firmware)
#   --net NETDEV_OPTS      user-mode network on virtio-net with restrict=on: the guest reaches
#                          nothing but what NETDEV_OPTS forwards ("" or guestfwd=...)
#   --mem MIB (512), --smp N (1)
#   -- QEMU_ARG...         anything else, as it is
#
# and how the run ends (QEMU exits by itself, or):
#   --timeout SECONDS      the watchdog (600): QEMU is killed after that long
#   --stop-on REGEX        QEMU is stopped once REGEX (grep -E) shows on the console
#   --stop-when COMMAND    ... once the shell command COMMAND succeeds
#   --grace SECONDS        ... that much later (0), for the lines that follow
#   --cut-on REGEX MS      a power cut: SIGKILL MS milliseconds after REGEX shows on any serial
#                          port (the run is then polled every 10 ms)
#   --poll SECONDS         how often the conditions are checked (0.2)
#   --log FILE             QEMU's own output (default: CONSOLE.qemu)
#   --name TEXT            the run's name in log lines ("qemu")
#
# Sets QEMU_END (exited | stopped | cut | timeout), QEMU_STATUS (QEMU's exit status, or the
# kill's) and QEMU_MS (wall-clock milliseconds). While QEMU runs, QEMU_PID is its process id:
# qemu_stop ends it (call it from the EXIT trap).

QEMU_PID=

qemu_run() {
	_qr_console='' _qr_serials='' _qr_log='' _qr_name=qemu _qr_mem=512 _qr_smp=1 _qr_disk=0
	_qr_timeout=600 _qr_stop='' _qr_when='' _qr_grace=0 _qr_cut='' _qr_delay=0 _qr_poll=0.2
	# The options are taken from the front; what they mean for QEMU goes to the end.
	_qr_n=$#
	while [ "$_qr_n" -gt 0 ]; do
		_qr_take=2
		case $1 in
		--serial)
			: >"$2"
			_qr_console=${_qr_console:-$2} _qr_serials="$_qr_serials $2"
			set -- "$@" -serial "file:$2"
			;;
		--disk)
			set -- "$@" -drive "file=$3,format=raw,if=none,id=disk$_qr_disk${4:+,$4}" \
				-device "$2,drive=disk$_qr_disk${5:+,$5}"
			_qr_disk=$((_qr_disk + 1)) _qr_take=5
			;;
		--kernel)
			set -- "$@" -kernel "$2" -initrd "$3" -append "$4"
			_qr_take=4
			;;
		--net) set -- "$@" -netdev "user,id=net0,restrict=on${2:+,$2}" -device virtio-net-pci,netdev=net0 ;;
		--mem) _qr_mem=$2 ;;
		--smp) _qr_smp=$2 ;;
		--timeout) _qr_timeout=$2 ;;
		--stop-on) _qr_stop=$2 ;;
		--stop-when) _qr_when=$2 ;;
		--grace) _qr_grace=$2 ;;
		--cut-on) _qr_cut=$2 _qr_delay=$3 _qr_poll=0.01 _qr_take=3 ;;
		--poll) _qr_poll=$2 ;;
		--log) _qr_log=$2 ;;
		--name) _qr_name=$2 ;;
		--)
			shift
			_qr_n=$((_qr_n - 1))
			while [ "$_qr_n" -gt 0 ]; do
				set -- "$@" "$1"
				shift
				_qr_n=$((_qr_n - 1))
			done
			break
			;;
		*) die "qemu_run: unknown option $1" ;;
		esac
		shift "$_qr_take"
		_qr_n=$((_qr_n - _qr_take))
	done
	[ -n "$_qr_console" ] || die "qemu_run: no --serial"
	: "${_qr_log:=$_qr_console.qemu}"
	_qr_start=$(now_ms)
	qemu-system-x86_64 -accel tcg -machine pc,graphics=off -nodefaults -display none -monitor none \
		-no-reboot -m "$_qr_mem" -smp "$_qr_smp" "$@" </dev/null >"$_qr_log" 2>&1 &
	QEMU_PID=$!
	QEMU_END=exited
	_qr_cut_at=
	while kill -0 "$QEMU_PID" 2>/dev/null; do
		_qr_now=$(now_ms)
		if { [ -n "$_qr_stop" ] && grep -a -q -E -e "$_qr_stop" "$_qr_console"; } ||
			{ [ -n "$_qr_when" ] && eval "$_qr_when"; }; then
			sleep "$_qr_grace"
			QEMU_END=stopped
			break
		fi
		# shellcheck disable=SC2086 # one word per serial port file
		if [ -n "$_qr_cut" ] && [ -z "$_qr_cut_at" ] && grep -a -q -E -e "$_qr_cut" $_qr_serials; then
			_qr_cut_at=$((_qr_now + _qr_delay))
			log "$_qr_name: '$_qr_cut' seen after $(ms_to_s $((_qr_now - _qr_start))) s: power cut in $_qr_delay ms"
		fi
		if [ -n "$_qr_cut_at" ] && [ "$_qr_now" -ge "$_qr_cut_at" ]; then
			QEMU_END="cut" # SIGKILL: QEMU gets no chance to do anything more
			kill -9 "$QEMU_PID" 2>/dev/null || :
			break
		fi
		if [ $((_qr_now - _qr_start)) -ge $((_qr_timeout * 1000)) ]; then
			QEMU_END=timeout
			break
		fi
		sleep "$_qr_poll"
	done
	[ "$QEMU_END" = exited ] || kill "$QEMU_PID" 2>/dev/null || :
	QEMU_STATUS=0
	wait "$QEMU_PID" 2>/dev/null || QEMU_STATUS=$?
	QEMU_PID=
	QEMU_MS=$(($(now_ms) - _qr_start))
	if [ "$QEMU_END" = exited ] && [ "$QEMU_STATUS" -ne 0 ]; then
		log "$_qr_name: QEMU exited with status $QEMU_STATUS:"
		sed 's/^/    /' "$_qr_log" >&2
	fi
	return 0
}

# qemu_stop: end a QEMU that qemu_run left running (the caller was interrupted).
qemu_stop() {
	[ -n "$QEMU_PID" ] || return 0
	kill "$QEMU_PID" 2>/dev/null || :
	wait "$QEMU_PID" 2>/dev/null || :
	QEMU_PID=
}

# qemu_plain: a serial log (stdin) without carriage returns and terminal escape sequences.
qemu_plain() {
	_qp_esc=$(printf '\033')
	tr -d '\r' | sed -e "s/$_qp_esc\[[0-9;?]*[A-Za-z]//g" -e "s/${_qp_esc}c//g"
}

# console_lines CONSOLE REGEX: the lines of the serial log CONSOLE matching REGEX (grep -E),
# made plain.
console_lines() {
	qemu_plain <"$1" | grep -a -E -e "$2" || :
}

# kernel_time LINE: the printk timestamp of a console line ("[    9.288760] ..." -> 9.29).
kernel_time() {
	printf '%s\n' "$1" | sed -n 's/^.*\[ *\([0-9]*\.[0-9][0-9]\)[0-9]*\].*$/\1/p' | head -n 1
}
