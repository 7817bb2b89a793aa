"""The written denial (KRS 61.880(1)): only when the decision in force withholds the record,
with a written explanation; it names the exceptions the decision rests on and their
citations, tells the requester how to appeal (and, during an investigation, when to ask
again), is signed by the server, reaches the requester, and lands in the custody log. After
it nothing re-decides the request, and it no longer holds the recording."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from bwc_custody.releases.models import APPEAL_NOTICE, INVESTIGATION_NOTICE
from bwc_custody.roles import Role
from tests.requests.test_review import PARENT, _code, _h, _verifies

WHY = {"reason": "the recording shows several students during an open investigation"}


def _ask(client: TestClient, parent: dict[str, str], custodian: dict[str, str],
         evidence_id: str) -> str:
    r = client.post("/api/v1/requests", headers=parent, json=PARENT)
    assert r.status_code == 201, r.text
    request_id = str(r.json()["id"])
    r = client.put(f"/api/v1/requests/{request_id}/evidence", headers=custodian,
                   json={"evidence_id": evidence_id})
    assert r.status_code == 200, r.text
    return request_id


def _tag(client: TestClient, custodian: dict[str, str], evidence_id: str, *names: str) -> None:
    for name in names:
        r = client.post(f"/api/v1/evidence/{evidence_id}/tags", headers=custodian,
                        json={"name": name})
        assert r.status_code == 201, r.text


@pytest.mark.clock
def test_a_withheld_record_is_denied_in_writing_with_its_exceptions_signed(
        client: TestClient, make_token: Callable[..., str],
        ingest_clip: Callable[..., str]) -> None:
    custodian = _h(make_token(Role.custodian, username="cust-1"))
    parent = _h(make_token(Role.requester, username="parent-1"))
    evidence_id = ingest_clip(campus="Central High", involves_juvenile=True)
    _tag(client, custodian, evidence_id, "multi_student", "investigation_open")
    request_id = _ask(client, parent, custodian, evidence_id)
    staff = client.get(f"/api/v1/requests/{request_id}", headers=custodian).json()
    assert staff["decision"]["effect"] == "deny_during_investigation"
    decisive = [r for r in staff["decision"]["decision"]["rules"] if r["decisive"]]
    assert decisive

    url = f"/api/v1/requests/{request_id}/deny"
    assert client.post(url, headers=parent, json=WHY).status_code == 403
    r = client.post(url, headers=custodian)
    assert (r.status_code, _code(r)) == (422, "reason_required")
    r = client.post(url, headers=custodian, json=WHY)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "denied"

    # what the requester receives: the exceptions, the explanation, the notices, signed
    mine = client.get(f"/api/v1/requests/{request_id}", headers=parent).json()
    assert mine["decision"] is None  # the engine's working stays staff-only
    statement, signature = mine["denial"]["statement"], mine["denial"]["signature"]
    assert [(e["rule"], e["citation"]) for e in statement["exceptions"]] == [
        (r["id"], r["citation"]) for r in decisive]
    assert statement["explanation"] == WHY["reason"]
    assert statement["notices"] == [INVESTIGATION_NOTICE, APPEAL_NOTICE]
    assert statement["within_deadline"] is True
    assert (statement["custodian"], statement["request_id"]) == ("cust-1", request_id)
    key = client.get("/api/v1/keys/signing").json()
    assert key["key_id"] == mine["denial"]["key_id"]
    assert _verifies(statement, signature, key)
    assert not _verifies({**statement, "explanation": "edited"}, signature, key)

    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope

    with session_scope() as session:
        entry = [e for e in entries_for(session=session, target_id=request_id)
                 if e.action == "request.deny"]
        assert len(entry) == 1
        assert entry[0].reason == WHY["reason"]
        assert entry[0].details["signature"] == signature
        assert entry[0].details["citations"] == [r["citation"] for r in decisive]

    # the answer is final: nothing re-decides it, nothing moves it, and it holds nothing
    decisions = len(client.get(f"/api/v1/requests/{request_id}/decisions",
                               headers=custodian).json())
    r = client.request("DELETE", f"/api/v1/evidence/{evidence_id}/tags/investigation_open",
                       headers=custodian, json={"reason": "investigation closed 1 Dec"})
    assert r.status_code == 200, r.text
    assert len(client.get(f"/api/v1/requests/{request_id}/decisions",
                          headers=custodian).json()) == decisions
    r = client.post(url, headers=custodian, json=WHY)
    assert (r.status_code, _code(r)) == (409, "transition_not_allowed")
    blockers = client.get(f"/api/v1/evidence/{evidence_id}/retention",
                          headers=custodian).json()["blockers"]
    assert "records_request" not in [b["code"] for b in blockers]


def test_a_record_the_decision_lets_out_is_not_denied(
        client: TestClient, make_token: Callable[..., str],
        ingest_clip: Callable[..., str]) -> None:
    custodian = _h(make_token(Role.custodian, username="cust-1"))
    parent = _h(make_token(Role.requester, username="parent-1"))
    r = client.post("/api/v1/requests", headers=parent, json=PARENT)
    undecided = r.json()["id"]
    r = client.post(f"/api/v1/requests/{undecided}/deny", headers=custodian, json=WHY)
    assert (r.status_code, _code(r)) == (409, "request_not_decided")

    evidence_id = ingest_clip(campus="Central High", involves_juvenile=True)
    request_id = _ask(client, parent, custodian, evidence_id)
    effect = client.get(f"/api/v1/requests/{request_id}",
                        headers=custodian).json()["decision"]["effect"]
    assert effect in ("release", "release_redacted", "view_only")
    r = client.post(f"/api/v1/requests/{request_id}/deny", headers=custodian, json=WHY)
    assert (r.status_code, _code(r)) == (409, "decision_allows")
    assert r.json()["error"]["details"]["effect"] == effect
    mine = client.get(f"/api/v1/requests/{request_id}", headers=parent).json()
    assert (mine["state"], mine["denial"]) == ("open", None)
