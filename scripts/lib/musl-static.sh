# shellcheck shell=sh disable=SC2034 # the MUSL_RECIPE_* strings are used by scripts/deps
# Recipes for the static libraries the Embedded guard links against musl: only the libraries
# (never a whole source package), from Debian's sources unpacked by scripts/deps, compiled with
# musl-gcc for size (-Os, one section per function so the guard's --gc-sections drops the rest).
# Sourced by scripts/deps after lib/common.sh.
#
# Each musl_build_LIB SRC OUT builds in the unpacked source tree SRC and leaves the archive in
# OUT/ and its headers in OUT/include/. Each MUSL_RECIPE_LIB string is part of the cache key:
# change a recipe, change its string (the flags are in it), and the next run rebuilds it.
# Every step runs through musl_step, which appends its output to the library's own log
# ($MUSL_LOG) and, when it fails, names the step in $MUSL_FAILED_STEP for scripts/deps' message.

MUSL_CC=musl-gcc
MUSL_CFLAGS="-Os -ffunction-sections -fdata-sections"

# musl_step STEP CMD [ARG...]: run CMD with its output appended to $MUSL_LOG; on failure write
# STEP to $MUSL_FAILED_STEP. Returns CMD's status.
musl_step() {
	_ms_step=$1
	shift
	printf '\n== %s: %s\n' "$_ms_step" "$*" >>"$MUSL_LOG"
	if "$@" >>"$MUSL_LOG" 2>&1; then
		return 0
	else
		_ms_status=$?
		printf '%s\n' "$_ms_step" >"$MUSL_FAILED_STEP"
		return "$_ms_status"
	fi
}

# libzstd: decompression only (libkmod only reads modules), ZSTD_LIB_MINIFY's size options.
MUSL_RECIPE_ZSTD="r1 make -C lib libzstd.a ZSTD_LIB_MINIFY=1 ZSTD_LIB_COMPRESSION=0 ZSTD_LIB_DICTBUILDER=0 ZSTD_LIB_DEPRECATED=0 CFLAGS+=$MUSL_CFLAGS"
musl_build_zstd() { # SRC OUT
	# CFLAGS from the environment: the Makefile appends its -Os/-DNDEBUG... to it.
	musl_step make env CFLAGS="$MUSL_CFLAGS" \
		make -C "$1/lib" -j"$(nproc 2>/dev/null || echo 2)" CC="$MUSL_CC" \
		ZSTD_LIB_MINIFY=1 ZSTD_LIB_COMPRESSION=0 ZSTD_LIB_DICTBUILDER=0 \
		ZSTD_LIB_DEPRECATED=0 libzstd.a || return 1
	mkdir -p "$2/include"
	cp "$1/lib/libzstd.a" "$2/"
	cp "$1/lib/zstd.h" "$1/lib/zstd_errors.h" "$2/include/"
}

# liblzma: decoders only, small, single-threaded (the guard is).
MUSL_XZ_CONFIGURE="--disable-shared --enable-static --disable-encoders --enable-small
--disable-threads --disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo
--disable-lzma-links --disable-scripts --disable-doc --disable-nls"
MUSL_RECIPE_XZ="r1 configure $MUSL_XZ_CONFIGURE CFLAGS=$MUSL_CFLAGS; make -C src/liblzma liblzma.la"
musl_build_xz() { # SRC OUT
	# shellcheck disable=SC2086 # the option list is whitespace-separated
	(cd "$1" && musl_step configure ./configure CC="$MUSL_CC" \
		CFLAGS="$MUSL_CFLAGS" $MUSL_XZ_CONFIGURE) || return 1
	musl_step make \
		make -C "$1/src/liblzma" -j"$(nproc 2>/dev/null || echo 2)" liblzma.la || return 1
	mkdir -p "$2/include"
	cp "$1/src/liblzma/.libs/liblzma.a" "$2/"
	cp -R "$1/src/liblzma/api/lzma.h" "$1/src/liblzma/api/lzma" "$2/include/"
}

