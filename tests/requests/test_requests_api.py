"""Records requests through the API: each recording a request names is decided on its own
tags, decided again whenever a tag or a fact of the request changes while it is live, every
decision cited and in the custody log."""

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
          "residency": "resident", "form": "copy"}
BIRTH_CERTIFICATE = {"reason": "birth certificate seen at the front desk, copy on file"}


def _decision(view: dict[str, Any], position: int = 1) -> Any:
    return next(r for r in view["recordings"] if r["position"] == position)["decision"]


@pytest.fixture
def custodian(make_token: Callable[..., str]) -> dict[str, str]:
    return _h(make_token(Role.custodian, username="cust-1"))


@pytest.mark.clock
def test_tag_changes_decide_an_open_request_again(
        client: TestClient, ingest_clip: Callable[..., str], custodian: dict[str, str]) -> None:
    evidence_id = ingest_clip(campus="Central High", involves_juvenile=True)
    r = client.post("/api/v1/requests", headers=custodian, json={
        **PARENT, "evidence_ids": [evidence_id], "received_on": "2026-03-03"})
    assert r.status_code == 201, r.text
    request_id = r.json()["id"]
    assert r.json()["deadline"] == "2026-03-10"  # five Kentucky business days
    first = _decision(r.json())
    # a parent's claim counts once the custodian has seen the document (KRS 610.340(1)(a))
    assert "juvenile-records-confidential" in first["rule_ids"]
    assert [a["code"] for a in first["decision"]["required_actions"]] == [
        "confirm_relationship"]
    assert first["trigger"] == "evidence_linked"
    assert NOT_ANALYSED in first["decision"]["warnings"]  # no person count has run yet
    confirmed = client.post(f"/api/v1/requests/{request_id}/relationship", headers=custodian,
                            json=BIRTH_CERTIFICATE)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["relationship_confirmed_by"] == "cust-1"
    now = _decision(confirmed.json())
    assert (now["effect"], now["trigger"]) == ("release_redacted", "relationship_confirmed")
    assert "juvenile-child-side" in now["rule_ids"]

    # Several students are seen: the parent may only look, at the agency (policy 000 IV.H).
    tag = client.post(f"/api/v1/evidence/{evidence_id}/tags", headers=custodian,
                      json={"name": "multi_student", "reason": "three students seen at 0:41"})
    assert tag.status_code == 201
    now = _decision(client.get(f"/api/v1/requests/{request_id}", headers=custodian).json())
    assert (now["effect"], now["trigger"], now["changed"]) == ("view_only", "tags_changed",
                                                               True)
    assert "multi-student-parent-inspect-only" in now["rule_ids"]
    assert "multi_student" in now["tags"]

    # An investigation opens: withheld from the parent while it is pending, once the
    # custodian says what harm release would do (Shively, Ky. 2024).
    client.post(f"/api/v1/evidence/{evidence_id}/tags", headers=custodian,
                json={"name": "investigation_open", "reason": "case 26-0113 open"})
    now = _decision(client.get(f"/api/v1/requests/{request_id}", headers=custodian).json())
    assert now["effect"] == "deny_during_investigation"
    assert "multi-student-investigation-parents" in now["rule_ids"]
    assert [a["code"] for a in now["decision"]["required_actions"]] == ["articulate_harm"]
    harm = client.put(f"/api/v1/evidence/{evidence_id}/facts", headers=custodian, json={
        "articulated_harm": "two witnesses have not been interviewed yet",
        "reason": "the detective's note of 3 March"})
    assert harm.status_code == 200, harm.text
    now = _decision(client.get(f"/api/v1/requests/{request_id}", headers=custodian).json())
    assert (now["trigger"], now["decision"]["required_actions"]) == ("tags_changed", [])
    assert now["decision"]["articulated_harm"] == "two witnesses have not been interviewed yet"

    # It closes: the custodian removes the tag with a reason and the decision follows.
    gone = client.request("DELETE", f"/api/v1/evidence/{evidence_id}/tags/investigation_open",
                          headers=custodian, json={"reason": "case 26-0113 closed 4/1"})
    assert gone.status_code == 200
    history = client.get(f"/api/v1/requests/{request_id}/decisions", headers=custodian).json()
    assert [d["effect"] for d in history] == [
        "release_redacted", "release_redacted", "view_only", "deny_during_investigation",
        "deny_during_investigation", "view_only"]
    assert [d["trigger"] for d in history] == [
        "evidence_linked", "relationship_confirmed"] + ["tags_changed"] * 4
    assert {d["actor"] for d in history} == {"cust-1"}

    logged = [e for e in _entries(request_id) if e.action == "request.decision"]
    assert [e.seq for e in logged] == [d["custody_seq"] for d in history]
    last = logged[-1].details
    assert last["previous_effect"] == "deny_during_investigation"
    assert last["effect"] == "view_only"
    assert last["rule_ids"] == history[-1]["rule_ids"]
    assert last["citations"]
    assert all("KRS" in c or "Policy" in c or "ORD" in c for c in last["citations"])


