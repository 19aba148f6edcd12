#!/bin/sh
# Runs the core's C test programs, then a bounded libFuzzer campaign, and ends with one line
# "N passed, N failed": the sum of every program's own summary line, plus one pass per fuzz
# target that ran its time without a crash (a crash, leak or missing summary is a failure).
#
# usage: run-tests.sh BUILD_DIR TEST_DIR FUZZ_SECONDS_TOTAL test-binary... -- fuzz-binary...
# Fuzzers start from the committed seeds in TEST_DIR/corpus/<name>/ (name = file name without
# "fuzz_") and write what they learn to BUILD_DIR/corpus/<name>/, so the repository's corpus
# stays small; crash inputs land in BUILD_DIR/fuzz-artifacts/.
B=$1
T=$2
SECS=$3
shift 3
tests=""
fuzzers=""
after=0
for a in "$@"; do
	if [ "$a" = "--" ]; then after=1; continue; fi
	if [ $after -eq 0 ]; then tests="$tests $a"; else fuzzers="$fuzzers $a"; fi
done

pass=0
fail=0
summary_re='^[0-9]+ passed, [0-9]+ failed$'
for t in $tests; do
	name=$(basename "$t")
	out=$("$t" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -v -E "$summary_re"
	line=$(printf '%s\n' "$out" | grep -E "$summary_re" | tail -n 1)
	if [ -z "$line" ]; then
		echo "$name: crashed or printed no summary (exit $rc)"
		fail=$((fail + 1))
		continue
	fi
	p=${line%% passed*}
	f=${line#*, }
	f=${f%% failed}
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$name: exit $rc with no failed test (sanitizer report at exit?)"
		fail=$((fail + 1))
	fi
	echo "$name: $line"
done

n=0
for fz in $fuzzers; do n=$((n + 1)); done
if [ $n -gt 0 ]; then
	per=$((SECS / n))
	[ $per -lt 1 ] && per=1
	mkdir -p "$B/fuzz-artifacts"
	for fz in $fuzzers; do
		base=$(basename "$fz")
		name=${base#fuzz_}
		work="$B/corpus/$name"
		seeds="$T/corpus/$name"
		mkdir -p "$work" "$seeds"
		log="$B/fuzz-$name.log"
		if "$fz" -max_total_time=$per -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		    -artifact_prefix="$B/fuzz-artifacts/$name-" "$work" "$seeds" >"$log" 2>&1; then
			runs=$(grep -a -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
			echo "$base: ${runs:-?} runs in ${per}s, no crash"
			pass=$((pass + 1))
		else
			echo "$base: FAILED, see $log"
			grep -a -E 'ERROR|SUMMARY|runtime error' "$log" | head -n 5
			fail=$((fail + 1))
		fi
	done
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
