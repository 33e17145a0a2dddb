#!/usr/bin/env bash
# Peak memory of reading 100,000 rows (issue 19, item 8): this ORM (through `Db`), raw sqlx,
# SeaORM and Diesel, each reading every user all at once (into a Vec) and streamed (one row at
# a time), each measurement in a process of its own (see benches/benches/compare/memory.rs).
# Prints a Markdown table: peak resident memory above what the process held before the read.
#
# Environment: ORM_BENCH_DIALECTS (default postgres,mysql,sqlite) and the URLs of
# scripts/bench.sh; the SQLite file is $TMPDIR/orm_bench_memory.sqlite, removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bench-deps.sh
export ORM_BENCH_SQLITE_PATH=${TMPDIR:-/tmp}/orm_bench_memory.sqlite
trap 'rm -f "$ORM_BENCH_SQLITE_PATH" "$ORM_BENCH_SQLITE_PATH-wal" "$ORM_BENCH_SQLITE_PATH-shm"' EXIT
cargo bench -q -p polyorm-benches --bench compare --no-run
run() { ORM_BENCH_MEMORY=$1 cargo bench -q -p polyorm-benches --bench compare; }
IFS=, read -ra dialects <<<"${ORM_BENCH_DIALECTS:-postgres,mysql,sqlite}"
echo "| dialect | library | all at once (MiB) | streamed (MiB) |"
echo "| --- | --- | ---: | ---: |"
for dialect in "${dialects[@]}"; do
  run "$dialect/seed" >/dev/null
  for lib in orm sqlx seaorm diesel; do
    all=$(run "$dialect/$lib/all" | sed -n 's/.*peak \([0-9.]*\) MiB.*/\1/p')
    streamed=$(run "$dialect/$lib/stream" | sed -n 's/.*peak \([0-9.]*\) MiB.*/\1/p')
    echo "| $dialect | $lib | $all | $streamed |"
  done
done
