#!/usr/bin/env bash
# Installs and runs the DynamoDB test server: moto's server mode (PyPI `moto[server,dynamodb]`),
# an in-memory DynamoDB emulator that supports what the ORM uses — GetItem/Query/Scan,
# conditional Put/Update/DeleteItem, BatchWriteItem, TransactWriteItems, global secondary
# indexes. (dynalite, the npm alternative, has no TransactWriteItems.)
#
#   bash scripts/dynamodb-server.sh install  # install into target/dynamodb-venv (first run only)
#   bash scripts/dynamodb-server.sh start    # install, start, wait until it answers, print the URL
#   bash scripts/dynamodb-server.sh stop     # stop the server started by `start` (pid file)
#   bash scripts/dynamodb-server.sh status   # print the URL and exit 0 when it answers, else 1
#
# Port: ORM_TEST_DYNAMODB_PORT (default 27191). Everything lives under target/: the venv, the
# pid file and the log (target/dynamodb-server/<port>/). The server keeps its tables in memory:
# every `start` begins empty. Clients use dummy credentials; nothing leaves this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# Pinned: the emulator (its `server` and `dynamodb` extras pull flask and the PartiQL parser).
packages=("moto[server,dynamodb]==5.2.6")

port=${ORM_TEST_DYNAMODB_PORT:-27191}
url="dynamodb://127.0.0.1:$port?region=us-east-1"
venv=$root/target/dynamodb-venv
state=$root/target/dynamodb-server/$port
pid_file=$state/moto.pid
log_file=$state/moto.log
stamp=$venv/.orm-installed
wait_seconds=60

die() {
  echo "dynamodb-server: error: $*" >&2
  exit 1
}

install() {
  if [[ -x $venv/bin/moto_server && -f $stamp && "$(cat "$stamp")" == "${packages[*]}" ]]; then
    return
  fi
  command -v python3 >/dev/null || die "python3 is required (apt-get install python3 python3-venv)"
  echo "dynamodb-server: installing ${packages[*]} into ${venv#"$root"/} ..." >&2
  rm -rf "$venv"
  python3 -m venv "$venv" ||
    die "could not create a venv at $venv (on Debian: apt-get install python3-venv)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}" ||
    die "pip could not install ${packages[*]} (is PyPI reachable?)"
  echo "${packages[*]}" >"$stamp"
}

# Whether the server answers ListTables within $1 seconds.
answers() {
  "$venv/bin/python" - "$port" "$1" <<'PY' >/dev/null 2>&1
import json, sys, urllib.request
req = urllib.request.Request(
    f"http://127.0.0.1:{sys.argv[1]}/", data=b"{}", method="POST",
    headers={"X-Amz-Target": "DynamoDB_20120810.ListTables",
             "Content-Type": "application/x-amz-json-1.0",
             "Authorization": "AWS4-HMAC-SHA256 Credential=orm/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"})
body = json.load(urllib.request.urlopen(req, timeout=float(sys.argv[2])))
assert "TableNames" in body
PY
}

running_pid() {
  [[ -f $pid_file ]] || return 1
  local pid
  pid=$(cat "$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  ps -p "$pid" -o args= 2>/dev/null | grep -q moto_server || return 1
  echo "$pid"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

start() {
  install
  if running_pid >/dev/null && answers 5; then
    echo "dynamodb-server: already running (pid $(running_pid))" >&2
    echo "$url"
    return
  fi
  if port_in_use; then
    answers 2 || die "port $port is taken by something that is not a DynamoDB endpoint; set ORM_TEST_DYNAMODB_PORT to a free port"
    echo "dynamodb-server: a DynamoDB endpoint not started by this script answers on port $port; using it" >&2
    echo "$url"
    return
  fi
  mkdir -p "$state"
  rm -f "$pid_file"
  # Dummy credentials and no instance metadata: moto must never try to reach AWS.
  AWS_ACCESS_KEY_ID=orm-local AWS_SECRET_ACCESS_KEY=orm-local AWS_DEFAULT_REGION=us-east-1 \
    AWS_EC2_METADATA_DISABLED=true \
    nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log_file" 2>&1 &
  echo $! >"$pid_file"
  local deadline=$((SECONDS + wait_seconds))
  until answers 1; do
    if ((SECONDS >= deadline)) || ! running_pid >/dev/null; then
      tail -n 20 "$log_file" >&2 2>/dev/null || true
      die "moto did not answer on port $port within ${wait_seconds}s; log: ${log_file#"$root"/}"
    fi
    sleep 0.2
  done
  echo "dynamodb-server: moto running (pid $(running_pid), log ${log_file#"$root"/})" >&2
  echo "$url"
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$pid_file"
    echo "dynamodb-server: not running" >&2
    return
  fi
  kill "$pid"
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  rm -f "$pid_file"
  echo "dynamodb-server: stopped (pid $pid)" >&2
}

status() {
  if answers 2; then
    echo "$url"
  else
    echo "dynamodb-server: not running on port $port" >&2
    return 1
  fi
}

case ${1:-} in
install) install ;;
start) start ;;
stop) stop ;;
status) status ;;
*)
  echo "usage: bash scripts/dynamodb-server.sh install|start|stop|status" >&2
  exit 2
  ;;
esac
