#!/usr/bin/env bash
# Instructions per call of one benchmark body, counted by callgrind (repeatable, unlike time):
#   bash scripts/bench-instructions.sh <dialect> <workload> <library> <N> [iterations]
# e.g. `bash scripts/bench-instructions.sh sqlite select_users orm 1000`. Runs the bench binary
# twice under `valgrind --tool=callgrind` (0 and k iterations after the same setup) and prints
# (total_k - total_0) / k. Only this process is counted: the database server's work is not.
# quanta's `Clock::new` (the clock of `Metrics`, made once per process) calibrates against the
# OS clock in a busy loop bounded by wall time: 6-9 M instructions under callgrind, different in
# every run. Its inclusive cost is subtracted from each run's total, so the figure repeats to a
# few instructions. (Not `--toggle-collect`: callgrind's collection state is the process's, so
# the other threads' work while one calibrates would be left out, by a different amount each run.)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 4 ]] || { echo "usage: $0 <dialect> <workload> <library> <N> [iterations]" >&2; exit 2; }
dialect=$1 workload=$2 lib=$3 n=$4 k=${5:-200}
bash scripts/bench-deps.sh
# ORM_BENCH_BIN: a bench binary built before (to compare two builds); else this tree's.
bin=${ORM_BENCH_BIN:-$(cargo bench -p polyorm-benches --bench compare --no-run \
  --message-format=json 2>/dev/null | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)}
out=$(mktemp -d)
calibration='quanta::Clock::new'
count() { # iterations
  ORM_BENCH_PROFILE="$dialect/$workload/$lib/$n/$1" valgrind --tool=callgrind \
    --callgrind-out-file="$out/cg.$1" "$bin" >/dev/null 2>"$out/log.$1"
  local total calibrating
  total=$(sed -n 's/^summary: //p' "$out/cg.$1")
  # The function itself, not the closures inside it (` [` follows the name), once.
  calibrating=$(callgrind_annotate --inclusive=yes --threshold=100 "$out/cg.$1" \
    | grep -F ":$calibration [" | awk '{ gsub(",", "", $1); print $1 }' | head -1)
  if [[ -z $calibrating ]]; then
    # Absent when nothing made a quanta clock, or when it was inlined into its caller: then
    # its cost cannot be told apart, and the figure would move by millions between runs.
    if nm -C "$bin" | grep -qF "$calibration"; then
      echo "$0: warning: \`$calibration\` is in the binary but did not run as a function of" \
        "its own (inlined?); its calibration, if it ran, is counted" >&2
    fi
    calibrating=0
  fi
  echo $((total - calibrating))
}
base=$(count 0)
total=$(count "$k")
echo "$dialect $workload $lib N=$n: $(( (total - base) / k )) instructions per call"
rm -rf "$out"
