# shellcheck shell=sh
# The DKMS corpus: every `*-dkms` package apt offers on this host (Debian 12
# main: about 30), downloaded with `apt-get download` and unpacked with
# `dpkg-deb -x`, never installed. Source after common.sh.
#
#   $KMODGUARD_CACHE/dkms-corpus/
#     debs/PKG_VERSION_ARCH.deb           what apt lists now (never pinned)
#     trees/PKG_VERSION/usr/src/NAME-VER/ the unpacked package (only usr/src)
#     corpus.txt                          "PKG VERSION SRCDIR" per package
#
# dh-dkms is a debhelper addon, not a DKMS package: left out.

CORPUS="$KMODGUARD_CACHE/dkms-corpus"

# corpus_packages: the names, sorted.
corpus_packages() {
	apt-cache search --names-only -- '-dkms$' | cut -d' ' -f1 | grep -vx dh-dkms | sort
}

# corpus_candidates PKG...: "PKG VERSION" for each, as apt's candidate now.
corpus_candidates() {
	apt-cache policy "$@" 2>/dev/null | awk '
		/^[^ ]/ { cur = $1; sub(/:$/, "", cur); next }
		$1 == "Candidate:" && $2 != "(none)" { print cur, $2 }'
}

# corpus_fetch: download and unpack what is missing; write corpus.txt.
corpus_fetch() {
	mkdir -p "$CORPUS/debs" "$CORPUS/trees"
	_cf_pkgs=$(corpus_packages)
	[ -n "$_cf_pkgs" ] || die "apt lists no *-dkms package (apt-get update?)"
	# shellcheck disable=SC2086 # a list of names
	_cf_cands=$(corpus_candidates $_cf_pkgs)
	: >"$CORPUS/corpus.txt.tmp"
	printf '%s\n' "$_cf_cands" | while read -r _cf_p _cf_v; do
		_cf_fv=$(printf '%s' "$_cf_v" | sed 's/:/%3a/g')
		_cf_tree="$CORPUS/trees/${_cf_p}_$_cf_v"
		if [ ! -d "$_cf_tree" ]; then
			set -- "$CORPUS/debs/${_cf_p}_${_cf_fv}"_*.deb
			if [ ! -f "$1" ]; then
				_cf_tmp=$(mktemp -d "$CORPUS/debs/.download.XXXXXX")
				apt_workdir "$_cf_tmp"
				log "downloading $_cf_p $_cf_v"
				if ! (cd "$_cf_tmp" && _apt_get download "$_cf_p=$_cf_v") >"$_cf_tmp.log" 2>&1; then
					sed 's/^/    /' "$_cf_tmp.log" >&2
					rm -rf "$_cf_tmp" "$_cf_tmp.log"
					die "cannot download $_cf_p $_cf_v"
				fi
				mv "$_cf_tmp"/*.deb "$CORPUS/debs/"
				rm -rf "$_cf_tmp" "$_cf_tmp.log"
				set -- "$CORPUS/debs/${_cf_p}_${_cf_fv}"_*.deb
			fi
			rm -rf "$_cf_tree.tmp"
			mkdir -p "$_cf_tree.tmp"
			dpkg-deb -x "$1" "$_cf_tree.tmp" || die "cannot unpack $1"
			mv "$_cf_tree.tmp" "$_cf_tree"
		fi
		_cf_src=
		for _cf_conf in "$_cf_tree"/usr/src/*/dkms.conf; do
			[ -f "$_cf_conf" ] && _cf_src=$(dirname -- "$_cf_conf") && break
		done
		if [ -z "$_cf_src" ]; then
			log "$_cf_p $_cf_v: no usr/src/*/dkms.conf in the package; left out"
			continue
		fi
		printf '%s %s %s\n' "$_cf_p" "$_cf_v" "$_cf_src" >>"$CORPUS/corpus.txt.tmp"
	done
	mv "$CORPUS/corpus.txt.tmp" "$CORPUS/corpus.txt"
}

# The keys the survey looks for (dkms 3.0.10's dkms.conf vocabulary).
SURVEY_KEYS="MAKE MAKE_MATCH CLEAN PATCH PATCH_MATCH PRE_BUILD POST_BUILD PRE_INSTALL POST_INSTALL POST_ADD POST_REMOVE BUILD_DEPENDS BUILD_EXCLUSIVE_KERNEL BUILD_EXCLUSIVE_ARCH BUILD_EXCLUSIVE_CONFIG BUILD_EXCLUSIVE_KERNEL_MIN BUILD_EXCLUSIVE_KERNEL_MAX STRIP NO_WEAK_MODULES REMAKE_INITRD AUTOINSTALL BUILT_MODULE_LOCATION DEST_MODULE_LOCATION DEST_MODULE_NAME MODULES_CONF OBSOLETE_BY"

# survey_conf FILE: the features one dkms.conf uses, space-separated.
survey_conf() {
	_sc=
	for _sc_k in $SURVEY_KEYS; do
		grep -Eq "^[[:space:]]*(export[[:space:]]+)?$_sc_k(\\[[^]]*\\])?=" "$1" && _sc="$_sc $_sc_k"
	done
	# Bash the static reader cannot follow.
	grep -Eq '^[[:space:]]*BUILT_MODULE_LOCATION=' "$1" && _sc="$_sc LOCATION-scalar"
	grep -Eq '^[^#]*=.*\$' "$1" && _sc="$_sc \$var"
	grep -Eq '^[^#]*(`|\$\()' "$1" && _sc="$_sc \$(cmd)"
	grep -Eq '^[[:space:]]*(if|for|while|case)[[:space:];]|(\[\[|\]\]|&&|\|\|)' "$1" && _sc="$_sc control"
	grep -Eq '\$\(\(|\+\+|\+=' "$1" && _sc="$_sc arith"
	grep -Eq '#[A-Z_]+#' "$1" && _sc="$_sc placeholder"
	printf '%s\n' "${_sc# }"
}
