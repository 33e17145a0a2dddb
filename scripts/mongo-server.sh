#!/usr/bin/env bash
# Installs and runs the MongoDB-wire test server: nx-27017 (PyPI), a MongoDB wire-protocol
# server over SQLite. No MongoDB ships with the machine and nothing outside the package
# registries can be downloaded, so the tests talk to this one.
#
#   bash scripts/mongo-server.sh start    # install (first run only), start, wait for `ping`, print the URL
#   bash scripts/mongo-server.sh stop     # stop the server started by `start` (via its pid file)
#   bash scripts/mongo-server.sh status   # print the URL and exit 0 when it answers `ping`, else exit 1
#
# Port: ORM_TEST_MONGO_PORT (default 27018). Everything lives under target/: the venv
# (target/mongo-venv, created on first use, reused afterwards), the data directory, the pid
# file and the log (target/mongo-server/<port>/). `start` begins with an empty data directory; it is
# a test server. `start` when the server already runs only reports the URL.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# Pinned: the server and the Python packages it runs on (pymongo is also used for `ping`).
packages=(nx-27017==0.8.1 neosqlite==1.17.2 pymongo==4.20.0 dnspython==2.9.2)

port=${ORM_TEST_MONGO_PORT:-27018}
url="mongodb://127.0.0.1:$port"
venv=$root/target/mongo-venv
state=$root/target/mongo-server/$port
data=$state/data
pid_file=$state/nx-27017.pid
log_file=$state/nx-27017.log
stamp=$venv/.orm-installed
wait_seconds=30

die() {
  echo "mongo-server: error: $*" >&2
  exit 1
}

# Creates the venv and installs the pinned packages, unless a previous run already did.
install() {
  if [[ -x $venv/bin/nx-27017 && -f $stamp && "$(cat "$stamp")" == "${packages[*]}" ]]; then
    return
  fi
  command -v python3 >/dev/null || die "python3 is required (apt-get install python3 python3-venv)"
  echo "mongo-server: installing ${packages[*]} into ${venv#"$root"/} ..." >&2
  rm -rf "$venv"
  python3 -m venv "$venv" ||
    die "could not create a venv at $venv (on Debian: apt-get install python3-venv)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}" ||
    die "pip could not install ${packages[*]} (is PyPI reachable?)"
  echo "${packages[*]}" >"$stamp"
}

# Whether the server at $url answers `ping` within $1 seconds.
ping_ok() {
  [[ -x $venv/bin/python ]] || return 1
  "$venv/bin/python" - "$url" "$1" <<'PY' >/dev/null 2>&1
import sys
from pymongo import MongoClient
client = MongoClient(sys.argv[1], serverSelectionTimeoutMS=int(float(sys.argv[2]) * 1000),
                     connectTimeoutMS=1000, directConnection=True)
client.admin.command("ping")
PY
}

# The pid in the pid file when that process is alive and is nx-27017 (a stale pid file may
# name a pid the system has since given to another process).
running_pid() {
  [[ -f $pid_file ]] || return 1
  local pid
  pid=$(cat "$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  ps -p "$pid" -o args= 2>/dev/null | grep -q nx-27017 || return 1
  echo "$pid"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

start() {
  if running_pid >/dev/null && ping_ok 5; then
    echo "mongo-server: already running (pid $(running_pid))" >&2
    echo "$url"
    return
  fi
  install
  if pid=$(running_pid); then
    echo "mongo-server: pid $pid does not answer ping; stopping it" >&2
    stop
  fi
  if port_in_use; then
    ping_ok 2 || die "port $port is taken by something that does not answer MongoDB's ping; set ORM_TEST_MONGO_PORT to a free port"
    echo "mongo-server: a MongoDB-wire server not started by this script already answers on port $port; using it" >&2
    echo "$url"
    return
  fi
  rm -rf "$data"
  mkdir -p "$data"
  rm -f "$pid_file"
  "$venv/bin/nx-27017" --data-dir "$data" --host 127.0.0.1 --port "$port" \
    -d --pid-file "$pid_file" --log-file "$log_file" ||
    die "nx-27017 did not start; see ${log_file#"$root"/}"
  local deadline=$((SECONDS + wait_seconds))
  until ping_ok 1; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "$log_file" >&2 2>/dev/null || true
      die "nx-27017 did not answer ping on port $port within ${wait_seconds}s; log: ${log_file#"$root"/}"
    fi
    sleep 0.2
  done
  echo "mongo-server: nx-27017 running (pid $(running_pid || echo '?'), log ${log_file#"$root"/})" >&2
  echo "$url"
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$pid_file"
    echo "mongo-server: not running" >&2
    return
  fi
  kill "$pid"
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "mongo-server: pid $pid ignored SIGTERM for 10s; sending SIGKILL" >&2
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
  echo "mongo-server: stopped (pid $pid)" >&2
}

status() {
  if ping_ok 2; then
    if pid=$(running_pid); then
      echo "mongo-server: running (pid $pid)" >&2
    else
      echo "mongo-server: a server not started by this script answers on port $port" >&2
    fi
    echo "$url"
  else
    echo "mongo-server: not running on port $port" >&2
    return 1
  fi
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
*)
  echo "usage: bash scripts/mongo-server.sh start|stop|status" >&2
  exit 2
  ;;
esac
