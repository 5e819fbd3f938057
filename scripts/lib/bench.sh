# shellcheck shell=sh
# bench.sh - result rows, statistics, the Markdown table and the JSON of scripts/bench. Source
# after common.sh, with BENCH_WORK set to a scratch directory:
#
#   bench_row ID FIGURE UNIT BASELINE KMODGUARD GOAL "BASE VALUES" "KMODGUARD VALUES" [NOTE]
#   bench_table                 # the Markdown table of every row, in order
#   bench_json FILE META_JSON   # every row with its raw values, plus META_JSON's fields
#
# A row compares one figure: BASELINE (what users run today) and KMODGUARD (what kmodguard
# does instead), each a space-separated list of measurements in UNIT (one per run). The ratio
# is median(KMODGUARD) / median(BASELINE): below 1 means kmodguard is smaller or faster. GOAL
# is the issue's goal in the same terms ("<= 1.1"), or "-". The machine's load average is
# recorded with every row (/proc/loadavg when the row is recorded).

# bench_loadavg: the 1-, 5- and 15-minute load averages.
bench_loadavg() {
	cut -d' ' -f1-3 /proc/loadavg
}

# bench_row ID FIGURE UNIT BASELINE KMODGUARD GOAL BASEVALS KGVALS [NOTE]
bench_row() {
	mkdir -p "$BENCH_WORK/rows"
	_br_n=$(find "$BENCH_WORK/rows" -name '*.row' | wc -l)
	_br_f=$BENCH_WORK/rows/$(printf '%03d' "$_br_n")-$1.row
	{
		printf 'id=%s\n' "$1"
		printf 'figure=%s\n' "$2"
		printf 'unit=%s\n' "$3"
		printf 'baseline=%s\n' "$4"
		printf 'kmodguard=%s\n' "$5"
		printf 'goal=%s\n' "$6"
		printf 'base=%s\n' "$7"
		printf 'kg=%s\n' "$8"
		printf 'note=%s\n' "${9:-}"
		printf 'load=%s\n' "$(bench_loadavg)"
	} >"$_br_f"
	log "bench: $2: baseline $(bench_stats "$7" | cut -d' ' -f2) vs kmodguard $(bench_stats "$8" | cut -d' ' -f2) $3"
}

# bench_stats "VALUES": "N MEDIAN MIN MAX" (MEDIAN etc. "-" when there are no values).
bench_stats() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed '/^$/d' | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "0 - - -"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%d %s %s %s\n", NR, m, v[1], v[NR]
		}'
}

# _bench_get FILE KEY
_bench_get() {
	sed -n "s/^$2=//p" "$1" | head -n 1
}

# bench_fmt NUMBER: a short human form (3 significant digits, no exponent).
bench_fmt() {
	awk -v x="$1" 'BEGIN {
		if (x == "-" || x == "") { print "-"; exit }
		a = (x < 0) ? -x : x
		if (a == 0) print "0"
		else if (a >= 1000) printf "%.0f\n", x
		else if (a >= 100) printf "%.1f\n", x
		else if (a >= 10) printf "%.2f\n", x
		else if (a >= 1) printf "%.3f\n", x
		else if (a >= 0.01) printf "%.4f\n", x
		else printf "%.6f\n", x
	}'
}

# bench_ratio A B: A / B with 3 significant digits ("-" when either is missing or B is 0).
bench_ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0) { print "-"; exit }
		r = a / b
		if (r >= 100) printf "%.0f\n", r; else if (r >= 10) printf "%.1f\n", r; else printf "%.3g\n", r
	}'
}

