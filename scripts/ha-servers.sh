#!/usr/bin/env bash
# High-availability servers for the topology tests (tests/topology*.rs), from Debian packages:
#
#   bash scripts/ha-servers.sh install
#       installs pg_auto_failover for PostgreSQL 15 (postgresql-15-auto-failover, `pg_autoctl`)
#       if missing. The streaming-replication and MariaDB GTID tests need only the PostgreSQL 15
#       and MariaDB server binaries the machine already has.
#   bash scripts/ha-servers.sh pgaf-start <dir> <monitor-port> <node1-port> <node2-port>
#       creates a pg_auto_failover formation in <dir> (a monitor and two PostgreSQL nodes on
#       127.0.0.1, trust authentication, no TLS), tuned to fail over within seconds, starts each
#       `pg_autoctl run` in a process group of its own (pids in <dir>/*.pid) and waits until the
#       formation has a primary and a secondary.
#   bash scripts/ha-servers.sh pgaf-kill <dir> <node1|node2|monitor>
#       SIGKILL to that member's keeper, its postmaster and the postmaster's children.
#   bash scripts/ha-servers.sh pgaf-stop <dir>
#       kills every member and removes <dir>.
#
# As root, the formation runs as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail
PG_BIN=/usr/lib/postgresql/15/bin
export PATH=$PG_BIN:$PATH

# pg_autoctl keeps its configuration and state under XDG_CONFIG_HOME / XDG_DATA_HOME: inside
# the formation's directory, so that nothing outlives it.
xdg() { # dir
  export XDG_CONFIG_HOME=$1/xdg/config XDG_DATA_HOME=$1/xdg/data XDG_RUNTIME_DIR=$1/xdg/run
}

as_pg() { # command...
  if [[ $(id -u) == 0 ]]; then
    runuser -u postgres -- env PATH="$PATH" XDG_CONFIG_HOME="${XDG_CONFIG_HOME:-}" \
      XDG_DATA_HOME="${XDG_DATA_HOME:-}" XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-}" "$@"
  else
    "$@"
  fi
}

install() {
  if ! command -v pg_autoctl >/dev/null 2>&1; then
    echo "installing postgresql-15-auto-failover (pg_autoctl)" >&2
    export DEBIAN_FRONTEND=noninteractive
    # CI runs this while other installs may hold the dpkg lock: wait for it.
    local apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q)
    "${apt[@]}" install postgresql-15-auto-failover >/dev/null 2>&1 \
      || { "${apt[@]}" update >/dev/null && "${apt[@]}" install postgresql-15-auto-failover >/dev/null; }
  fi
}

state() { # dir
  as_pg pg_autoctl show state --pgdata "$1/monitor" 2>/dev/null || true
}

# Starts `pg_autoctl <args>` in the background, in a new session; its pid into <dir>/<name>.pid.
spawn() { # dir name args...
  local dir=$1 name=$2
  shift 2
  if [[ $(id -u) == 0 ]]; then
    setsid runuser -u postgres -- env PATH="$PATH" XDG_CONFIG_HOME="$XDG_CONFIG_HOME" \
      XDG_DATA_HOME="$XDG_DATA_HOME" XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR" pg_autoctl "$@" \
      >>"$dir/$name.log" 2>&1 </dev/null &
  else
    setsid pg_autoctl "$@" >>"$dir/$name.log" 2>&1 </dev/null &
  fi
  echo $! >"$dir/$name.pid"
}

wait_for() { # seconds description command...
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    if ((SECONDS > deadline)); then
      echo "timed out waiting for $what" >&2
      return 1
    fi
    sleep 0.2
  done
}

monitor_ready() { # port
  as_pg "$PG_BIN/psql" -qAt -h /var/run/postgresql -p "$1" -d pg_auto_failover -U postgres \
    -c "SELECT count(*) FROM pgautofailover.formation" >/dev/null 2>&1
}

