#!/usr/bin/env bash
# Install bwc-custody into ./.venv (from scratch on a fresh machine; idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
  else
    echo "ffmpeg/ffprobe are required: install them (e.g. sudo apt-get install ffmpeg)" >&2
    exit 1
  fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# face_recognition's metadata requires `dlib`, which would compile from source; dlib-bin
# (a dependency above) provides the same module prebuilt.
.venv/bin/python -m pip install -q --no-deps 'face-recognition==1.3.0'
.venv/bin/python -c 'import face_recognition, cv2, storage, bwc_custody, provenance.c2pa_sign' \
  || { echo "install check failed: face_recognition or c2pa (native library) did not import" >&2; exit 1; }
echo "installed: $(.venv/bin/bwc --help >/dev/null && echo bwc ok)"
