"""`bwc requests add|list|show|link|submit|deny|release|close|appeal|appeal-decided` from the
command line."""

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


def test_requests_from_the_cli(sqlite_migrated: str, ingest_clip: Callable[..., str]) -> None:
    evidence_id = ingest_clip(campus="Central High", involves_juvenile=True)
    code, req = _bwc("requests", "add", "--description", "hallway video 3/2",
                     "--requester", "J. Smith", "--type", "public", "--ky-resident",
                     "--received-on", "2026-03-02")
    assert code == 0
    assert (req["decision"], req["deadline"]) == (None, "2026-03-09")
    code, linked = _bwc("requests", "link", req["id"], evidence_id)
    assert code == 0
    assert linked["decision"]["effect"] == "release_redacted"
    assert "juvenile-records-confidential" in linked["decision"]["rule_ids"]
    code, shown = _bwc("requests", "show", req["id"])
    assert [d["trigger"] for d in shown["decisions"]] == ["evidence_linked"]
    assert shown["rounds"] == []
    # not analysed yet: nothing goes before legal review (the whole path: test_review.py)
    code, err = _bwc("requests", "submit", req["id"], "any-derivative")
    assert (code, err["error"]["code"]) == (2, "analysis_pending")
    code, err = _bwc("requests", "release", req["id"])
    assert (code, err["error"]["code"]) == (2, "transition_not_allowed")
    code, err = _bwc("requests", "deny", req["id"], "--explanation", "no reason to withhold")
    assert (code, err["error"]["code"]) == (2, "decision_allows")  # it may go out, redacted
    code, listed = _bwc("requests", "list", "--state", "open")
    assert [r["id"] for r in listed] == [req["id"]]
    code, closed = _bwc("requests", "close", req["id"], "--reason", "answered by letter 3/6")
    assert (code, closed["state"]) == (0, "closed")
    # the requester appealed the answer to the Attorney General, who upheld it
    code, err = _bwc("requests", "appeal", req["id"], "--forum", "governor",
                     "--filed-on", "2026-03-10", "--note", "AG notice by email")
    assert (code, err["error"]["code"]) == (2, "invalid_input")
    code, appeal = _bwc("requests", "appeal", req["id"], "--forum", "attorney_general",
                        "--filed-on", "2026-03-10", "--note", "AG notice by email",
                        "--reference", "26-AG-77")
    assert (code, appeal["decision_expected_by"]) == (0, "2026-04-07")  # 20 business days
    code, decided = _bwc("requests", "appeal-decided", req["id"], str(appeal["id"]),
                         "--outcome", "upheld", "--decided-on", "2026-04-01",
                         "--note", "redactions upheld", "--reference", "26-ORD-090")
    assert (code, decided["holds_until"]) == (0, "2026-05-01")
    code, shown = _bwc("requests", "show", req["id"])
    assert [(a["id"], a["outcome"]) for a in shown["appeals"]] == [(appeal["id"], "upheld")]
    code, err = _bwc("requests", "add", "--description", "x" * 10, "--requester", "A",
                     "--type", "principal")
    assert (code, err["error"]["code"]) == (2, "invalid_facts")
    code, err = _bwc("requests", "show", "nope")
    assert (code, err["error"]["code"]) == (2, "request_not_found")
