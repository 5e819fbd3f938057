# shellcheck shell=sh
# Variables set here are read by scripts/e2e and e2e-scenarios.sh:
# shellcheck disable=SC2034
# e2e-database.sh - the scenarios of the signed driver database. Source after e2e-scenarios.sh.

E2E_ALL_SCENARIOS="$E2E_ALL_SCENARIOS database-flaky database-tampered"

# ---------------------------------------------------------------------------------------------
# The driver database: published on the host with the guest's own kmodguard (keygen, publish),
# served by a loopback HTTP server, reached by the guest as http://10.0.2.100/ through QEMU's
# guestfwd (restrict=on: nothing else is reachable).
# ---------------------------------------------------------------------------------------------

# _e2e_database_publish: keys and a database with the virtio_blk source in $E2E_RUN.
_e2e_database_publish() {
	ensure_packages socat
	_edp_cli=$WORK/package/root/usr/sbin/kmodguard
	"$_edp_cli" keygen --out "$E2E_RUN/keys" --name e2e >"$E2E_RUN/publish.log" 2>&1 ||
		die "kmodguard keygen failed: $(cat "$E2E_RUN/publish.log")"
	"$_edp_cli" publish --source "$E2E_DRIVER_DIR" --key "$E2E_RUN/keys/e2e.key" --out "$E2E_RUN/db" \
		>>"$E2E_RUN/publish.log" 2>&1 || die "kmodguard publish failed: $(cat "$E2E_RUN/publish.log")"
	log "database: $(find "$E2E_RUN/db" -type f | sed "s|^$E2E_RUN/db/||" | LC_ALL=C sort | tr '\n' ' ')"
}

# _e2e_database_serve: the loopback server (E2E_SERVER_PID, log $E2E_RUN/server.log) and the
# guest's route to it (E2E_GUESTFWD). E2E_DB_FAULTS="PREFIX:STATUS:COUNT,..." makes it answer
# STATUS to the first COUNT requests for paths under PREFIX (e.g. sources:500:4). The relay stays even while the server is stopped: the
# guest then gets "connection refused", as from a database host that is down.
_e2e_database_serve() {
	rm -f "$E2E_RUN/server.port"
	/usr/bin/python3 -c '
import functools, http.server, sys
root, portfile = sys.argv[1], sys.argv[2]
# Faults: "PREFIX:STATUS:COUNT,...": the first COUNT requests for a path starting with PREFIX
# get STATUS instead of the file.
faults = [[p, int(c), int(n)] for p, c, n in (f.split(":") for f in sys.argv[4].split(",") if f)]
class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("%s\n" % (fmt % args))
        sys.stderr.flush()
    def do_GET(self):
        for fault in faults:
            if self.path.lstrip("/").startswith(fault[0]) and fault[2] > 0:
                fault[2] -= 1
                self.send_error(fault[1], "e2e fault")
                return
        super().do_GET()
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[3])), functools.partial(Handler, directory=root))
with open(portfile + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
server.serve_forever()
' "$E2E_RUN/db" "$E2E_RUN/server.port" "${E2E_SERVER_PORT:-0}" "${E2E_DB_FAULTS:-}" 2>>"$E2E_RUN/server.log" &
	E2E_SERVER_PID=$!
	_eds=0
	while [ ! -s "$E2E_RUN/server.port" ]; do
		_eds=$((_eds + 1))
		if [ "$_eds" -gt 100 ] || ! kill -0 "$E2E_SERVER_PID" 2>/dev/null; then
			die "the database server did not start: $(cat "$E2E_RUN/server.log")"
		fi
		sleep 0.1
	done
	E2E_SERVER_PORT=$(cat "$E2E_RUN/server.port")
	# slirp runs the relay without a shell, its stdin, stdout AND stderr on the guest's
	# connection: socat must log elsewhere, or its "connection refused" (server down) would
	# reach the guest as a non-HTTP reply. Then a down server is an empty reply (a guestfwd
	# connection is always accepted: "refused" cannot happen here).
	E2E_GUESTFWD="guestfwd=tcp:10.0.2.100:80-cmd:socat -lf /dev/null - TCP:127.0.0.1:$E2E_SERVER_PORT"
	log "database served on 127.0.0.1:$E2E_SERVER_PORT, the guest's http://10.0.2.100/"
}