def test_a_request_for_an_incident_decides_each_recording_on_its_own(
        client: TestClient, ingest_clip: Callable[..., str], custodian: dict[str, str]) -> None:
    """A request names an incident: several recordings from several officers. Each is
    decided on its own tags; a tag change on one re-decides that one only."""
    hallway = ingest_clip(campus="Central High", involves_juvenile=True, officer_id="o-1")
    parking = ingest_clip(officer_id="o-2")
    news = {**PARENT, "requester_type": "news_media", "parent_of_depicted": False}
    r = client.post("/api/v1/requests", headers=custodian,
                    json={**news, "evidence_ids": [hallway]})
    request_id = r.json()["id"]
    linked = client.post(f"/api/v1/requests/{request_id}/recordings", headers=custodian,
                         json={"evidence_ids": [parking, hallway]})  # hallway already there
    assert linked.status_code == 200, linked.text
    recordings = linked.json()["recordings"]
    assert [(x["position"], x["evidence_id"], x["state"]) for x in recordings] == [
        (1, hallway, "open"), (2, parking, "open")]
    assert _decision(linked.json(), 1)["effect"] == "release_redacted"  # a juvenile is shown
    assert _decision(linked.json(), 2)["effect"] == "release"
    client.post(f"/api/v1/evidence/{parking}/tags", headers=custodian,
                json={"name": "private_residence_interior", "reason": "front room at 2:10"})
    history = client.get(f"/api/v1/requests/{request_id}/decisions", headers=custodian).json()
    assert [(d["item_id"], d["trigger"]) for d in history] == [
        (recordings[0]["id"], "evidence_linked"), (recordings[1]["id"], "evidence_linked"),
        (recordings[1]["id"], "tags_changed")]
    listed = client.get("/api/v1/requests", headers=custodian,
                        params={"evidence_id": parking}).json()
    assert [x["id"] for x in listed] == [request_id]


