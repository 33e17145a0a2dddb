#!/usr/bin/env bash
# Tools of the physical backup tests (tests/physical_backup.rs), from Debian:
#
#   bash scripts/physical-backup-deps.sh
#       installs mariadb-backup (MariaDB's hot physical backup tool, the same version as the
#       server) if missing. PostgreSQL's pg_basebackup comes with the PostgreSQL 15 server
#       binaries the machine already has (/usr/lib/postgresql/15/bin).
set -euo pipefail

if ! command -v mariadb-backup >/dev/null 2>&1; then
  echo "installing mariadb-backup" >&2
  export DEBIAN_FRONTEND=noninteractive
  # CI runs this while other installs may hold the dpkg lock: wait for it.
  apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q)
  "${apt[@]}" install mariadb-backup >/dev/null 2>&1 \
    || { "${apt[@]}" update >/dev/null && "${apt[@]}" install mariadb-backup >/dev/null; }
fi
