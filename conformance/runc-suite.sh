#!/bin/bash
# runc's own integration suite (tests/integration, bats) against a runtime and
# against a runc baseline on the same machine, and the comparison: each side's
# pass/fail/skip counts and the tests the runtime fails where runc passes.
#
# It cannot run in CI: the suite comes from a fetched opencontainers/runc tree,
# prepared (built, images made) by the runc-suite tool, which CI does not have.
# Nothing of runc's is kept in this repository; this script only calls the
# tool's run.sh / run-rootless.sh and reads their TAP output.
#
# usage (as root):
#   RUNC_SUITE=<tool dir> RUNC_SRC=<prepared tree> conformance/runc-suite.sh [RUNTIME [BASELINE [OUTDIR]]]
#   conformance/runc-suite.sh --rerun RUNTIME BASELINE RUNTIME_OUT BASELINE_OUT
#   conformance/runc-suite.sh --compare RUNTIME_OUT BASELINE_OUT
#       (--rerun: the reruns and the comparison of two finished runs;
#        --compare: only the comparison)
#   RUNTIME   default bin/ocirun
#   BASELINE  default $RUNC_SRC/runc when the tree built one (v1.3), else /usr/sbin/runc
#   OUTDIR    default /tmp/runc-suite-<version>-<mode>; the runs go to OUTDIR/runtime
#             and OUTDIR/baseline, their single-test reruns to OUTDIR/runtime.rerun and
#             OUTDIR/baseline.rerun, the report to OUTDIR/comparison.md
# env:
#   RUNC_SUITE    the runc-suite tool's directory (run.sh, run-rootless.sh,
#                 identity.txt, skip lists); default ../shared/tools/runc-suite
#                 beside the project
#   RUNC_SRC      tree the tool prepared (default /tmp/runc-src)
#   ROOTLESS=1    run run-rootless.sh (tests run as RL_USER, default ocirun-test;
#                 ROOTLESS_FEATURES as the tool takes it)
#   RERUN=0       no reruns. By default each test the baseline failed, then
#                 each the runtime failed where the baseline passed, is run
#                 once more alone, and counts as passed if it passes then: on a
#                 shared machine a test may time out under load, or meet
#                 another suite's container of the same name
#   SKIP_LIST, FILES, FILTER, TEST_TIMEOUT, USE_SYSTEMD: passed to the tool
# Identity text (the tool's identity.txt: runc's version string, help layout,
# its internal --debug lines) is listed apart, not counted as a failure.
# Exit status: 0 no failure where the baseline passes, 1 some, 2 usage or the
# suite is not prepared.

set -u
project=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
tool=${RUNC_SUITE:-$(readlink -f "$project/../shared/tools/runc-suite" 2>/dev/null)}
src=${RUNC_SRC:-/tmp/runc-src}

die() { echo "runc-suite: $*" >&2; exit 2; }

need_tool() {
	[ -n "$tool" ] && [ -x "$tool/run.sh" ] ||
		die "no runc-suite tool (set RUNC_SUITE to the directory holding run.sh); this cannot run in CI"
}

