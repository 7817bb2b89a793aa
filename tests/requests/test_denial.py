"""The written response (KRS 61.880(1)): a recording is denied only when the decision in
force withholds it, with a written explanation; once every recording of the request is
answered, the response names what is released and how, each exception withheld with its
citation and how it applies, tells the requester how to appeal (and, during an
investigation, when to ask again), names the agency and its custodian, is signed by the
server, reaches the requester, and lands in the custody log. After it nothing re-decides
the request, and it holds the recording only for a possible appeal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bwc_custody.releases.models import APPEAL_NOTICE, INVESTIGATION_NOTICE
from bwc_custody.roles import Role
from tests.requests.test_review import BIRTH_CERTIFICATE, PARENT, _code, _h, _verifies

WHY = {"explanation": "the recording shows several students during an open investigation"}
HARM = {"articulated_harm": "two student witnesses have not yet been interviewed; seeing the "
                            "recording first would shape what they say",
        "reason": "the detective's memo of 2 March"}


def _ask(client: TestClient, parent: dict[str, str], custodian: dict[str, str],
         *evidence_ids: str) -> str:
    r = client.post("/api/v1/requests", headers=parent, json=PARENT)
    assert r.status_code == 201, r.text
    request_id = str(r.json()["id"])
    r = client.post(f"/api/v1/requests/{request_id}/recordings", headers=custodian,
                    json={"evidence_ids": list(evidence_ids)})
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/requests/{request_id}/relationship", headers=custodian,
                    json=BIRTH_CERTIFICATE)
    assert r.status_code == 200, r.text
    return request_id


def _tag(client: TestClient, custodian: dict[str, str], evidence_id: str, *names: str) -> None:
    for name in names:
        r = client.post(f"/api/v1/evidence/{evidence_id}/tags", headers=custodian,
                        json={"name": name})
        assert r.status_code == 201, r.text


def _item(view: dict[str, Any], position: int = 1) -> dict[str, Any]:
    return dict(next(x for x in view["recordings"] if x["position"] == position))


@pytest.mark.clock
def test_a_withheld_record_is_denied_in_writing_with_its_exceptions_signed(
        client: TestClient, make_token: Callable[..., str], monkeypatch: pytest.MonkeyPatch,
        ingest_clip: Callable[..., str]) -> None:
    from bwc_custody.config import get_settings

    monkeypatch.setenv("BWC_AGENCY_NAME", "Fayette County Public Schools Police")
    get_settings.cache_clear()
    custodian = _h(make_token(Role.custodian, username="cust-1"))
    parent = _h(make_token(Role.requester, username="parent-1"))
    evidence_id = ingest_clip(campus="Central High", involves_juvenile=True)
    _tag(client, custodian, evidence_id, "multi_student", "investigation_open")
    request_id = _ask(client, parent, custodian, evidence_id)
    staff = _item(client.get(f"/api/v1/requests/{request_id}", headers=custodian).json())
    assert staff["decision"]["effect"] == "deny_during_investigation"
    url = f"/api/v1/requests/{request_id}/recordings/{staff['id']}/deny"
    # Shively (Ky. 2024): no categorical withholding; the harm is the custodian's to write
    r = client.post(url, headers=custodian, json=WHY)
    assert (r.status_code, _code(r)) == (409, "action_required")
    assert client.put(f"/api/v1/evidence/{evidence_id}/facts", headers=custodian,
                      json=HARM).status_code == 200
    staff = _item(client.get(f"/api/v1/requests/{request_id}", headers=custodian).json())
    decisive = [r for r in staff["decision"]["decision"]["rules"] if r["decisive"]]
    assert decisive

    assert client.post(url, headers=parent, json=WHY).status_code == 403
    r = client.post(url, headers=custodian)
    assert (r.status_code, _code(r)) == (422, "reason_required")
    r = client.post(url, headers=custodian, json=WHY)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], _item(r.json())["state"]) == ("answered", "denied")

    # what the requester receives: the exceptions, how they apply, the notices, signed
    mine = client.get(f"/api/v1/requests/{request_id}", headers=parent).json()
    assert _item(mine)["decision"] is None  # the engine's working stays staff-only
    [letter] = mine["letters"]
    statement, signature = letter["statement"], letter["signature"]
    assert statement["letter"] == "denial"
    [part] = statement["recordings"]
    assert (part["outcome"], part["explanation"]) == ("denied", WHY["explanation"])
    cited = {c for w in part["withheld"] for c in w["citations"]}
    assert {r["citation"] for r in decisive} <= cited
    assert any(w["harm"] == HARM["articulated_harm"] for w in part["withheld"])
    assert statement["notices"] == [INVESTIGATION_NOTICE, APPEAL_NOTICE]
    assert statement["within_deadline"] is True
    assert (statement["agency"], statement["custodian_title"], statement["request_id"]) == (
        "Fayette County Public Schools Police", "Official Custodian of Records", request_id)
    assert letter["sent_by"] == "cust-1"
    key = client.get("/api/v1/keys/signing").json()
    assert key["key_id"] == letter["key_id"]
    assert _verifies(statement, signature, key)
    assert not _verifies({**statement, "letter": "grant"}, signature, key)

    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope

    with session_scope() as session:
        entries = entries_for(session=session, target_id=request_id)
    [deny] = [e for e in entries if e.action == "request.deny"]
    assert deny.reason == WHY["explanation"]
    assert deny.details["citations"] == [r["citation"] for r in decisive]
    [sent] = [e for e in entries if e.action == "request.letter_response"]
    assert sent.details["signature"] == signature

    # the answer is final: nothing re-decides it, nothing moves it; the recording is kept
    # for a possible appeal, not as a pending request
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
    assert [b["code"] for b in blockers if b["code"] != "retention_period"] == [
        "appeal_possible"]


def test_a_record_the_decision_lets_out_is_not_denied(
        client: TestClient, make_token: Callable[..., str],
        ingest_clip: Callable[..., str]) -> None:
    custodian = _h(make_token(Role.custodian, username="cust-1"))
    parent = _h(make_token(Role.requester, username="parent-1"))
    evidence_id = ingest_clip(campus="Central High", involves_juvenile=True)
    request_id = _ask(client, parent, custodian, evidence_id)
    staff = _item(client.get(f"/api/v1/requests/{request_id}", headers=custodian).json())
    effect = staff["decision"]["effect"]
    assert effect in ("release", "release_redacted", "view_only")
    r = client.post(f"/api/v1/requests/{request_id}/recordings/{staff['id']}/deny",
                    headers=custodian, json=WHY)
    assert (r.status_code, _code(r)) == (409, "decision_allows")
    assert r.json()["error"]["details"]["effect"] == effect
    mine = client.get(f"/api/v1/requests/{request_id}", headers=parent).json()
    assert (mine["state"], mine["letters"]) == ("open", [])


def test_the_response_waits_for_every_recording_and_answers_each(
        client: TestClient, make_token: Callable[..., str],
        ingest_clip: Callable[..., str]) -> None:
    """One recording denied, another withdrawn: nothing goes out until the last is
    answered; the response then says what became of each."""
    custodian = _h(make_token(Role.custodian, username="cust-1"))
    inside = ingest_clip(involves_juvenile=True)
    wrong = ingest_clip(officer_id="o-9")
    _tag(client, custodian, inside, "juvenile_offender")
    r = client.post("/api/v1/requests", headers=custodian, json={
        "description": "the arrest at Central High on 2 March", "requester_name": "WKYT",
        "requester_type": "news_media", "residency": "resident", "form": "copy",
        "evidence_ids": [inside, wrong]})
    assert r.status_code == 201, r.text
    request_id = r.json()["id"]
    first, second = _item(r.json(), 1), _item(r.json(), 2)
    # KRS 610.320(3): a juvenile offender's record is closed to the public, whole (23-ORD-260)
    assert first["decision"]["effect"] == "deny"
    r = client.post(f"/api/v1/requests/{request_id}/recordings/{first['id']}/deny",
                    headers=custodian, json={"explanation": "it shows a juvenile taken into "
                                                           "custody; the whole is closed"})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["letters"]) == ("open", [])  # one still open
    r = client.post(f"/api/v1/requests/{request_id}/recordings/{second['id']}/close",
                    headers=custodian, json={"reason": "another officer's shift, not the "
                                                       "incident asked for"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "answered"
    [letter] = r.json()["letters"]
    parts = {p["recording"]: p for p in letter["statement"]["recordings"]}
    assert (parts[1]["outcome"], parts[2]["outcome"]) == ("denied", "withdrawn")
    assert parts[2]["reason"].startswith("another officer's shift")
    assert any("610.320" in c for w in parts[1]["withheld"] for c in w["citations"])
    assert letter["statement"]["letter"] == "denial"
    assert letter["statement"]["notices"] == [APPEAL_NOTICE]
