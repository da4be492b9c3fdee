#!/bin/sh
# Every container starts here: tidy what a previous run left, then run the command.
# (The token-encryption key is created by the store on first use, on the kiss-secrets volume.)
set -eu
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
