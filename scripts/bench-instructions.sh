#!/usr/bin/env bash
# Instructions per call of one benchmark body, counted by callgrind (repeatable, unlike time):
#   bash scripts/bench-instructions.sh <dialect> <workload> <library> <N> [iterations]
# e.g. `bash scripts/bench-instructions.sh sqlite select_users orm 1000`. Runs the bench binary
# twice under `valgrind --tool=callgrind` (0 and k iterations after the same setup) and prints
# (total_k - total_0) / k. Only this process is counted: the database server's work is not.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 4 ]] || { echo "usage: $0 <dialect> <workload> <library> <N> [iterations]" >&2; exit 2; }
dialect=$1 workload=$2 lib=$3 n=$4 k=${5:-200}
bash scripts/bench-deps.sh
bin=$(cargo bench -p polyorm-benches --bench compare --no-run --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
out=$(mktemp -d)
count() { # iterations
  ORM_BENCH_PROFILE="$dialect/$workload/$lib/$n/$1" valgrind --tool=callgrind \
    --callgrind-out-file="$out/cg.$1" "$bin" >/dev/null 2>"$out/log.$1"
  sed -n 's/^summary: //p' "$out/cg.$1"
}
base=$(count 0)
total=$(count "$k")
echo "$dialect $workload $lib N=$n: $(( (total - base) / k )) instructions per call"
rm -rf "$out"
