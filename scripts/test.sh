#!/usr/bin/env bash
# Runs the whole test suite: every crate's unit tests, the compile-fail (trybuild) cases, the
# SQL and BSON snapshots, the shared integration suite on SQLite, PostgreSQL and MariaDB/MySQL,
# and the MongoDB compiler against a MongoDB-wire test server that this script installs (from
# PyPI, into target/) and starts, and stops again when the tests end; the DynamoDB backend
# against moto's DynamoDB emulator (PyPI, into target/dynamodb-venv), started and stopped the
# same way; object storage against
# S3 and Azure emulators (moto, s3rver, azurite) that its tests start and kill.
#
# Backends: ORM_TEST_BACKENDS (default sqlite,postgres,mysql,mongodb,dynamodb); URLs: ORM_TEST_POSTGRES_URL
# (default postgres://postgres@127.0.0.1:5432/test), ORM_TEST_MYSQL_URL (default
# mysql://root@127.0.0.1:3306/test), ORM_TEST_MONGO_URL (default: the server started here) or
# MONGODB_URL (a real MongoDB: also runs the tests the test server cannot), ORM_TEST_DYNAMODB_URL
# (default: the moto server started here, `dynamodb://127.0.0.1:PORT?region=us-east-1`).
# With CI=true every backend must be reachable.
set -euo pipefail
cd "$(dirname "$0")/.."

backends=${ORM_TEST_BACKENDS:-sqlite,postgres,mysql,mongodb,dynamodb}
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
# The query cache's tests (polyorm-cache) run against Redis, PostgreSQL and MariaDB.
check_port Redis "${ORM_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
# ...and against memcached and redis-server processes of their own (killed to inject outages).
bash scripts/cache-servers.sh install
# Object storage's tests (polyorm-storage) start moto, s3rver and azurite on free ports (installed
# once into target/storage-emulators/, reused afterwards).
bash scripts/storage-emulators.sh install
# Change streams (polyorm-changes) start private PostgreSQL servers with wal_level=logical that
# decode through wal2json (installed here from Debian if missing) and private MariaDB servers
# writing a row-based binlog.
bash scripts/changes-deps.sh
# The Galera test (tests/galera.rs) starts a three-node cluster through scripts/galera.sh,
# which needs galera-4 (installed here if missing; CI installs it in the background earlier).
bash scripts/galera.sh install
# Replicated topologies (tests/topology*.rs) start private PostgreSQL standbys and MariaDB
# replicas from the installed binaries, and a pg_auto_failover formation (installed here from
# Debian if missing).
bash scripts/ha-servers.sh install
# Physical backups (tests/physical_backup.rs, polyorm-cli/tests/physical_backup.rs) run
# mariadb-backup (installed here from Debian if missing) and pg_basebackup on private servers.
bash scripts/physical-backup-deps.sh

# MONGODB_URL: a real MongoDB (e.g. `docker compose up -d --wait mongodb`); the suite then also
# runs the tests the nx-27017 test server cannot (read at build time by build.rs).
if [[ -n ${MONGODB_URL:-} ]]; then
  export ORM_TEST_MONGO_URL=$MONGODB_URL ORM_TEST_MONGO_REAL=1
fi
if [[ ",$backends," == *",mongodb,"* && -z ${ORM_TEST_MONGO_URL:-} ]]; then
  ORM_TEST_MONGO_URL=$(bash scripts/mongo-server.sh start)
  export ORM_TEST_MONGO_URL
fi
# DynamoDB: moto's emulator on ORM_TEST_DYNAMODB_PORT (default 27191), in memory.
if [[ ",$backends," == *",dynamodb,"* && -z ${ORM_TEST_DYNAMODB_URL:-} ]]; then
  ORM_TEST_DYNAMODB_URL=$(bash scripts/dynamodb-server.sh start)
  export ORM_TEST_DYNAMODB_URL
fi
stop_servers() {
  bash scripts/mongo-server.sh stop >/dev/null 2>&1 || true
  bash scripts/dynamodb-server.sh stop >/dev/null 2>&1 || true
}
trap stop_servers EXIT

export ORM_TEST_BACKENDS=$backends ORM_TEST_POSTGRES_URL=$pg_url ORM_TEST_MYSQL_URL=$my_url
cargo test --workspace --all-features "$@"
# The suite's PostgreSQL tests (every name with `postgres` in it) once more on sqlx's driver
# (the pass above runs them on the default, the native driver on tokio-postgres).
# Only for a whole run: a filter given to this script selects the pass above alone.
if [[ $# -eq 0 && ,$backends, == *,postgres,* ]]; then
  ORM_TEST_POSTGRES_DRIVER=sqlx cargo test --all-features --test suite -- postgres
fi
# Likewise the MariaDB/MySQL tests on sqlx's MySQL driver (the default is the native one on
# mysql_async).
if [[ $# -eq 0 && ,$backends, == *,mysql,* ]]; then
  ORM_TEST_MYSQL_DRIVER=sqlx cargo test --all-features --test suite -- mysql
fi
# The compile-fail cases are blessed with the default features (see tests/compile_fail.rs).
cargo test --test compile_fail "$@"