# --- results -----------------------------------------------------------------
# One line per test: "file<TAB>name<TAB>pass|fail|skip", from a run's TAP files.
results() {
	local tap
	for tap in "$1"/tap/*.tap; do
		[ -e "$tap" ] || continue
		awk -v f="$(basename "$tap" .tap).bats" '
			/^(not )?ok [0-9]+ / {
				s = "pass"; n = $0
				if (n ~ /^not ok/) { s = "fail"; sub(/^not ok [0-9]+ /, "", n) }
				else { sub(/^ok [0-9]+ /, "", n); if (n ~ / # skip/) s = "skip" }
				sub(/ # (skip|timeout after|no result from bats).*$/, "", n)
				print f "\t" n "\t" s
			}' "$tap"
	done
}

# worse_than_baseline RUNTIME_RESULTS BASELINE_RESULTS: "file<TAB>name" of the
# tests the runtime failed and the baseline passed.
worse_than_baseline() {
	comm -12 <(awk -F'\t' '$3 == "fail" { print $1 "\t" $2 }' "$1" | LC_ALL=C sort) \
		<(awk -F'\t' '$3 == "pass" { print $1 "\t" $2 }' "$2" | LC_ALL=C sort)
}

count() { awk -F'\t' -v s="$2" '$3 == s' "$1" | wc -l; }

# Identity tests as "file<TAB>name" (identity.txt lines read "file.bats: not ok NAME").
identity() {
	[ -f "$tool/identity.txt" ] || return 0
	sed -n -E 's/^([^#:]+\.bats): not ok (.*[^[:space:]])[[:space:]]*$/\1\t\2/p' "$tool/identity.txt"
}

# The TAP comment lines bats printed for one failed test: where it failed, the
# assertion, and the last runtime command with its status and first output line.
failure_excerpt() {
	local tap=$1/tap/${2%.bats}.tap name=$3
	awk -v name="$name" '
		/^(not )?ok [0-9]+ / { on = 0; n = $0; sub(/^not ok [0-9]+ /, "", n); sub(/ # (timeout after|no result).*$/, "", n)
			if ($0 ~ /^not ok/ && n == name) { on = 1; if ($0 ~ / # timeout after/) print "    timed out" } ; next }
		on && /^# \(in test file|^#   `.*failed|^# .*\(status=[0-9]+\):?$/ { print "    " substr($0, 3); grab = ($0 ~ /status=/); next }
		on && grab { if ($0 != "#") print "      " substr($0, 3); grab = 0 }
	' "$tap" | tail -n 10
}

# --- running -----------------------------------------------------------------
suite_version() { cat "$src/VERSION" 2>/dev/null || echo unknown; }

default_skip_list() {
	case $(suite_version) in
	1.1.*) echo "$tool/skip-list.txt" ;;
	*) [ -f "$tool/skip-list-1.3.txt" ] && echo "$tool/skip-list-1.3.txt" || echo "$tool/skip-list.txt" ;;
	esac
}

runner() { if [ "${ROOTLESS:-}" = 1 ]; then echo "$tool/run-rootless.sh"; else echo "$tool/run.sh"; fi; }

# run_suite RUNTIME OUTDIR [FILE NAME]: the whole suite, or one test alone.
run_suite() {
	# absolute: the tool writes its output from inside the suite's directory
	local rt=$1 out env=(RUNC_SRC="$src" SKIP_LIST="${SKIP_LIST:-$(default_skip_list)}")
	out=$(realpath -m "$2")
	[ "${ROOTLESS:-}" = 1 ] && env+=(RL_USER="${RL_USER:-ocirun-test}")
	if [ $# -eq 4 ]; then
		env+=(FILES="$3" FILTER="^$(sed -e 's/[][\.*^$(){}+?|/]/\\&/g' <<<"$4")\$")
	fi
	env "${env[@]}" "$(runner)" "$rt" "$out" >"$out.out" 2>&1
}

mode_label() {
	local m="this host, root"
	[ -n "${USE_SYSTEMD:-}" ] && m="this host, root, systemd mode"
	[ "${ROOTLESS:-}" = 1 ] && m="rootless as ${RL_USER:-ocirun-test} (${ROOTLESS_FEATURES-idmap+cgroup+})"
	echo "v$(suite_version), $m"
}

# --- reruns -------------------------------------------------------------------
# On a shared machine a test may time out, or meet another suite's container
# of the same name, so each failed test is run once more by itself before it
# counts: the reruns of a run OUT go to OUT.rerun/N (N/test names the test).

# rerun_alone RUNTIME OUT: each "file<TAB>name" on stdin, alone, into OUT.rerun.
rerun_alone() {
	local rt=$1 dir=${2%/}.rerun f n i=0
	rm -rf "$dir"
	mkdir -p "$dir"
	while IFS=$'\t' read -r f n; do
		i=$((i + 1))
		mkdir -p "$dir/$i"
		printf '%s\t%s\n' "$f" "$n" >"$dir/$i/test"
		run_suite "$rt" "$dir/$i" "$f" "$n"
	done
}

# Tests of OUT that failed in the full run and passed alone.
passed_alone() {
	local t d
	for t in "${1%/}".rerun/*/test; do
		[ -e "$t" ] || continue
		d=$(dirname "$t")
		results "$d" | grep -qxF "$(cat "$t")"$'\tpass' && cat "$t"
	done
}

# results with the reruns applied: a failed test that passed alone counts as passed.
effective() {
	awk -F'\t' -v OFS='\t' 'FILENAME == ARGV[1] { alone[$1 "\t" $2] = 1; next }
		$3 == "fail" && (($1 "\t" $2) in alone) { $3 = "pass" } { print }' \
		<(passed_alone "$1") <(results "$1")
}

