#!/usr/bin/env bash
# Installs what the change-stream tests (polyorm-changes) need beyond the SQL servers: the wal2json
# logical decoding plugin for the PostgreSQL 15 binaries their private servers run (Debian's
# postgresql-15-wal2json). The MariaDB binlog tests need nothing more than mariadbd.
set -euo pipefail
if [[ ! -e /usr/lib/postgresql/15/lib/wal2json.so ]]; then
  echo "installing postgresql-15-wal2json (PostgreSQL logical decoding plugin)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q postgresql-15-wal2json >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q postgresql-15-wal2json >/dev/null; }
fi
