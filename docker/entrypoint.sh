#!/bin/sh
# Every container starts here: make sure the token-encryption key exists, then run the command.
# The key lives on the shared kiss-secrets volume; the one-shot migrate service runs first,
# so it is the one that creates it.
set -eu
key_file="${KISSBOT_SECRET_KEY_FILE:-/var/lib/kiss/kissbot.key}"
if [ ! -s "$key_file" ]; then
  umask 077
  python -c 'import sys; from cryptography.fernet import Fernet; sys.stdout.write(Fernet.generate_key().decode())' >"$key_file.tmp"
  mv "$key_file.tmp" "$key_file"
fi
# prometheus_client's multiprocess files of a previous run describe dead processes.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  rm -rf "$PROMETHEUS_MULTIPROC_DIR"
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
if [ "$#" -eq 0 ]; then
  echo "kiss-entrypoint: no command given (try: kiss --help)" >&2
  exit 2
fi
exec "$@"
