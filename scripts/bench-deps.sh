#!/usr/bin/env bash
# Installs what the benchmarks (benches/, package polyorm-benches) need beyond the library's own
# build: the C client libraries Diesel links (libpq for PostgreSQL, libmysqlclient for
# MariaDB/MySQL, found through pkg-config) and valgrind for the instruction counts. Debian
# packages; only the missing ones are installed (apt-get needs root, or sudo).
set -euo pipefail
need=()
for pkg in libpq-dev default-libmysqlclient-dev pkg-config valgrind; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  echo "installing ${need[*]} (Debian packages) for the benchmarks" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
