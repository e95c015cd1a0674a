#!/usr/bin/env bash
# npm test: the whole suite (typecheck included, as a test), then one closing
# line "N passed, N failed" of our own. Extra arguments go to `bun test`.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# bunfig.toml has no per-test timeout setting that Bun 1.3 honours, so it is set here.
bun test --timeout 120000 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
pass=$(grep -E '^ *[0-9]+ pass$' "$log" | tail -1 | grep -oE '[0-9]+')
fail=$(grep -E '^ *[0-9]+ fail$' "$log" | tail -1 | grep -oE '[0-9]+')
skip=$(grep -E '^ *[0-9]+ skip$' "$log" | tail -1 | grep -oE '[0-9]+')
pass=${pass:-0} fail=${fail:-0}
# A crash before the summary (or a suite that ran nothing) is a failure too.
if [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
if [ "$pass" -eq 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
echo
if [ -n "${skip:-}" ] && [ "$skip" -gt 0 ]; then echo "$pass passed, $fail failed, $skip skipped"; else echo "$pass passed, $fail failed"; fi
[ "$fail" -eq 0 ]
