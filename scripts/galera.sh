#!/usr/bin/env bash
# A three-node MariaDB Galera cluster on local ports, for tests (tests/galera.rs).
#
#   scripts/galera.sh install        installs galera-4 (Debian) if missing
#   scripts/galera.sh start DIR      creates DIR/node{1,2,3} (mariadb-install-db), starts node 1
#                                    with --wsrep-new-cluster, then nodes 2 and 3 (state
#                                    transfer by rsync), waits for wsrep_cluster_size = 3 and
#                                    prints the nodes' SQL ports, space-separated, on stdout
#   scripts/galera.sh stop DIR       kills every node of DIR and removes DIR
#   scripts/galera.sh kill DIR N     SIGKILLs node N
#
# Every node listens on 127.0.0.1 only (SQL, group communication, IST and SST ports all picked
# free); root has no password. Logs: DIR/nodeN/server.log.
set -euo pipefail

MARIADBD=/usr/sbin/mariadbd
PROVIDER=/usr/lib/galera/libgalera_smm.so

install() {
  if [[ ! -e $PROVIDER ]]; then
    echo "installing galera-4 (MariaDB Galera provider)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q galera-4 rsync >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && apt-get install -y -q galera-4 rsync >/dev/null; }
  fi
  command -v rsync >/dev/null || apt-get install -y -q rsync >/dev/null
}

free_ports() { # count
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

sql() { # port statement
  mariadb --protocol=tcp -h 127.0.0.1 -P "$1" -u root -N -B -e "$2" 2>/dev/null
}

wait_sql() { # port seconds [pid file]
  local deadline=$((SECONDS + $2))
  until sql "$1" "SELECT 1" >/dev/null; do
    if ((SECONDS > deadline)); then return 1; fi
    if [[ -n ${3:-} ]] && ! kill -0 "$(cat "$3")" 2>/dev/null; then return 1; fi
    sleep 0.2
  done
}

launch() { # dir n cluster_address [extra...]
  local dir=$1 n=$2 address=$3
  shift 3
  local node=$dir/node$n
  read -r port gport iport sport <"$node/ports"
  local user=()
  [[ $(id -u) == 0 ]] && user=(--user=root)
  setsid "$MARIADBD" --no-defaults "${user[@]}" \
    --datadir="$node/data" --port="$port" --socket="$node/mysqld.sock" \
    --pid-file="$node/mysqld.pid" --tmpdir="$node/tmp" \
    --bind-address=127.0.0.1 --skip-name-resolve \
    --innodb-buffer-pool-size=32M --innodb-flush-log-at-trx-commit=2 \
    --binlog-format=ROW --default-storage-engine=InnoDB --innodb-autoinc-lock-mode=2 \
    --wsrep-on=ON --wsrep-provider="$PROVIDER" --wsrep-cluster-name=orm_test \
    --wsrep-cluster-address="$address" --wsrep-node-name="node$n" \
    --wsrep-node-address="127.0.0.1:$gport" \
    --wsrep-provider-options="gmcast.listen_addr=tcp://127.0.0.1:$gport;ist.recv_addr=127.0.0.1:$iport;gcache.size=32M" \
    --wsrep-sst-method=rsync --wsrep-sst-receive-address="127.0.0.1:$sport" \
    "$@" </dev/null >>"$node/server.log" 2>&1 &
  echo $! >"$node/launcher.pid"
}

start() { # dir
  local dir=$1
  install
  rm -rf "$dir"
  mkdir -p "$dir"
  local gports=()
  for n in 1 2 3; do
    local node=$dir/node$n
    mkdir -p "$node/data" "$node/tmp"
    free_ports 4 >"$node/ports"
    read -r _ gport _ _ <"$node/ports"
    gports+=("127.0.0.1:$gport")
    local user=()
    [[ $(id -u) == 0 ]] && user=(--user=root)
    mariadb-install-db --no-defaults "${user[@]}" --datadir="$node/data" --tmpdir="$node/tmp" \
      --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
      >"$node/install.log" 2>&1
    # The joiners receive their state by rsync, whose daemon (started as root) writes as
    # `nobody`: give it their data directories (the server, as root, still reads them).
    if [[ $n != 1 && $(id -u) == 0 ]]; then chown -R nobody "$node/data"; fi
  done
  chmod a+rx "$dir"
  local members
  members=$(IFS=,; echo "${gports[*]}")
  launch "$dir" 1 "gcomm://" --wsrep-new-cluster
  read -r port1 _ <"$dir/node1/ports"
  wait_sql "$port1" 60 "$dir/node1/launcher.pid" || { echo "node 1 did not start; see $dir/node1/server.log" >&2; exit 1; }
  for n in 2 3; do
    launch "$dir" "$n" "gcomm://$members"
    read -r port _ <"$dir/node$n/ports"
    wait_sql "$port" 120 "$dir/node$n/launcher.pid" || { echo "node $n did not join; see $dir/node$n/server.log" >&2; exit 1; }
  done
  local deadline=$((SECONDS + 60))
  until [[ $(sql "$port1" "SHOW STATUS LIKE 'wsrep_cluster_size'" | awk '{print $2}') == 3 ]]; do
    if ((SECONDS > deadline)); then echo "the cluster did not reach 3 nodes" >&2; exit 1; fi
    sleep 0.2
  done
  for n in 1 2 3; do
    read -r port _ <"$dir/node$n/ports"
    until [[ $(sql "$port" "SHOW STATUS LIKE 'wsrep_local_state_comment'" | awk '{print $2}') == Synced ]]; do
      if ((SECONDS > deadline)); then echo "node $n is not synced" >&2; exit 1; fi
      sleep 0.2
    done
    printf '%s ' "$port"
  done
  echo
}

kill_node() { # dir n
  local pid
  pid=$(cat "$1/node$2/launcher.pid" 2>/dev/null) || return 0
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

stop() { # dir
  [[ -d $1 ]] || return 0
  for n in 1 2 3; do kill_node "$1" "$n"; done
  rm -rf "$1"
}

case ${1:-} in
  install) install ;;
  start) start "$2" ;;
  stop) stop "$2" ;;
  kill) kill_node "$2" "$3" ;;
  *) echo "usage: $0 install | start DIR | stop DIR | kill DIR N" >&2; exit 2 ;;
esac
