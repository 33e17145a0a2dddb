#!/usr/bin/env bash
# The benchmark matrix: this ORM, raw sqlx, SeaORM 2 and Diesel 2 on the diesel_bench workloads,
# on PostgreSQL, MariaDB/MySQL and SQLite, in one criterion run (≈20 minutes on 2 cores, after
# the first build); then writes BENCHMARKS.md (machine, versions, medians, ratios) with the
# findings of benches/NOTES.md appended.
#
# Environment: ORM_BENCH_DIALECTS (default postgres,mysql,sqlite); ORM_BENCH_POSTGRES_URL
# (default postgres://postgres@127.0.0.1:5432/orm_bench), ORM_BENCH_MYSQL_URL (default
# mysql://root@127.0.0.1:3306/orm_bench) — the database is created if missing and only the
# bench_* tables are touched; ORM_BENCH_REPORT (default BENCHMARKS.md). Extra arguments go to
# criterion (e.g. a filter: `bash scripts/bench.sh sqlite-select_users`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bench-deps.sh
export ORM_BENCH_REPORT=${ORM_BENCH_REPORT:-$PWD/BENCHMARKS.md}
ORM_BENCH_RUSTC=$(rustc -V)
ORM_BENCH_DATE=$(date -u +%Y-%m-%d)
export ORM_BENCH_RUSTC ORM_BENCH_DATE
cargo bench -p polyorm-benches --bench compare -- "$@"
