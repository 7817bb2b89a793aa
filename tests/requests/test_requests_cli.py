"""`bwc requests add|list|show|link|facts|confirm|submit|deny|release|withdraw|delay|close|
appeal|appeal-decided` from the command line."""

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
    other_id = ingest_clip(officer_id="o-2")
    code, req = _bwc("requests", "add", "--description", "hallway video 3/2",
                     "--requester", "J. Smith", "--type", "public", "--residency", "resident",
                     "--received-on", "2026-03-02")
    assert code == 0
    assert (req["recordings"], req["deadline"]) == ([], "2026-03-09")
    code, linked = _bwc("requests", "link", req["id"], evidence_id, other_id)
    assert code == 0
    first = linked["recordings"][0]
    assert first["decision"]["effect"] == "release_redacted"
    assert "juvenile-records-confidential" in first["decision"]["rule_ids"]
    assert [x["position"] for x in linked["recordings"]] == [1, 2]
    code, shown = _bwc("requests", "show", req["id"])
    assert [d["trigger"] for d in shown["decisions"]] == ["evidence_linked"] * 2
    assert shown["rounds"] == []
    # not analysed yet: nothing goes before legal review (the whole path: test_review.py)
    code, err = _bwc("requests", "submit", req["id"], "1", "any-derivative")
    assert (code, err["error"]["code"]) == (2, "analysis_pending")
    code, err = _bwc("requests", "release", req["id"], first["id"][:8])
    assert (code, err["error"]["code"]) == (2, "transition_not_allowed")
    code, err = _bwc("requests", "deny", req["id"], "1", "--explanation",
                     "no reason to withhold")
    assert (code, err["error"]["code"]) == (2, "decision_allows")  # it may go out, redacted
    code, err = _bwc("requests", "deny", req["id"], "3", "--explanation", "no such recording")
    assert (code, err["error"]["code"]) == (2, "recording_not_in_request")
    code, err = _bwc("requests", "delay", req["id"], "--place", "the records office",
                     "--time", "9-5 weekdays", "--earliest", "2026-03-20", "--reason", "")
    assert (code, err["error"]["code"]) == (2, "invalid_input")
    code, listed = _bwc("requests", "list", "--state", "open")
    assert [r["id"] for r in listed] == [req["id"]]
    code, withdrawn = _bwc("requests", "withdraw", req["id"], "2", "--reason",
                           "not the incident asked for")
    assert (code, [x["state"] for x in withdrawn["recordings"]]) == (0, ["open", "closed"])
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


def test_a_parents_claim_is_confirmed_from_the_cli(sqlite_migrated: str,
                                                   ingest_clip: Callable[..., str]) -> None:
    evidence_id = ingest_clip(involves_juvenile=True)
    code, req = _bwc("requests", "add", "--description", "my son's hallway video",
                     "--requester", "R. Doe", "--type", "parent_guardian",
                     "--parent-of-depicted", "--residency", "resident",
                     "--evidence", evidence_id)
    assert code == 0, req
    actions = req["recordings"][0]["decision"]["decision"]["required_actions"]
    assert [a["code"] for a in actions] == ["confirm_relationship"]
    code, err = _bwc("requests", "confirm", req["id"], "--note", "seen")
    assert (code, err["error"]["code"]) == (2, "reason_required")
    code, done = _bwc("requests", "confirm", req["id"], "--note",
                      "birth certificate seen, copy in the file")
    assert code == 0
    assert done["relationship_confirmed"] is True
    decision = done["recordings"][0]["decision"]
    assert (decision["trigger"], decision["decision"]["required_actions"]) == (
        "relationship_confirmed", [])
    code, facts = _bwc("requests", "facts", req["id"], "--custodial-parent")
    assert (code, facts["custodial_parent"]) == (0, True)