# libblkid from util-linux: the library alone, no udev/systemd/nls.
MUSL_UTIL_LINUX_CONFIGURE="--disable-all-programs --enable-libblkid --disable-libuuid
--disable-libmount --disable-libsmartcols --disable-libfdisk --disable-shared --enable-static
--disable-nls --disable-asciidoc --disable-poman --disable-bash-completion --disable-widechar
--without-udev --without-systemd --without-python --without-readline --without-ncursesw
--without-ncurses --without-tinfo --without-cap-ng --without-libz --without-libmagic
--without-user --without-btrfs --without-econf --without-selinux --without-audit
--without-smack"
MUSL_RECIPE_BLKID="r1 configure $MUSL_UTIL_LINUX_CONFIGURE CFLAGS=$MUSL_CFLAGS; make libblkid.la"
musl_build_blkid() { # SRC OUT KERNEL_HEADERS
	# shellcheck disable=SC2086 # the option list is whitespace-separated
	(cd "$1" && musl_step configure ./configure CC="$MUSL_CC" \
		CFLAGS="$MUSL_CFLAGS -isystem $3" $MUSL_UTIL_LINUX_CONFIGURE) || return 1
	musl_step make \
		make -C "$1" -j"$(nproc 2>/dev/null || echo 2)" libblkid.la || return 1
	mkdir -p "$2/include/blkid"
	cp "$1/.libs/libblkid.a" "$2/"
	cp "$1/libblkid/src/blkid.h" "$2/include/blkid/"
}

# libkmod: as Debian builds it minus openssl (signatures are the kernel's business), against
# the musl-built zstd and liblzma. kmod 30's configure refuses --enable-static: drop the check.
MUSL_KMOD_CONFIGURE="--with-xz --with-zstd --without-openssl --enable-static --disable-shared
--disable-manpages"
MUSL_RECIPE_KMOD="r2 drop --enable-static check; autoreconf -fi; configure $MUSL_KMOD_CONFIGURE CFLAGS=$MUSL_CFLAGS; make libkmod/libkmod.la"
musl_build_kmod() { # SRC OUT KERNEL_HEADERS ZSTD_DIR XZ_DIR
	if grep -q -- '--enable-static is not supported' "$1/configure.ac"; then
		sed -i '/--enable-static is not supported/d' "$1/configure.ac"
	else
		log "note: kmod's configure.ac has no --enable-static check to drop"
	fi
	mkdir -p "$1/libkmod/docs"
	touch "$1/libkmod/docs/gtk-doc.make"
	(cd "$1" && musl_step autoreconf autoreconf -fi) || return 1
	# pkg-config would answer with the glibc builds: give the results directly, as -L/-l (given
	# as paths, libtool copies the archives into libkmod.a).
	# shellcheck disable=SC2086 # the option list is whitespace-separated
	(cd "$1" && musl_step configure ./configure CC="$MUSL_CC" \
		CPPFLAGS="-I$4/include -I$5/include" CFLAGS="$MUSL_CFLAGS -isystem $3" \
		libzstd_CFLAGS="-I$4/include" libzstd_LIBS="-L$4 -lzstd" \
		liblzma_CFLAGS="-I$5/include" liblzma_LIBS="-L$5 -llzma" \
		$MUSL_KMOD_CONFIGURE) || return 1
	musl_step make \
		make -C "$1" -j"$(nproc 2>/dev/null || echo 2)" libkmod/libkmod.la || return 1
	mkdir -p "$2/include"
	cp "$1/libkmod/.libs/libkmod.a" "$2/"
	cp "$1/libkmod/libkmod.h" "$2/include/"
}

# musl_kernel_headers DIR: the kernel's UAPI headers (linux-libc-dev) for musl-gcc, which only
# searches musl's include directory.
musl_kernel_headers() {
	mkdir -p "$1"
	ln -sfn /usr/include/linux "$1/linux"
	ln -sfn /usr/include/asm-generic "$1/asm-generic"
	ln -sfn "/usr/include/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/asm" "$1/asm"
}