# bench_table: the Markdown table (stdout).
bench_table() {
	printf '| figure | unit | baseline | kmodguard | ratio | goal | N (base/kg) | baseline min / median / max | kmodguard min / median / max |\n'
	printf '| --- | --- | --- | --- | ---: | --- | ---: | ---: | ---: |\n'
	for _bt_f in "$BENCH_WORK"/rows/*.row; do
		[ -f "$_bt_f" ] || continue
		# shellcheck disable=SC2046 # four fields
		set -- $(bench_stats "$(_bench_get "$_bt_f" base)")
		_bt_bn=$1 _bt_bmed=$2 _bt_bmin=$3 _bt_bmax=$4
		# shellcheck disable=SC2046
		set -- $(bench_stats "$(_bench_get "$_bt_f" kg)")
		_bt_kn=$1 _bt_kmed=$2 _bt_kmin=$3 _bt_kmax=$4
		printf '| %s | %s | %s | %s | %s | %s | %s/%s | %s / %s / %s | %s / %s / %s |\n' \
			"$(_bench_get "$_bt_f" figure)" "$(_bench_get "$_bt_f" unit)" \
			"$(_bench_get "$_bt_f" baseline)" "$(_bench_get "$_bt_f" kmodguard)" \
			"$(bench_ratio "$_bt_kmed" "$_bt_bmed")" "$(_bench_get "$_bt_f" goal)" "$_bt_bn" "$_bt_kn" \
			"$(bench_fmt "$_bt_bmin")" "$(bench_fmt "$_bt_bmed")" "$(bench_fmt "$_bt_bmax")" \
			"$(bench_fmt "$_bt_kmin")" "$(bench_fmt "$_bt_kmed")" "$(bench_fmt "$_bt_kmax")"
	done
}

# bench_notes: each row's note, when it has one (stdout, Markdown list).
bench_notes() {
	for _bn_f in "$BENCH_WORK"/rows/*.row; do
		[ -f "$_bn_f" ] || continue
		_bn_note=$(_bench_get "$_bn_f" note)
		printf -- '- %s (load %s)%s\n' "$(_bench_get "$_bn_f" figure)" "$(_bench_get "$_bn_f" load)" \
			"${_bn_note:+: $_bn_note}"
	done
}

# _bench_json_numbers "VALUES": a JSON array of numbers.
_bench_json_numbers() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed '/^$/d' | jq -s -c 'map(tonumber)'
}

# bench_json FILE META_JSON: every row (figure, unit, baseline, kmodguard, ratio, goal, stats,
# raw values, load average, note) plus the fields of META_JSON (an object).
bench_json() {
	for _bj_f in "$BENCH_WORK"/rows/*.row; do
		[ -f "$_bj_f" ] || continue
		_bj_base=$(_bench_get "$_bj_f" base)
		_bj_kg=$(_bench_get "$_bj_f" kg)
		# shellcheck disable=SC2046
		set -- $(bench_stats "$_bj_base") $(bench_stats "$_bj_kg")
		jq -n -c --arg id "$(_bench_get "$_bj_f" id)" --arg figure "$(_bench_get "$_bj_f" figure)" \
			--arg unit "$(_bench_get "$_bj_f" unit)" --arg baseline "$(_bench_get "$_bj_f" baseline)" \
			--arg kmodguard "$(_bench_get "$_bj_f" kmodguard)" --arg goal "$(_bench_get "$_bj_f" goal)" \
			--arg note "$(_bench_get "$_bj_f" note)" --arg load "$(_bench_get "$_bj_f" load)" \
			--arg ratio "$(bench_ratio "$6" "$2")" \
			--argjson bvals "$(_bench_json_numbers "$_bj_base")" \
			--argjson kvals "$(_bench_json_numbers "$_bj_kg")" '
			def stats(v): if (v | length) == 0 then null else
				(v | sort) as $s | ($s | length) as $n |
				{n: $n, min: $s[0], max: $s[$n - 1],
				 median: (if $n % 2 == 1 then $s[($n - 1) / 2] else ($s[$n / 2 - 1] + $s[$n / 2]) / 2 end)} end;
			{id: $id, figure: $figure, unit: $unit, goal: $goal, note: $note, loadavg: $load,
			 ratio: (if $ratio == "-" then null else ($ratio | tonumber) end),
			 baseline: ({what: $baseline, values: $bvals} + {stats: stats($bvals)}),
			 kmodguard: ({what: $kmodguard, values: $kvals} + {stats: stats($kvals)})}'
	done | jq -s --argjson meta "$2" '$meta + {rows: .}' >"$1.tmp"
	mv "$1.tmp" "$1"
}
