"""`bwc notifications list|done` and `bwc adults list|remove` from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from typer.testing import CliRunner

from bwc_custody.cli import app


def _bwc(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    text = result.stdout if result.exit_code == 0 else (result.stderr or result.stdout)
    return result.exit_code, json.loads(text)


def test_notifications_from_the_cli(sqlite_migrated: str,
                                    ingest_clip: Callable[..., str]) -> None:
    evidence_id = ingest_clip(data=b"footage " * 100, incident_type="arrest",
                              campus="Central High")
    code, notes = _bwc("notifications", "list")
    assert code == 0
    assert [(n["evidence_id"], n["kind"]) for n in notes] == [(evidence_id, "arrest")]
    code, done = _bwc("notifications", "done", str(notes[0]["id"]), "--note",
                      "principal told by phone 10:05")
    assert code == 0
    assert done["done_at"]
    assert _bwc("notifications", "list") == (0, [])
    code, every = _bwc("notifications", "list", "--all")
    assert [n["id"] for n in every] == [notes[0]["id"]]
    code, err = _bwc("notifications", "done", "999", "--note", "nothing")
    assert (code, err["error"]["code"]) == (2, "notification_not_found")


def test_adults_from_the_cli(sqlite_migrated: str) -> None:
    assert _bwc("adults", "list") == (0, [])
    code, err = _bwc("adults", "remove", "99", "--reason", "left the district in May")
    assert (code, err["error"]["code"]) == (2, "known_adult_not_found")
