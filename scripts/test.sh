#!/usr/bin/env bash
# The test command: lint, the policy rule-file lint, and the whole pytest suite
# (SQLite and PostgreSQL, real S3, real ffmpeg, real faces). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/bwc policy lint
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" = "5" ]; then
  echo "pytest collected no tests: that is a failure, not a pass" >&2
fi
exit "$rc"
