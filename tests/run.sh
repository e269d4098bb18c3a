#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run every cmocka test binary given, sum their counts, and close with one line
# "N passed, N failed, N skipped"; exit non-zero if anything failed.
set -u
passed=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for bin in "$@"; do
	name=$(basename "$bin")
	t0=$(date +%s%N)
	"$bin" >"$log" 2>&1
	rc=$?
	secs=$(( ($(date +%s%N) - t0) / 1000000 ))
	# A binary may run several groups (a server model each): their counts add up.
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{n += $1} END {print n}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{n += $1} END {print n}')
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | awk '{n += $1} END {print n}')
	p=${p:-0} f=${f:-0} s=${s:-0}
	# A binary that died without its summary, or exited non-zero with nothing failed, failed.
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	if [ "$f" -ne 0 ] || [ "${V:-0}" = 1 ]; then
		cat "$log"
	fi
	grep -E '^\[  (SKIPPED|FAILED)  ?\] test|skip:' "$log" | sed "s/^/$name: /" || true
	printf '%-22s %3d passed, %d failed, %d skipped  %d.%01d s\n' "$name" "$p" "$f" "$s" \
		$((secs / 1000)) $((secs % 1000 / 100))
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
