"""The repository itself carries no secrets: a key-encryption key or signing key that
reached git is public forever, and every object it wrapped is readable by anyone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from storage.keys import KEK_SUFFIX, SIGNING_FILE

ROOT = Path(__file__).resolve().parents[1]
SECRET_SUFFIXES = (KEK_SUFFIX, ".pem", ".db", ".sqlite")


def _tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing is tracked")
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [name for name in listing.stdout.decode().split("\0") if name]


def test_no_key_or_database_is_tracked() -> None:
    tracked = _tracked_files()
    assert "pyproject.toml" in tracked
    secrets = [n for n in tracked if n.endswith(SECRET_SUFFIXES) or n.startswith("keys/")]
    assert secrets == []


def test_gitignore_keeps_out_what_bwc_home_in_the_checkout_writes() -> None:
    _tracked_files()
    written = ["bwc.db", f"keys/kek-0123{KEK_SUFFIX}", f"keys/{SIGNING_FILE}", "objects/x"]
    check = subprocess.run(
        ["git", "check-ignore", "--no-index", *written], cwd=ROOT, capture_output=True, text=True
    )
    assert check.stdout.split() == written