_e2e_database_stop() {
	if [ -n "${E2E_SERVER_PID:-}" ]; then
		kill "$E2E_SERVER_PID" 2>/dev/null || :
		wait "$E2E_SERVER_PID" 2>/dev/null || :
		E2E_SERVER_PID=
	fi
}

# _e2e_database_configure: the guest's kmodguard.conf takes the driver from the database (no
# SOURCE), and trusts the publishing key; written onto the run's disk before the first boot.
_e2e_database_configure() {
	_edc_conf=/etc/kmodguard/kmodguard.conf
	e2e_root_cat "$_edc_conf" | grep -v '^SOURCE=' >"$E2E_RUN/kmodguard.conf"
	printf 'DATABASE_URL="http://10.0.2.100/"\n' >>"$E2E_RUN/kmodguard.conf"
	chmod 0644 "$E2E_RUN/kmodguard.conf" "$E2E_RUN/keys/e2e.pub"
	printf 'rm %s\nwrite %s %s\nmkdir /etc/kmodguard/keys\nwrite %s /etc/kmodguard/keys/e2e.pub\n' \
		"$_edc_conf" "$E2E_RUN/kmodguard.conf" "$_edc_conf" "$E2E_RUN/keys/e2e.pub" >"$E2E_RUN/debugfs.cmd"
	debugfs -w -f "$E2E_RUN/debugfs.cmd" "$E2E_FS_ROOT" >/dev/null 2>&1
	if ! e2e_root_cat "$_edc_conf" | grep -q '^DATABASE_URL=' ||
		! e2e_root_exists /etc/kmodguard/keys/e2e.pub; then
		die "could not configure the database on the disk"
	fi
}

# server_got PATH_REGEX: the loopback server answered a GET for PATH_REGEX with 200.
server_got() {
	grep -E -q -e "\"GET /?$1 HTTP/1\.[01]\" 200" "$E2E_RUN/server.log" && return 0
	echo "server log:"
	cat "$E2E_RUN/server.log"
	return 1
}

e2e_scenario_main_database() {
	_e2e_guarded_run
	_e2e_database_publish
	_e2e_database_configure
	_e2e_database_serve
	_e2e_boot_guard_falls_back || { _e2e_database_stop; return 0; }
	e2e_boot
	check "boot $BOOT_N: the old kernel boots, complete reboots" boot_is "$K_OLD" reboot
	check "boot $BOOT_N: the guest fetched the signed index" server_got 'index\.json'
	check "boot $BOOT_N: ... and its signature" server_got 'index\.json\.sig'
	check "boot $BOOT_N: ... and the source tarball" server_got 'sources/[^ ]*\.tar\.gz'
	check "boot $BOOT_N: complete installs virtio_blk" console "$K_NEW: installed virtio_blk"
	check "boot $BOOT_N: complete rebuilds and verifies the initramfs" \
		console "$K_NEW: initramfs .* rebuilt and verified"
	check "disk: the source came through the database's verified extraction" \
		root_has "/var/lib/kmodguard/sources/$E2E_DRIVER_PACKAGE/dkms.conf"
	check "disk: new kernel's initramfs holds virtio_blk.ko" initramfs_has "$K_NEW" 'virtio_blk\.ko'
	boot_ended reboot || { _e2e_database_stop; return 0; }
	e2e_boot
	_e2e_new_kernel_works
	check "3 boots in all" expect boots "$E2E_BOOTS" 3
	_e2e_database_stop
}

