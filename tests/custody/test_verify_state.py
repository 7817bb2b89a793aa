"""`bwc verify` recomputes the database's security-relevant state from the custody log
(issue 22, finding 13): an edited evidence hash, an automatic tag deleted without a trace and
a decision whose effect was changed are each named; an honest database gives nothing. (The
tamper suite, test_tamper.py, tries every other insider change on real footage.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text


@pytest.fixture
def decided(ingest: Callable[..., str]) -> dict[str, Any]:
    """A recording with an automatic tag and a request decided on it, through the flows."""
    from sqlmodel import select

    from bwc_custody.db import session_scope
    from bwc_custody.flows import requests as request_flows
    from bwc_custody.flows import tagging
    from bwc_custody.requests.models import RequestCreate, RequestDecision
    from tests.support.actors import LOCAL_OPERATOR, TEST_CUSTODIAN

    evidence_id = ingest()
    with session_scope() as session:
        tag = tagging.add_tag(session=session, evidence_id=evidence_id, name="juvenile",
                              source="auto", actor=LOCAL_OPERATOR, confidence=0.93,
                              evidence={"basis": "a count"})
        tag_id = tag.id
        request = request_flows.create_request(
            session=session, actor=TEST_CUSTODIAN, body=RequestCreate(
                description="the hallway video", requester_name="R. Doe",
                requester_type="public", form="copy", evidence_ids=[evidence_id]))
        request_id = request.id
    with session_scope() as session:
        decision = session.exec(select(RequestDecision)).one()
        return {"evidence_id": evidence_id, "tag_id": tag_id, "request_id": request_id,
                "decision_id": decision.id, "effect": decision.effect}


def _named(report: dict[str, Any], kind: str) -> list[str]:
    return [f"{f['ref']}: {f['problem']}" for f in report["findings"] if f["kind"] == kind]


def test_an_honest_database_matches_its_log(decided: dict[str, Any],
                                            run_verify: Callable[..., dict]) -> None:
    report = run_verify()
    assert report["ok"], report["findings"]


def test_an_edited_evidence_hash_is_named(decided: dict[str, Any], dba: Callable,
                                          run_verify: Callable[..., dict]) -> None:
    with dba() as conn:
        conn.execute(text("UPDATE evidence SET sha256 = :s WHERE id = :e"),
                     {"s": "f" * 64, "e": decided["evidence_id"]})
    [named] = _named(run_verify(), "evidence")
    assert named.startswith(f"evidence {decided['evidence_id']}: sha256 is 'fff")
    assert "the row was edited" in named


def test_an_automatic_tag_deleted_silently_is_named(decided: dict[str, Any], dba: Callable,
                                                    run_verify: Callable[..., dict]) -> None:
    with dba() as conn:
        conn.execute(text("DELETE FROM tag WHERE id = :t"), {"t": decided["tag_id"]})
    [named] = _named(run_verify(), "tag")
    assert named.startswith(f"tag {decided['tag_id']} (juvenile on evidence ")
    assert "in force by the log, but its row is gone" in named


def test_a_changed_decision_effect_is_named(decided: dict[str, Any], dba: Callable,
                                            run_verify: Callable[..., dict]) -> None:
    assert decided["effect"] != "release"
    with dba() as conn:
        conn.execute(text("UPDATE request_decision SET effect = 'release' WHERE id = :d"),
                     {"d": decided["decision_id"]})
    [named] = _named(run_verify(), "decision")
    assert named.startswith(f"decision {decided['decision_id']} (request ")
    assert "effect is 'release' but the log (seq" in named
    assert f"says '{decided['effect']}'" in named