# Where the output of a test's last failure is: its rerun if any, else the run.
failure_dir() {
	local t
	t=$(grep -lxF "$2"$'\t'"$3" "${1%/}".rerun/*/test 2>/dev/null | head -1)
	if [ -n "$t" ]; then dirname "$t"; else echo "$1"; fi
}

# --- comparing ---------------------------------------------------------------
# compare RUNTIME_OUT BASELINE_OUT: prints the table and the list.
compare() {
	local rto=$1 bo=$2 tmp f n
	tmp=$(mktemp -d)
	effective "$rto" >"$tmp/rt"
	effective "$bo" >"$tmp/base"
	identity >"$tmp/id"
	worse_than_baseline "$tmp/rt" "$tmp/base" >"$tmp/worse"
	grep -vxF -f "$tmp/id" "$tmp/worse" >"$tmp/worse-behaviour" || true
	grep -xF -f "$tmp/id" "$tmp/worse" >"$tmp/worse-identity" || true
	local rtname bname nworse
	rtname=$(basename "$(sed -n -E 's/^# .* against (.*)$/\1/p' "$rto/summary.txt" | head -1)")
	bname=$(sed -n 2p "$bo/summary.txt" | sed 's/^# //')
	nworse=$(wc -l <"$tmp/worse-behaviour")
	echo "| suite, mode | baseline ($bname) pass / fail / skip | $rtname pass / fail / skip | $rtname fails where the baseline passes (beyond identity text) |"
	echo "|---|---|---|---|"
	echo "| $(mode_label) | $(count "$tmp/base" pass) / $(count "$tmp/base" fail) / $(count "$tmp/base" skip) | $(count "$tmp/rt" pass) / $(count "$tmp/rt" fail) / $(count "$tmp/rt" skip) | $nworse |"
	echo
	echo "Counts after the reruns: a test that failed in the full run and passed alone counts as passed."
	echo "Passed only when rerun alone: baseline $(passed_alone "$bo" | wc -l), $rtname $(passed_alone "$rto" | wc -l)."
	passed_alone "$rto" | sed "s/^/  - $rtname: /; s/\t/: /"
	passed_alone "$bo" | sed 's/^/  - baseline: /; s/\t/: /'
	echo
	echo "$rtname fails where the baseline passes ($nworse):"
	while IFS=$'\t' read -r f n; do
		echo "  - $f: $n"
		failure_excerpt "$(failure_dir "$rto" "$f" "$n")" "$f" "$n"
	done <"$tmp/worse-behaviour"
	if [ -s "$tmp/worse-identity" ]; then
		echo
		echo "identity text, aside ($(wc -l <"$tmp/worse-identity")):"
		sed 's/^/  - /; s/\t/: /' "$tmp/worse-identity"
	fi
	rm -rf "$tmp"
	[ "$nworse" -eq 0 ]
}

# rerun_failures RUNTIME BASELINE RUNTIME_OUT BASELINE_OUT: the baseline's
# failures alone, then the runtime's failures where the baseline passed.
rerun_failures() {
	results "$4" | awk -F'\t' -v OFS='\t' '$3 == "fail" { print $1, $2 }' | rerun_alone "$2" "$4"
	worse_than_baseline <(results "$3") <(effective "$4") | grep -vxF -f <(identity) | rerun_alone "$1" "$3"
}

if [ "${1:-}" = --rerun ]; then
	[ $# -eq 5 ] || die "usage: $0 --rerun RUNTIME BASELINE RUNTIME_OUT BASELINE_OUT"
	need_tool
	rerun_failures "$(readlink -f "$2")" "$(readlink -f "$3")" "$4" "$5"
	compare "$4" "$5"
	exit
fi
if [ "${1:-}" = --compare ]; then
	[ $# -eq 3 ] || die "usage: $0 --compare RUNTIME_OUT BASELINE_OUT"
	need_tool
	compare "$2" "$3"
	exit
fi

need_tool
[ -f "$src/tests/integration/helpers.bash" ] ||
	die "no prepared runc tree in $src (RUNC_SRC; prepare it with $tool/prepare.sh); this cannot run in CI"
[ "$(id -u)" = 0 ] || die "run it as root (ROOTLESS=1 drops to RL_USER itself)"
rt=$(readlink -f "${1:-$project/bin/ocirun}")
if [ -n "${2:-}" ]; then base=$2; elif [ -x "$src/runc" ]; then base=$src/runc; else base=/usr/sbin/runc; fi
base=$(readlink -f "$base")
mode=root
[ "${ROOTLESS:-}" = 1 ] && mode=rootless
out=${3:-/tmp/runc-suite-$(suite_version)-$mode}
mkdir -p "$out"
[ -x "$rt" ] || die "runtime not executable: $rt"
[ -x "$base" ] || die "baseline not executable: $base"

echo "runc-suite: $(mode_label): $rt against $base, output in $out" >&2
# One after the other, never at once: tests that set no cgroupsPath use a
# cgroup named after the container id (test_busybox, ...), the same for both
# runs, and runc 1.2+ refuses a cgroup that already holds processes.
run_suite "$base" "$out/baseline"
run_suite "$rt" "$out/runtime"
[ "${RERUN:-1}" = 1 ] && rerun_failures "$rt" "$base" "$out/runtime" "$out/baseline"
compare "$out/runtime" "$out/baseline" | tee "$out/comparison.md"
exit "${PIPESTATUS[0]}"
