#!/usr/bin/env bash
# Runs the whole test suite: every crate's unit tests, the compile-fail (trybuild) cases, the
# SQL and BSON snapshots, the shared integration suite on SQLite, PostgreSQL and MariaDB/MySQL,
# and the MongoDB compiler against a MongoDB-wire test server that this script installs (from
# PyPI, into target/) and starts, and stops again when the tests end; object storage against
# S3 and Azure emulators (moto, s3rver, azurite) that its tests start and kill.
#
# Backends: ORM_TEST_BACKENDS (default sqlite,postgres,mysql,mongodb); URLs: ORM_TEST_POSTGRES_URL
# (default postgres://postgres@127.0.0.1:5432/test), ORM_TEST_MYSQL_URL (default
# mysql://root@127.0.0.1:3306/test), ORM_TEST_MONGO_URL (default: the server started here) or
# MONGODB_URL (a real MongoDB: also runs the tests the test server cannot).
# With CI=true every backend must be reachable.
set -euo pipefail
cd "$(dirname "$0")/.."

backends=${ORM_TEST_BACKENDS:-sqlite,postgres,mysql,mongodb}
pg_url=${ORM_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
my_url=${ORM_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}

# Fail fast, with a clear message, when a selected server is not listening.
check_port() { # name url
  local hostport host port
  hostport=$(sed -E 's#^[a-z]+://([^@/]*@)?([^/?]+).*#\2#' <<<"$2")
  host=${hostport%:*}; port=${hostport##*:}
  if ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
    echo "error: $1 is not reachable at $host:$port ($2)." >&2
    echo "       Start it, point the URL variable at a running server, or leave $1 out of ORM_TEST_BACKENDS." >&2
    exit 1
  fi
}
[[ ",$backends," == *",postgres,"* ]] && check_port PostgreSQL "$pg_url"
[[ ",$backends," == *",mysql,"* ]] && check_port MariaDB/MySQL "$my_url"
# The query cache's tests (orm-cache) run against Redis, PostgreSQL and MariaDB.
check_port Redis "${ORM_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
# ...and against memcached and redis-server processes of their own (killed to inject outages).
bash scripts/cache-servers.sh install
# Object storage's tests (orm-storage) start moto, s3rver and azurite on free ports (installed
# once into target/storage-emulators/, reused afterwards).
bash scripts/storage-emulators.sh install

# MONGODB_URL: a real MongoDB (e.g. `docker compose up -d --wait mongodb`); the suite then also
# runs the tests the nx-27017 test server cannot (read at build time by build.rs).
if [[ -n ${MONGODB_URL:-} ]]; then
  export ORM_TEST_MONGO_URL=$MONGODB_URL ORM_TEST_MONGO_REAL=1
fi
if [[ ",$backends," == *",mongodb,"* && -z ${ORM_TEST_MONGO_URL:-} ]]; then
  ORM_TEST_MONGO_URL=$(bash scripts/mongo-server.sh start)
  trap 'bash scripts/mongo-server.sh stop >/dev/null 2>&1 || true' EXIT
  export ORM_TEST_MONGO_URL
fi

export ORM_TEST_BACKENDS=$backends ORM_TEST_POSTGRES_URL=$pg_url ORM_TEST_MYSQL_URL=$my_url
cargo test --workspace --all-features "$@"
# The compile-fail cases are blessed with the default features (see tests/compile_fail.rs).
cargo test --test compile_fail "$@"