def test_a_tag_that_changes_nothing_is_recorded_as_unchanged(
        client: TestClient, ingest_clip: Callable[..., str], custodian: dict[str, str]) -> None:
    evidence_id = ingest_clip()
    r = client.post("/api/v1/requests", headers=custodian,
                    json={**PARENT, "evidence_ids": [evidence_id]})
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
                         json={**PARENT, "evidence_ids": [footage]}).json()["id"]
    elsewhere = client.post("/api/v1/requests", headers=custodian,
                            json={**PARENT, "evidence_ids": [other]}).json()["id"]
    no_reason = client.post(f"/api/v1/requests/{closed}/close", headers=custodian)
    assert no_reason.status_code == 422
    assert no_reason.json()["error"]["code"] == "reason_required"
    assert client.get(f"/api/v1/requests/{closed}", headers=custodian).json()["state"] == "open"
    done = client.post(f"/api/v1/requests/{closed}/close", headers=custodian,
                       json={"reason": "requester withdrew by phone 3/4"})
    assert done.status_code == 200
    assert (done.json()["state"], done.json()["closed_by"]) == ("closed", "cust-1")
    assert [x["state"] for x in done.json()["recordings"]] == ["closed"]
    assert done.json()["letters"] == []  # nothing was answered: no response goes out
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
    entries = {e.action: e for e in _entries(closed)}
    assert entries["request.close"].reason == "requester withdrew by phone 3/4"
    assert entries["request.close"].details["to"] == "closed"
    assert entries["request.closed"].details == {"from": "open", "to": "closed"}
    linking_closed = client.post(f"/api/v1/requests/{closed}/recordings", headers=custodian,
                                 json={"evidence_ids": [footage]})
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
    assert (mine["state"], mine["submitted_by"], mine["recordings"]) == ("open", "vp-central",
                                                                         [])
    # A requester cannot name recordings (that would probe ids) nor backdate the request.
    for extra in ({"evidence_ids": [evidence_id]}, {"received_on": "2026-01-05"}):
        refused = client.post("/api/v1/requests", headers=school, json={**body, **extra})
        assert refused.status_code == 403, extra
    assert client.get(f"/api/v1/requests/{mine['id']}", headers=other).status_code == 404
    assert client.get("/api/v1/requests", headers=other).json() == []
    assert [x["id"] for x in client.get("/api/v1/requests", headers=school).json()] == [
        mine["id"]]

    # The custodian links it: a decision exists now, but the requester still sees none.
    linked = client.post(f"/api/v1/requests/{mine['id']}/recordings", headers=custodian,
                         json={"evidence_ids": [evidence_id]})
    assert linked.status_code == 200
    assert _decision(linked.json())["effect"] == "release_redacted"
    seen = client.get(f"/api/v1/requests/{mine['id']}", headers=school).json()
    [recording] = seen["recordings"]
    assert (recording["decision"], recording["evidence_id"]) == (None, None)
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
    ids = [client.post("/api/v1/requests", headers=custodian,
                       json={**PARENT, "evidence_ids": given}).json()["id"]
           for given in ([footage], [other, footage], [])]
    client.post(f"/api/v1/evidence/{footage}/tags", headers=custodian,
                json={"name": "multi_student", "reason": "three students seen at 0:41"})
    one_by_one = {i: client.get(f"/api/v1/requests/{i}", headers=custodian).json()["recordings"]
                  for i in ids}
    assert one_by_one[ids[0]][0]["decision"]["trigger"] == "tags_changed"
    assert [x["decision"]["trigger"] for x in one_by_one[ids[1]]] == ["evidence_linked",
                                                                       "tags_changed"]
    assert one_by_one[ids[2]] == []

    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        statements.append(sql)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", record)
    try:
        listed = client.get("/api/v1/requests", headers=custodian).json()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert {r["id"]: r["recordings"] for r in listed} == one_by_one
    assert sum("FROM request_decision" in sql for sql in statements) == 1
    assert sum("FROM request_recording" in sql for sql in statements) == 1