e2e_scenario_database_down() {
	_e2e_guarded_run
	_e2e_database_publish
	_e2e_database_configure
	_e2e_database_serve
	_e2e_database_stop # the relay stays: connection refused
	_e2e_boot_guard_falls_back || return 0
	e2e_boot
	check "boot $BOOT_N: database down: the old kernel stays up" boot_is "$K_OLD" poweroff
	check "boot $BOOT_N: complete names the database and the failure, retried on the next run" \
		console "$K_NEW: no driver from the database, retrying on the next run: http://10\.0\.2\.100/"
	check "boot $BOOT_N: the old kernel is pinned" env_is kmodguard_pin "$P_OLD"
	check "boot $BOOT_N: status --json: new kernel's driver download-failed, message names the database" \
		json_is "[.kernels[] | select(.release == \"$K_NEW\") | (.driver + \" \" + (.message | test(\"10.0.2.100\") | tostring))]" '["download-failed true"]'
	check "disk: nothing installed for the new kernel" \
		eval "! e2e_root_exists /lib/modules/$K_NEW/updates/kmodguard/virtio_blk.ko"
	boot_ended poweroff || return 0
	# The database is back: the next boot's completion retries (a failed download always is), builds,
	# clears the pin and reboots into the new kernel.
	_e2e_database_serve
	_e2e_database_completes 4
}


# server_count PATH_REGEX: how many GETs for PATH_REGEX the loopback server logged so far.
server_count() {
	grep -E -c -e "\"GET /?$1 HTTP/1\.[01]\" " "$E2E_RUN/server.log" || :
}

# A transient failure: the source archive answers HTTP 500 for one whole run (the client's 4
# attempts), then the server is healthy. The failed download is not remembered as a failed
# build: the next run fetches it, builds and boots the new kernel.
e2e_scenario_database_flaky() {
	_e2e_guarded_run
	_e2e_database_publish
	_e2e_database_configure
	E2E_DB_FAULTS=sources:500:4
	_e2e_database_serve
	E2E_DB_FAULTS=
	_e2e_boot_guard_falls_back || { _e2e_database_stop; return 0; }
	e2e_boot
	check "boot $BOOT_N: the archive answers 500: the old kernel stays up" boot_is "$K_OLD" poweroff
	check "boot $BOOT_N: complete: a transient failure, retried on the next run" \
		console "$K_NEW: no driver from the database, retrying on the next run: http://10\.0\.2\.100/sources/.*HTTP status 500"
	check "boot $BOOT_N: not called a build failure, not 'not retrying'" \
		no_console "$K_NEW: build failed|not retrying"
	check "boot $BOOT_N: the index and its signature downloaded once each, the archive 4 times" \
		expect "index.json, index.json.sig, archive GETs" \
		"$(server_count 'index\.json') $(server_count 'index\.json\.sig') $(server_count 'sources/[^ ]*\.tar\.gz')" "1 1 4"
	check "boot $BOOT_N: the old kernel is pinned" env_is kmodguard_pin "$P_OLD"
	check "boot $BOOT_N: status --json: new kernel's driver download-failed" \
		json_is "[.kernels[] | select(.release == \"$K_NEW\") | .driver]" '["download-failed"]'
	check "disk: nothing installed for the new kernel" \
		eval "! e2e_root_exists /lib/modules/$K_NEW/updates/kmodguard/virtio_blk.ko"
	boot_ended poweroff || { _e2e_database_stop; return 0; }
	# Powered on again; the server is healthy now.
	_e2e_database_completes 4
}

