"""Records requests through the API: decided on the evidence's tags, decided again whenever a
tag changes while the request is open, every decision cited and in the custody log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bwc_custody.requests.service import NOT_ANALYSED
from bwc_custody.roles import Role


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _entries(target_id: str) -> list[Any]:
    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return entries_for(session=session, target_id=target_id)


def _count_requests() -> int:
    from sqlmodel import select

    from bwc_custody.db import session_scope
    from bwc_custody.requests.models import RecordsRequest

    with session_scope() as session:
        return len(list(session.exec(select(RecordsRequest))))


PARENT = {"description": "video of the cafeteria fight on 2 March", "requester_name": "R. Doe",
          "requester_type": "parent_guardian", "parent_of_depicted": True,
          "ky_resident": True, "form": "copy"}


@pytest.fixture
def custodian(make_token: Callable[..., str]) -> dict[str, str]:
    return _h(make_token(Role.custodian, username="cust-1"))


@pytest.mark.clock
def test_tag_changes_decide_an_open_request_again(
        client: TestClient, ingest_clip: Callable[..., str], custodian: dict[str, str]) -> None:
    evidence_id = ingest_clip(campus="Central High", involves_juvenile=True)
    r = client.post("/api/v1/requests", headers=custodian,
                    json={**PARENT, "evidence_id": evidence_id, "received_on": "2026-03-03"})
    assert r.status_code == 201, r.text
    request_id = r.json()["id"]
    first = r.json()["decision"]
    assert first["effect"] == "release_redacted"
    assert "juvenile-child-side" in first["rule_ids"]
    assert first["trigger"] == "evidence_linked"
    assert r.json()["deadline"] == "2026-03-10"  # five Kentucky business days
    assert NOT_ANALYSED in first["decision"]["warnings"]  # no person count has run yet

    # Several students are seen: the parent may only look, at the agency (policy 000 IV.H).
    tag = client.post(f"/api/v1/evidence/{evidence_id}/tags", headers=custodian,
                      json={"name": "multi_student", "reason": "three students seen at 0:41"})
    assert tag.status_code == 201
    now = client.get(f"/api/v1/requests/{request_id}", headers=custodian).json()["decision"]
    assert now["effect"] == "view_only"
    assert now["trigger"] == "tags_changed"
    assert now["changed"] is True
    assert "multi-student-parent-inspect-only" in now["rule_ids"]
    assert "multi_student" in now["tags"]

    # An investigation opens: withheld from the parent while it is pending.
    client.post(f"/api/v1/evidence/{evidence_id}/tags", headers=custodian,
                json={"name": "investigation_open", "reason": "case 26-0113 open"})
    now = client.get(f"/api/v1/requests/{request_id}", headers=custodian).json()["decision"]
    assert now["effect"] == "deny_during_investigation"
    assert "multi-student-investigation-parents" in now["rule_ids"]

    # It closes: the custodian removes the tag with a reason and the decision follows.
    gone = client.request("DELETE", f"/api/v1/evidence/{evidence_id}/tags/investigation_open",
                          headers=custodian, json={"reason": "case 26-0113 closed 4/1"})
    assert gone.status_code == 200
    history = client.get(f"/api/v1/requests/{request_id}/decisions", headers=custodian).json()
    assert [d["effect"] for d in history] == [
        "release_redacted", "view_only", "deny_during_investigation", "view_only"]
    assert [d["trigger"] for d in history] == ["evidence_linked"] + ["tags_changed"] * 3
    assert {d["actor"] for d in history} == {"cust-1"}

    logged = [e for e in _entries(request_id) if e.action == "request.decision"]
    assert [e.seq for e in logged] == [d["custody_seq"] for d in history]
    last = logged[-1].details
    assert last["previous_effect"] == "deny_during_investigation"
    assert last["effect"] == "view_only"
    assert last["rule_ids"] == history[-1]["rule_ids"]
    assert last["citations"]
    assert all("KRS" in c or "Policy" in c or "ORD" in c
                                     for c in last["citations"])


def test_a_tag_that_changes_nothing_is_recorded_as_unchanged(
        client: TestClient, ingest_clip: Callable[..., str], custodian: dict[str, str]) -> None:
    evidence_id = ingest_clip()
    r = client.post("/api/v1/requests", headers=custodian,
                    json={**PARENT, "evidence_id": evidence_id})
    request_id = r.json()["id"]
    # No rule reads `school_campus` alone: the decision is made again and comes out the same.
    client.post(f"/api/v1/evidence/{evidence_id}/tags", headers=custodian,
                json={"name": "school_campus", "reason": "parking lot of Central High"})
    history = client.get(f"/api/v1/requests/{request_id}/decisions", headers=custodian).json()
    assert len(history) == 2
    assert history[1]["effect"] == history[0]["effect"]
    assert history[1]["changed"] is False
    assert history[1]["tags"] == ["school_campus"]


def test_closed_and_other_evidence_requests_are_not_decided_again(
        client: TestClient, ingest_clip: Callable[..., str], custodian: dict[str, str]) -> None:
    footage, other = ingest_clip(campus="Central High"), ingest_clip(campus="East Middle")
    closed = client.post("/api/v1/requests", headers=custodian,
                         json={**PARENT, "evidence_id": footage}).json()["id"]
    elsewhere = client.post("/api/v1/requests", headers=custodian,
                            json={**PARENT, "evidence_id": other}).json()["id"]
    no_reason = client.post(f"/api/v1/requests/{closed}/close", headers=custodian)
    assert no_reason.status_code == 422
    assert no_reason.json()["error"]["code"] == "reason_required"
    assert client.get(f"/api/v1/requests/{closed}", headers=custodian).json()["state"] == "open"
    done = client.post(f"/api/v1/requests/{closed}/close", headers=custodian,
                       json={"reason": "requester withdrew by phone 3/4"})
    assert done.status_code == 200
    assert (done.json()["state"], done.json()["closed_by"]) == ("closed", "cust-1")
    again = client.post(f"/api/v1/requests/{closed}/close", headers=custodian,
                        json={"reason": "requester withdrew by phone 3/4"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "transition_not_allowed"
    client.post(f"/api/v1/evidence/{footage}/tags", headers=custodian,
                json={"name": "multi_student", "reason": "three students seen at 0:41"})
    for request_id in (closed, elsewhere):
        history = client.get(f"/api/v1/requests/{request_id}/decisions",
                             headers=custodian).json()
        assert [d["trigger"] for d in history] == ["evidence_linked"]
    close_entry = [e for e in _entries(closed) if e.action == "request.close"][0]
    assert close_entry.reason == "requester withdrew by phone 3/4"
    assert close_entry.details == {"transition": "close", "from": "open", "to": "closed"}
    linking_closed = client.put(f"/api/v1/requests/{closed}/evidence", headers=custodian,
                                json={"evidence_id": footage})
    assert linking_closed.status_code == 409


@pytest.mark.clock
def test_a_requester_submits_and_sees_only_their_own(
        client: TestClient, ingest_clip: Callable[..., str], custodian: dict[str, str],
        make_token: Callable[..., str]) -> None:
    evidence_id = ingest_clip(campus="Central High", involves_juvenile=True)
    school = _h(make_token(Role.requester, username="vp-central"))
    other = _h(make_token(Role.requester, username="reporter"))
    body = {**PARENT, "requester_type": "school_personnel", "parent_of_depicted": False,
            "requester_name": "Central High vice principal"}
    r = client.post("/api/v1/requests", headers=school, json=body)
    assert r.status_code == 201, r.text
    mine = r.json()
    assert (mine["state"], mine["submitted_by"], mine["decision"]) == ("open", "vp-central",
                                                                       None)
    # A requester cannot name the recording (that would probe ids) nor backdate the request.
    for extra in ({"evidence_id": evidence_id}, {"received_on": "2026-01-05"}):
        refused = client.post("/api/v1/requests", headers=school, json={**body, **extra})
        assert refused.status_code == 403, extra
    assert client.get(f"/api/v1/requests/{mine['id']}", headers=other).status_code == 404
    assert client.get("/api/v1/requests", headers=other).json() == []
    assert [x["id"] for x in client.get("/api/v1/requests", headers=school).json()] == [
        mine["id"]]

    # The custodian links it: a decision exists now, but the requester still sees none.
    linked = client.put(f"/api/v1/requests/{mine['id']}/evidence", headers=custodian,
                        json={"evidence_id": evidence_id})
    assert linked.status_code == 200
    assert linked.json()["decision"]["effect"] == "release_redacted"
    seen = client.get(f"/api/v1/requests/{mine['id']}", headers=school).json()
    assert (seen["decision"], seen["evidence_id"]) == (None, None)
    assert client.get(f"/api/v1/requests/{mine['id']}/decisions",
                      headers=school).status_code == 403
    probe = client.get("/api/v1/requests", headers=school, params={"evidence_id": evidence_id})
    assert probe.status_code == 403  # filtering would reveal the linked recording
    staff = client.get("/api/v1/requests", headers=custodian,
                       params={"evidence_id": evidence_id}).json()
    assert [x["id"] for x in staff] == [mine["id"]]


def test_the_list_shows_each_decision_in_force_from_one_query(
        client: TestClient, ingest_clip: Callable[..., str], custodian: dict[str, str]) -> None:
    from sqlalchemy import event

    from bwc_custody.db import get_engine

    footage, other = ingest_clip(campus="Central High"), ingest_clip(campus="East Middle")
    ids = [client.post("/api/v1/requests", headers=custodian, json={**PARENT, **extra}).json()["id"]
           for extra in ({"evidence_id": footage}, {"evidence_id": other}, {})]
    client.post(f"/api/v1/evidence/{footage}/tags", headers=custodian,
                json={"name": "multi_student", "reason": "three students seen at 0:41"})
    one_by_one = {i: client.get(f"/api/v1/requests/{i}", headers=custodian).json()["decision"]
                  for i in ids}
    assert one_by_one[ids[0]]["trigger"] == "tags_changed"  # newer than its first decision
    assert one_by_one[ids[1]]["trigger"] == "evidence_linked"
    assert one_by_one[ids[2]] is None

    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        statements.append(sql)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", record)
    try:
        listed = client.get("/api/v1/requests", headers=custodian).json()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert {r["id"]: r["decision"] for r in listed} == one_by_one
    assert sum("FROM request_decision" in sql for sql in statements) == 1


@pytest.mark.clock
def test_bad_input_is_refused_with_codes_and_stores_nothing(
        client: TestClient, ingest_clip: Callable[..., str], custodian: dict[str, str]) -> None:
    evidence_id = ingest_clip(campus="Central High")
    before, log_before = _count_requests(), len(_entries(evidence_id))
    cases = [
        ({**PARENT, "requester_type": "principal"}, 422, "invalid_facts"),
        ({**PARENT, "form": "email"}, 422, "invalid_facts"),
        ({**PARENT, "received_on": "2999-01-01"}, 422, "received_on_in_future"),
        ({**PARENT, "evidence_id": "00000000-0000-4000-8000-000000000000"}, 404,
         "evidence_not_found"),
        ({**PARENT, "colour": "red"}, 422, "invalid_input"),
        ({k: v for k, v in PARENT.items() if k != "requester_name"}, 422, "invalid_input"),
    ]
    for body, status, code in cases:
        r = client.post("/api/v1/requests", headers=custodian, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), body
    assert _count_requests() == before
    assert len(_entries(evidence_id)) == log_before

    request_id = client.post("/api/v1/requests", headers=custodian,
                             json={**PARENT, "evidence_id": evidence_id}).json()["id"]
    relink = client.put(f"/api/v1/requests/{request_id}/evidence", headers=custodian,
                        json={"evidence_id": ingest_clip(campus="East Middle")})
    assert (relink.status_code, relink.json()["error"]["code"]) == (409,
                                                                     "request_already_linked")
    missing = client.put("/api/v1/requests/nope/evidence", headers=custodian,
                         json={"evidence_id": evidence_id})
    assert missing.json()["error"]["code"] == "request_not_found"
    unlinked = client.post("/api/v1/requests", headers=custodian, json=PARENT).json()["id"]
    no_footage = client.put(f"/api/v1/requests/{unlinked}/evidence", headers=custodian,
                            json={"evidence_id": "00000000-0000-4000-8000-000000000000"})
    assert (no_footage.status_code, no_footage.json()["error"]["code"]) == (
        404, "evidence_not_found")
    assert client.get(f"/api/v1/requests/{unlinked}", headers=custodian).json()[
        "evidence_id"] is None
    bad_state = client.get("/api/v1/requests", headers=custodian, params={"state": "lost"})
    assert (bad_state.status_code, bad_state.json()["error"]["code"]) == (422, "invalid_input")
    got = client.get(f"/api/v1/requests/{request_id}", headers=custodian).json()
    assert got["evidence_id"] == evidence_id
    assert len(client.get(f"/api/v1/requests/{request_id}/decisions",
                          headers=custodian).json()) == 1
