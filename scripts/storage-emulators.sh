#!/usr/bin/env bash
# Installs the object-store emulators that polyorm-storage's tests start on kernel-chosen ports
# (and kill, to inject faults): moto's S3 server from PyPI into a virtualenv; azurite and
# s3rver (an S3 server that checks presigned URLs' expiry, which moto does not) from npm.
# No GCS emulator: object_store's GCS client speaks the XML API, of which gcp-storage-emulator
# lacks HEAD, DELETE, list, copy and multipart (501) and fake-gcs-server takes no write
# ("invalid uploadType"); neither checks signed URLs. GCS is tested offline (configuration, URL
# signing) instead; docs/gcs-emulators.md has the evidence. Everything goes under
# target/storage-emulators/ and is reused when present; the tests find it there (or under
# ORM_STORAGE_EMULATORS).
#
#   bash scripts/storage-emulators.sh install   # idempotent
#   bash scripts/storage-emulators.sh path      # prints the install directory
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${ORM_STORAGE_EMULATORS:-$PWD/target/storage-emulators}
# Pinned so that a fresh machine gets what the tests were written against.
moto_version=5.2.5
azurite_version=3.37.0
s3rver_version=3.7.1

case ${1:-install} in
  install)
    mkdir -p "$dir"
    if [[ ! -x $dir/venv/bin/moto_server ]]; then
      echo "installing moto[server] $moto_version into $dir/venv" >&2
      python3 -m venv "$dir/venv"
      "$dir/venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version"
    fi
    if [[ ! -x $dir/node/node_modules/.bin/azurite-blob || ! -x $dir/node/node_modules/.bin/s3rver ]]; then
      echo "installing azurite $azurite_version and s3rver $s3rver_version into $dir/node" >&2
      mkdir -p "$dir/node"
      npm install --prefix "$dir/node" --no-audit --no-fund --loglevel=error \
        "azurite@$azurite_version" "s3rver@$s3rver_version" >/dev/null
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
