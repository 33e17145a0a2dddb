#!/usr/bin/env bash
# Installs the servers the query cache's tests start on their own ports (they kill them to
# inject outages): memcached and redis-server, from Debian packages. Idempotent: does nothing
# when both are present. The tests start and stop the servers themselves.
#
#   bash scripts/cache-servers.sh install
set -euo pipefail

case ${1:-install} in
  install)
    missing=()
    [[ -x /usr/bin/memcached ]] || missing+=(memcached)
    [[ -x /usr/bin/redis-server ]] || missing+=(redis-server)
    if ((${#missing[@]})); then
      echo "installing ${missing[*]} for the query cache's tests" >&2
      sudo=""
      [[ $(id -u) == 0 ]] || sudo=sudo
      $sudo apt-get update -qq
      # Debian's packages start their service on install; the tests run their own servers.
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    ;;
  *)
    echo "usage: $0 install" >&2
    exit 2
    ;;
esac