@pytest.mark.clock
def test_bad_input_is_refused_with_codes_and_stores_nothing(
        client: TestClient, ingest_clip: Callable[..., str], custodian: dict[str, str]) -> None:
    evidence_id = ingest_clip(campus="Central High")
    before, log_before = _count_requests(), len(_entries(evidence_id))
    cases = [
        ({**PARENT, "requester_type": "principal"}, 422, "invalid_facts"),
        ({**PARENT, "form": "email"}, 422, "invalid_facts"),
        ({**PARENT, "residency": "maybe"}, 422, "invalid_input"),
        ({**PARENT, "received_on": "2999-01-01"}, 422, "received_on_in_future"),
        ({**PARENT, "evidence_ids": [evidence_id, "00000000-0000-4000-8000-000000000000"]},
         404, "evidence_not_found"),
        ({**PARENT, "colour": "red"}, 422, "invalid_input"),
        ({k: v for k, v in PARENT.items() if k != "requester_name"}, 422, "invalid_input"),
    ]
    for body, status, code in cases:
        r = client.post("/api/v1/requests", headers=custodian, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), body
    assert _count_requests() == before
    assert len(_entries(evidence_id)) == log_before

    request_id = client.post("/api/v1/requests", headers=custodian,
                             json={**PARENT, "evidence_ids": [evidence_id]}).json()["id"]
    missing = client.post("/api/v1/requests/nope/recordings", headers=custodian,
                          json={"evidence_ids": [evidence_id]})
    assert missing.json()["error"]["code"] == "request_not_found"
    no_footage = client.post(f"/api/v1/requests/{request_id}/recordings", headers=custodian,
                             json={"evidence_ids": ["00000000-0000-4000-8000-000000000000"]})
    assert (no_footage.status_code, no_footage.json()["error"]["code"]) == (
        404, "evidence_not_found")
    empty = client.post(f"/api/v1/requests/{request_id}/recordings", headers=custodian,
                        json={"evidence_ids": []})
    assert (empty.status_code, empty.json()["error"]["code"]) == (422, "invalid_input")
    no_item = client.post(f"/api/v1/requests/{request_id}/recordings/nope/deny",
                          headers=custodian, json={"explanation": "the whole recording"})
    assert (no_item.status_code, no_item.json()["error"]["code"]) == (
        404, "recording_not_in_request")
    bad_state = client.get("/api/v1/requests", headers=custodian, params={"state": "lost"})
    assert (bad_state.status_code, bad_state.json()["error"]["code"]) == (422, "invalid_input")
    got = client.get(f"/api/v1/requests/{request_id}", headers=custodian).json()
    assert [x["evidence_id"] for x in got["recordings"]] == [evidence_id]
    assert len(client.get(f"/api/v1/requests/{request_id}/decisions",
                          headers=custodian).json()) == 1


def test_the_requesters_facts_are_the_custodians_to_record(
        client: TestClient, ingest_clip: Callable[..., str], custodian: dict[str, str],
        make_token: Callable[..., str]) -> None:
    """Residency unknown is asked for, not denied (KRS 61.872(2)(a)); a stated residency
    restarts the five days from the day it arrives; a claim that cannot be confirmed is
    withdrawn and the request answered as any citizen's."""
    evidence_id = ingest_clip(involves_juvenile=True)
    r = client.post("/api/v1/requests", headers=custodian, json={
        **PARENT, "residency": "unknown", "evidence_ids": [evidence_id],
        "received_on": "2027-03-01"})
    request_id = r.json()["id"]
    first = _decision(r.json())
    assert first["effect"] == "residency_statement"
    assert first["decision"]["residency_request"]["citation"].startswith("KRS 61.872(2)(a)")
    asked = client.post(f"/api/v1/requests/{request_id}/residency-request", headers=custodian)
    assert asked.status_code == 200, asked.text
    [letter] = asked.json()["letters"]
    assert (letter["kind"], letter["statement"]["citation"]) == (
        "residency", first["decision"]["residency_request"]["citation"])
    denied = client.post(f"/api/v1/requests/{request_id}/recordings/"
                         f"{r.json()['recordings'][0]['id']}/deny", headers=custodian,
                         json={"explanation": "no statement of residency was given"})
    assert (denied.status_code, denied.json()["error"]["code"]) == (
        409, "residency_statement_due")

    stated = client.patch(f"/api/v1/requests/{request_id}/facts", headers=custodian,
                          json={"residency": "resident", "parent_of_depicted": False})
    assert stated.status_code == 200, stated.text
    view = stated.json()
    from policies.calendar import kentucky_today, response_deadline

    assert view["received_on"] == kentucky_today().isoformat()  # the clock restarts
    assert view["deadline"] == response_deadline(kentucky_today()).isoformat()
    now = _decision(view)
    assert (now["effect"], now["trigger"]) == ("release_redacted", "facts_changed")
    assert now["decision"]["required_actions"] == []
    facts = [e for e in _entries(request_id) if e.action == "request.facts"][0]
    assert facts.details["changed"] == {"residency": "resident", "parent_of_depicted": False}
    requester = _h(make_token(Role.requester))
    assert client.patch(f"/api/v1/requests/{request_id}/facts", headers=requester,
                        json={"residency": "resident"}).status_code == 403
