#!/usr/bin/env bash
# .ci/beside.sh LOG COMMAND_A... -- COMMAND_B...
# Run COMMAND_A in the background (its output into LOG, shown when both have ended) beside COMMAND_B, and exit 1 when
# either failed. The Makefile's `notebooks` and .ci/matrix.sh run the longest lesson (lesson 6 trains for about five
# minutes) beside all the others this way: on two cores the two lanes take about the time of the longer one.
set -uo pipefail
log=${1:?usage: .ci/beside.sh LOG COMMAND_A... -- COMMAND_B...}
shift
first=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do first+=("$1"); shift; done
[ $# -gt 0 ] || { echo "usage: .ci/beside.sh LOG COMMAND_A... -- COMMAND_B... (no -- found)" >&2; exit 2; }
shift
"${first[@]}" > "$log" 2>&1 &
beside=$!
"$@"
b=$?
wait "$beside"
a=$?
echo "== beside it: ${first[*]:0:3} ... (exit $a; output: $log)"
tail -n 40 "$log"
if [ "$a" != 0 ] || [ "$b" != 0 ]; then
  echo "failed: the lane beside exited $a, the main lane $b (the whole output of the lane beside: $log)" >&2
  exit 1
fi