# A hostile database: first an index signed by a key the guest does not trust, then the trusted
# index with an archive whose bytes (not its size) differ from what the index says. Each time the
# machine stays on the old kernel, pinned, with the reason, and nothing is extracted; once a good
# publication is served, it completes.
e2e_scenario_database_tampered() {
	_e2e_guarded_run
	_e2e_database_publish
	_e2e_database_configure
	_edt_cli=$WORK/package/root/usr/sbin/kmodguard
	mv "$E2E_RUN/db" "$E2E_RUN/db-good"
	if ! "$_edt_cli" keygen --out "$E2E_RUN/other-keys" --name other >>"$E2E_RUN/publish.log" 2>&1 ||
		! "$_edt_cli" publish --source "$E2E_DRIVER_DIR" --key "$E2E_RUN/other-keys/other.key" \
			--out "$E2E_RUN/db" >>"$E2E_RUN/publish.log" 2>&1; then
		die "publishing with another key failed: $(cat "$E2E_RUN/publish.log")"
	fi
	printf 'before boot 1: served: a database signed by a key the guest does not trust\n' >>"$E2E_RUN/timeline"
	_e2e_database_serve
	_e2e_boot_guard_falls_back || { _e2e_database_stop; return 0; }
	e2e_boot
	check "boot $BOOT_N: untrusted signature: the old kernel stays up" boot_is "$K_OLD" poweroff
	check "boot $BOOT_N: complete names the signature check" \
		console "$K_NEW: no driver from the database: .*signature"
	check "boot $BOOT_N: no source tarball requested" expect "archive GETs" "$(server_count 'sources/')" 0
	_e2e_database_refused
	boot_ended poweroff || { _e2e_database_stop; return 0; }

	# The trusted index, but one byte of its archive changed (same size).
	rm -rf "$E2E_RUN/db"
	cp -a "$E2E_RUN/db-good" "$E2E_RUN/db"
	for _edt_tar in "$E2E_RUN"/db/sources/*.tar.gz; do
		printf 'X' | dd of="$_edt_tar" bs=1 seek=$(($(wc -c <"$_edt_tar") / 2)) conv=notrunc 2>/dev/null
	done
	printf 'before boot %s: served: the trusted index, its archive with one byte changed\n' "$((E2E_BOOTS + 1))" >>"$E2E_RUN/timeline"
	e2e_boot
	check "boot $BOOT_N: archive sha256 differs: the old kernel stays up" boot_is "$K_OLD" poweroff
	check "boot $BOOT_N: complete names the sha256 check" console "$K_NEW: no driver from the database: .*sha256"
	_e2e_database_refused
	boot_ended poweroff || { _e2e_database_stop; return 0; }

	# A good publication (a new generation).
	rm -rf "$E2E_RUN/db"
	cp -a "$E2E_RUN/db-good" "$E2E_RUN/db"
	"$_edt_cli" publish --source "$E2E_DRIVER_DIR" --key "$E2E_RUN/keys/e2e.key" --out "$E2E_RUN/db" \
		>>"$E2E_RUN/publish.log" 2>&1 || die "kmodguard publish failed: $(cat "$E2E_RUN/publish.log")"
	printf 'before boot %s: served: a good publication (new generation)\n' "$((E2E_BOOTS + 1))" >>"$E2E_RUN/timeline"
	_e2e_database_completes 5
}

# _e2e_database_completes BOOTS: the database serves what it should now: this boot (the old
# kernel) fetches the source, builds, clears the pin and reboots; the next one is the new kernel,
# working; BOOTS boots in all. Stops the server.
_e2e_database_completes() {
	e2e_boot
	check "boot $BOOT_N: the old kernel fetches the source, builds, reboots" boot_is "$K_OLD" reboot
	check "boot $BOOT_N: the guest fetched the source tarball" server_got 'sources/[^ ]*\.tar\.gz'
	check "boot $BOOT_N: complete installs virtio_blk" console "$K_NEW: installed virtio_blk"
	check "boot $BOOT_N: pin cleared" env_is kmodguard_pin "<unset>"
	if boot_ended reboot; then
		e2e_boot
		_e2e_new_kernel_works
		check "$1 boots in all" expect boots "$E2E_BOOTS" "$1"
	fi
	_e2e_database_stop
}

# _e2e_database_refused: after a boot whose database was refused: pinned, status failed (not a
# transient download-failed), no build log of a compiler, nothing extracted or installed.
_e2e_database_refused() {
	check "boot $BOOT_N: not called a build failure" no_console "$K_NEW: build failed"
	check "boot $BOOT_N: the old kernel is pinned" env_is kmodguard_pin "$P_OLD"
	check "boot $BOOT_N: status --json: new kernel's driver failed, message names the database" \
		json_is "[.kernels[] | select(.release == \"$K_NEW\") | (.driver + \" \" + (.message | test(\"driver database\") | tostring))]" '["failed true"]'
	check "disk: nothing extracted" eval "! e2e_root_exists /var/lib/kmodguard/sources/$E2E_DRIVER_PACKAGE"
	check "disk: nothing installed for the new kernel" \
		eval "! e2e_root_exists /lib/modules/$K_NEW/updates/kmodguard/virtio_blk.ko"
}
