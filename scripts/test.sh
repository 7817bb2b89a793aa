#!/usr/bin/env bash
# The test command: lint, types, the import contracts (pyproject.toml), the policy rule-file
# lint, and the whole pytest suite (SQLite and PostgreSQL, real S3, real ffmpeg, real faces).
# Extra args go to pytest.
# Tests run in one process per CPU plus one (BWC_TEST_WORKERS=N to choose, 0 for one
# process): much of a test's time is spent waiting on PostgreSQL, S3, ffmpeg or encoder
# processes. On the 2-core CI machine (2026-12-06, the whole suite, 1,423 tests, idle
# machine): 2 workers 805 s, 3 workers 710 s, 4 workers 712 s; earlier, 2 workers took
# 342-359 s against 538 s in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/mypy bwc_custody storage redaction policies review
.venv/bin/lint-imports --no-logo
.venv/bin/bwc policy lint
set +e
.venv/bin/python -m pytest -n "${BWC_TEST_WORKERS:-$(( $(nproc) + 1 ))}" --dist loadfile "$@"
rc=$?
set -e
if [ "$rc" = "5" ]; then
  echo "pytest collected no tests: that is a failure, not a pass" >&2
fi
exit "$rc"
