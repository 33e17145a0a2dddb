#!/usr/bin/env bash
# Throughput against the server's own ceiling (issue 19, item 7): queries per second of
# find_by_pk through this ORM (`Db`, a pool of <clients> connections), raw sqlx (its pool) and
# Diesel (one connection per thread), beside `pgbench -S -M prepared` (select-only, prepared,
# pgbench's 100,000 accounts at scale 1) with the same client count, on the same PostgreSQL,
# one after the other. Prints a Markdown table.
#
# Environment: ORM_BENCH_CLIENTS (default "1 8 32"), ORM_BENCH_SECONDS (default 10),
# ORM_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/orm_bench); pgbench's
# tables go to the database orm_bench_pgbench on the same server (created if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bench-deps.sh
url=${ORM_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/orm_bench}
seconds=${ORM_BENCH_SECONDS:-10}
server=${url%/*}
pgbench_url="$server/orm_bench_pgbench"
psql -q "$server/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = 'orm_bench_pgbench'" | grep -q 1 ||
  psql -q "$server/postgres" -c "CREATE DATABASE orm_bench_pgbench"
pgbench -q -i -s 1 "$pgbench_url" >/dev/null 2>&1
cargo bench -q -p polyorm-benches --bench compare --no-run
orm_run() { # library clients
  ORM_BENCH_THROUGHPUT="postgres/$1/$2/$seconds" cargo bench -q -p polyorm-benches --bench compare |
    sed -n 's/.*= \([0-9]*\) queries\/s.*/\1/p'
}
echo "| clients | pgbench -S | ORM (\`Db\`) | sqlx | Diesel | ORM ÷ pgbench |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
for clients in ${ORM_BENCH_CLIENTS:-1 8 32}; do
  threads=$((clients < 2 ? clients : 2))
  ceiling=$(pgbench -n -S -M prepared -c "$clients" -j "$threads" -T "$seconds" "$pgbench_url" 2>/dev/null |
    sed -n 's/^tps = \([0-9]*\).*/\1/p')
  orm=$(orm_run orm "$clients")
  sqlx=$(orm_run sqlx "$clients")
  diesel=$(orm_run diesel "$clients")
  ratio=$(awk -v a="$orm" -v b="$ceiling" 'BEGIN { printf "%.2f", a / b }')
  echo "| $clients | $ceiling | $orm | $sqlx | $diesel | $ratio |"
done