pgaf_start() { # dir monitor-port port1 port2
  local dir=$1 mport=$2 p1=$3 p2=$4
  rm -rf "$dir"
  mkdir -p "$dir"
  xdg "$dir"
  mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
  chmod 700 "$XDG_RUNTIME_DIR"
  [[ $(id -u) == 0 ]] && chown -R postgres: "$dir"
  local common=(--hostname 127.0.0.1 --auth trust --no-ssl)
  spawn "$dir" monitor create monitor --pgdata "$dir/monitor" --pgport "$mport" \
    "${common[@]}" --run
  wait_for 60 "the monitor" monitor_ready "$mport"
  # Fail over within seconds instead of the default ~30 s: probe every second, give up on a
  # node after one failed retry, and consider it unhealthy after 2 s.
  local settings=(
    "health_check_period TO 1000" "health_check_timeout TO 1000"
    "health_check_max_retries TO 1" "health_check_retry_delay TO 200"
    "node_considered_unhealthy_timeout TO 2000" "primary_demote_timeout TO 2000"
  ) statements=() setting
  for setting in "${settings[@]}"; do
    statements+=(-c "ALTER SYSTEM SET pgautofailover.$setting")
  done
  as_pg "$PG_BIN/psql" -q -h /var/run/postgresql -p "$mport" -d pg_auto_failover -U postgres \
    -v ON_ERROR_STOP=1 "${statements[@]}" -c "SELECT pg_reload_conf()" >/dev/null
  local monitor_url="postgres://autoctl_node@127.0.0.1:$mport/pg_auto_failover?sslmode=disable"
  spawn "$dir" node1 create postgres --pgdata "$dir/node1" --pgport "$p1" "${common[@]}" \
    --monitor "$monitor_url" --run
  wait_for 120 "node1 to run alone" bash -c "$(declare -f xdg as_pg state); xdg '$dir'; state '$dir' | grep -q 'single *| *single'"
  spawn "$dir" node2 create postgres --pgdata "$dir/node2" --pgport "$p2" "${common[@]}" \
    --monitor "$monitor_url" --run
  wait_for 180 "node2 to be a secondary" bash -c "$(declare -f xdg as_pg state); xdg '$dir'; state '$dir' | grep -q 'secondary *| *secondary'"
}

pgaf_kill() { # dir member
  local dir=$1 member=$2 pid postmaster
  pid=$(cat "$dir/$member.pid" 2>/dev/null || true)
  postmaster=$(head -1 "$dir/$member/postmaster.pid" 2>/dev/null || true)
  local targets=()
  [[ -n $pid ]] && targets+=("$pid")
  [[ -n $postmaster ]] && targets+=("$postmaster")
  if [[ -n $pid ]]; then
    # The keeper's whole session: `runuser`, `pg_autoctl` and its sub-processes.
    mapfile -t -O ${#targets[@]} targets < <(ps -eo pid=,sid= | awk -v s="$pid" '$2 == s {print $1}')
  fi
  if [[ -n $postmaster ]]; then
    mapfile -t -O ${#targets[@]} targets < <(ps -eo pid=,ppid= | awk -v p="$postmaster" '$2 == p {print $1}')
  fi
  ((${#targets[@]})) && kill -KILL -- "${targets[@]}" 2>/dev/null || true
}

pgaf_stop() { # dir
  local dir=$1
  for member in node2 node1 monitor; do
    pgaf_kill "$dir" "$member"
  done
  rm -rf "$dir"
}

case ${1:-} in
  install) install ;;
  pgaf-start) shift; install; pgaf_start "$@" ;;
  pgaf-kill) shift; pgaf_kill "$@" ;;
  pgaf-stop) shift; pgaf_stop "$@" ;;
  *)
    echo "usage: $0 install | pgaf-start <dir> <monitor-port> <port1> <port2> | pgaf-kill <dir> <member> | pgaf-stop <dir>" >&2
    exit 2
    ;;
esac
