#!/usr/bin/env bash
# Installs the object-store emulators that orm-storage's tests start on kernel-chosen ports
# (and kill, to inject faults): moto's S3 server and gcp-storage-emulator from PyPI (into a
# virtualenv), azurite from npm. Everything goes under target/storage-emulators/ and is
# reused when present; the tests find it there (or under ORM_STORAGE_EMULATORS).
#
#   bash scripts/storage-emulators.sh install   # idempotent
#   bash scripts/storage-emulators.sh path      # prints the install directory
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${ORM_STORAGE_EMULATORS:-$PWD/target/storage-emulators}
# Pinned so that a fresh machine gets what the tests were written against.
moto_version=5.2.5
gcs_version=2026.7.19
azurite_version=3.37.0

case ${1:-install} in
  install)
    mkdir -p "$dir"
    if [[ ! -x $dir/venv/bin/moto_server || ! -x $dir/venv/bin/gcp-storage-emulator ]]; then
      echo "installing moto[server] $moto_version and gcp-storage-emulator $gcs_version into $dir/venv" >&2
      python3 -m venv "$dir/venv"
      "$dir/venv/bin/pip" install --quiet --disable-pip-version-check \
        "moto[server]==$moto_version" "gcp-storage-emulator==$gcs_version"
    fi
    if [[ ! -x $dir/node/node_modules/.bin/azurite-blob ]]; then
      echo "installing azurite $azurite_version into $dir/node" >&2
      mkdir -p "$dir/node"
      npm install --prefix "$dir/node" --no-audit --no-fund --loglevel=error "azurite@$azurite_version" >/dev/null
    fi
    ;;
  path)
    echo "$dir"
    ;;
  *)
    echo "usage: $0 install|path" >&2
    exit 2
    ;;
esac
