"""`bwc checkpoint`, `bwc log` and `bwc export` from the command line, errors included."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from bwc_custody.cli import app
from tests.support.custody import recomputed_entry_hash


def _bwc(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    text = result.stdout if result.exit_code == 0 else (result.stderr or result.stdout)
    return result.exit_code, json.loads(text)


def test_checkpoint_log_and_export(sqlite_migrated: str, tmp_path: Path,
                                   ingest_clip: Callable[..., str]) -> None:
    body = b"footage bytes " * 500
    evidence_id = ingest_clip(data=body)
    code, cp = _bwc("checkpoint")
    assert code == 0
    assert cp["tree_size"] >= 1
    out = tmp_path / "original.bin"
    code, exported = _bwc("export", evidence_id, "--out", str(out), "--reason", "court copy")
    assert code == 0
    assert exported["sha256"] == hashlib.sha256(body).hexdigest() == \
        hashlib.sha256(out.read_bytes()).hexdigest()
    code, entries = _bwc("log", "--target", evidence_id)
    assert [e["action"] for e in entries][0] == "evidence.ingest"
    assert entries[-1]["reason"] == "court copy"
    assert [recomputed_entry_hash(e) for e in entries] == [e["entry_hash"] for e in entries]
    code, err = _bwc("export", evidence_id, "--out", str(out))
    assert code == 2
    assert "exists" in err["error"]["message"]
    assert out.read_bytes() == body  # the existing file is left as it was
    code, err = _bwc("export", "00000000-0000-4000-8000-000000000000", "--out",
                     str(tmp_path / "none.bin"))
    assert (code, err["error"]["code"]) == (2, "evidence_not_found")
    assert not (tmp_path / "none.bin").exists()
