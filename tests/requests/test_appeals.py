"""Appeals of a request's answer (KRS 61.880(2), (5)): the custodian or counsel records an
appeal when the agency learns of it, and its decision; meanwhile, and for the 30 days in
which the decision may go to court, the recording is not destroyed (the open-records
request is still pending under the retention schedule). Each step is logged with its rule
and citation; refusals store nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bwc_custody.appeals.models import APPEAL_CITATIONS, APPEAL_RULE
from bwc_custody.roles import Role
from tests.requests.test_denial import HARM, WHY, _ask, _item, _tag
from tests.requests.test_review import _code, _h

pytestmark = pytest.mark.clock  # reads today: run again at awkward instants


def _retention(evidence_id: str, on: dt.date | None = None) -> Any:
    """The retention status of the recording now, or at noon, Kentucky time, on a later day
    `on` (noon of today may be before the recording was received)."""
    from bwc_custody.db import session_scope
    from bwc_custody.retention.service import status
    from policies.calendar import KENTUCKY

    at = dt.datetime.combine(on, dt.time(12), KENTUCKY) if on is not None else None
    with session_scope() as session:
        return status(session=session, evidence_id=evidence_id, now=at)


def test_an_appeal_keeps_the_recording_until_decided_and_thirty_days_after(
        client: TestClient, make_token: Callable[..., str], ingest_clip: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bwc_custody.config import get_settings
    from policies.calendar import ag_decision_due, court_appeal_deadline, kentucky_today

    monkeypatch.setenv("BWC_RETENTION_DAYS", "0")  # only what holds it, not the period
    get_settings.cache_clear()
    custodian = _h(make_token(Role.custodian, username="cust-1"))
    counsel = _h(make_token(Role.legal_reviewer, username="counsel-1"))
    auditor = _h(make_token(Role.auditor, username="aud-1"))
    parent = _h(make_token(Role.requester, username="parent-1"))
    evidence_id = ingest_clip(campus="Central High", involves_juvenile=True)
    _tag(client, custodian, evidence_id, "multi_student", "investigation_open")
    request_id = _ask(client, parent, custodian, evidence_id)
    assert client.put(f"/api/v1/evidence/{evidence_id}/facts", headers=custodian,
                      json=HARM).status_code == 200
    item = _item(client.get(f"/api/v1/requests/{request_id}", headers=custodian).json())
    assert client.post(f"/api/v1/requests/{request_id}/recordings/{item['id']}/deny",
                       headers=custodian, json=WHY).status_code == 200
    r = client.request("DELETE", f"/api/v1/evidence/{evidence_id}/tags/investigation_open",
                       headers=custodian, json={"reason": "investigation closed, no charges"})
    assert r.status_code == 200, r.text
    today = kentucky_today()
    # denied: kept for a possible appeal to the Attorney General (none recorded yet), then due
    held = _retention(evidence_id)
    assert [b.code for b in held.blockers] == ["appeal_possible"]
    assert _retention(evidence_id, today + dt.timedelta(days=61)).due

    url = f"/api/v1/requests/{request_id}/appeals"
    appeal = {"forum": "attorney_general", "reference": "AG log 26-1234",
              "filed_on": (today - dt.timedelta(days=3)).isoformat(),
              "note": "the Attorney General's notice of the appeal arrived by email"}
    for who in (parent, auditor):
        assert client.post(url, headers=who, json=appeal).status_code == 403
    refused = {
        "appeal_date_invalid": {**appeal, "filed_on": (today + dt.timedelta(days=1)).isoformat()},
        "reason_required": {**appeal, "note": ""},
        "invalid_input": {**appeal, "forum": "supreme_court"},
    }
    for code, body in refused.items():
        r = client.post(url, headers=counsel, json=body)
        assert (r.status_code, _code(r)) == (422, code), r.text
    assert client.post("/api/v1/requests/no-such-request/appeals", headers=counsel,
                       json=appeal).status_code == 404
    assert client.get(url, headers=auditor).json() == []  # nothing stored by the refusals

    r = client.post(url, headers=counsel, json=appeal)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["outcome"], made["holds_until"]) == (None, None)
    assert made["decision_expected_by"] == ag_decision_due(
        today - dt.timedelta(days=3)).isoformat()
    assert (made["rule"], made["citation"]) == (APPEAL_RULE, APPEAL_CITATIONS["attorney_general"])
    view = _retention(evidence_id, today + dt.timedelta(days=400))
    assert not view.due
    assert [(b.code, b.rule, b.citation) for b in view.blockers] == [
        ("appeal", APPEAL_RULE, APPEAL_CITATIONS["attorney_general"])]
    assert "pending" in view.blockers[0].detail
    r = client.post(f"/api/v1/evidence/{evidence_id}/dispose", headers=custodian,
                    json={"reason": "the schedule's period has run"})
    assert (r.status_code, _code(r)) == (409, "retention_not_due")
    # staff see the appeal on the request; the requester (who filed it) is not shown ours
    assert [a["id"] for a in client.get(f"/api/v1/requests/{request_id}",
                                        headers=custodian).json()["appeals"]] == [made["id"]]
    assert client.get(f"/api/v1/requests/{request_id}", headers=parent).json()["appeals"] == []

    decided = f"{url}/{made['id']}/decision"
    decision = {"outcome": "upheld", "decided_on": (today - dt.timedelta(days=1)).isoformat(),
                "reference": "26-ORD-123", "note": "the denial under KRS 610.320(3) upheld"}
    r = client.post(decided, headers=custodian, json={
        **decision, "decided_on": (today - dt.timedelta(days=4)).isoformat()})
    assert (r.status_code, _code(r)) == (422, "appeal_date_invalid")  # before it was filed
    assert client.post(f"{url}/999/decision", headers=custodian,
                       json=decision).status_code == 404
    r = client.post(decided, headers=custodian, json=decision)
    assert r.status_code == 200, r.text
    # the thirty days in which it may go to circuit court (KRS 61.880(5)(a)), rolled past a
    # weekend or holiday (KRS 446.030), then nothing
    last_day = court_appeal_deadline(today - dt.timedelta(days=1))
    assert today + dt.timedelta(days=29) <= last_day
    assert r.json()["holds_until"] == last_day.isoformat()
    r = client.post(decided, headers=custodian, json=decision)
    assert (r.status_code, _code(r)) == (409, "appeal_already_decided")
    assert "may follow until" in _retention(evidence_id, last_day).blockers[0].detail
    after = last_day + dt.timedelta(days=1)
    assert _retention(evidence_id, after).due

    # a withdrawn appeal keeps nothing once it is recorded as withdrawn
    second = client.post(url, headers=custodian, json={**appeal, "forum": "circuit_court",
                                                       "reference": "26-CI-00042"}).json()
    assert not _retention(evidence_id, after).due
    r = client.post(f"{url}/{second['id']}/decision", headers=counsel, json={
        **decision, "outcome": "withdrawn", "decided_on": today.isoformat()})
    assert r.json()["holds_until"] is None
    assert _retention(evidence_id, after).due

    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope

    with session_scope() as session:
        logged = [(e.action, e.actor, e.details.get("rule"), e.details.get("outcome"))
                  for e in entries_for(session=session, target_id=request_id)
                  if e.action.startswith("request.appeal")]
    assert logged == [("request.appeal", "counsel-1", APPEAL_RULE, None),
                      ("request.appeal_decided", "cust-1", APPEAL_RULE, "upheld"),
                      ("request.appeal", "cust-1", APPEAL_RULE, None),
                      ("request.appeal_decided", "counsel-1", APPEAL_RULE, "withdrawn")]
    get_settings.cache_clear()
