"""Tag provenance, custodian-only removal, notifications and the custody log, via the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bwc_custody.roles import Role


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _entries(evidence_id: str) -> list[Any]:
    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return entries_for(session=session, target_id=evidence_id)


@pytest.fixture
def tagged(client: TestClient, ingest_clip: Callable[..., str]) -> str:
    """Evidence uploaded with campus, a juvenile and a detention, recorded at a known time."""
    return ingest_clip(campus="Central High", involves_juvenile=True,
                       incident_type="detention", recorded_at="2026-03-02T10:00:00-05:00")


@pytest.mark.clock
def test_officer_metadata_becomes_officer_tags_and_a_notification(
        client: TestClient, tagged: str, make_token: Callable[..., str]) -> None:
    body = client.get(f"/api/v1/evidence/{tagged}/tags",
                      headers=_h(make_token(Role.custodian))).json()
    assert body["effective"] == ["detention_under_18", "juvenile", "school_campus"]
    assert {t["source"] for t in body["tags"]} == {"officer"}
    detention = next(t for t in body["tags"] if t["name"] == "detention_under_18")
    assert detention["evidence"] == {"field": "incident_type", "value": "detention"}
    assert detention["created_by"] == "test-operator"
    notes = client.get("/api/v1/notifications", headers=_h(make_token(Role.custodian))).json()
    assert [(n["evidence_id"], n["kind"], n["due_basis"]) for n in notes] == [
        (tagged, "detention_under_18", "recorded_at")]
    due = datetime.fromisoformat(notes[0]["due_at"])
    assert due == datetime(2026, 3, 5, 15, 0, tzinfo=UTC)  # 3 days after 10:00 -05:00
    evidence = client.get(f"/api/v1/evidence/{tagged}",
                          headers=_h(make_token(Role.custodian))).json()
    recorded = datetime.fromisoformat(evidence["recorded_at"])
    assert (recorded, recorded.utcoffset()) == (datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
                                                timedelta(0))
    entries = _entries(tagged)
    actions = [e.action for e in entries]
    assert actions[0] == "evidence.ingest"
    assert entries[0].details["metadata"] == {
        "officer_id": "officer-1", "campus": "Central High", "involves_juvenile": True,
        "incident_type": "detention", "recorded_at": "2026-03-02T10:00:00-05:00"}
    assert actions.count("tag.add") == 3
    assert actions.count("notification.create") == 1


@pytest.mark.clock
def test_due_date_falls_back_to_received_at(client: TestClient,
                                            ingest_clip: Callable[..., str],
                                            make_token: Callable[..., str]) -> None:
    evidence_id = ingest_clip(incident_type="taser_discharged")
    notes = client.get("/api/v1/notifications", headers=_h(make_token(Role.custodian))).json()
    note = next(n for n in notes if n["evidence_id"] == evidence_id)
    assert note["kind"] == "firearm_or_taser_discharged"
    assert note["due_basis"] == "received_at"
    due = datetime.fromisoformat(note["due_at"])
    assert timedelta(days=2, hours=23) < due - datetime.now(UTC) <= timedelta(days=3)


def test_notification_listed_until_marked_done(client: TestClient, tagged: str,
                                               make_token: Callable[..., str]) -> None:
    custodian = _h(make_token(Role.custodian))
    note = client.get("/api/v1/notifications", headers=custodian).json()[0]
    done = client.post(f"/api/v1/notifications/{note['id']}/done", headers=custodian,
                       json={"note": "superintendent and board emailed"})
    assert done.status_code == 200
    assert done.json()["done_at"]
    assert client.get("/api/v1/notifications", headers=custodian).json() == []
    assert len(client.get("/api/v1/notifications?open=false", headers=custodian).json()) == 1
    again = client.post(f"/api/v1/notifications/{note['id']}/done", headers=custodian, json={})
    assert again.json()["error"]["code"] == "notification_already_done"
    assert "notification.done" in [e.action for e in _entries(tagged)]
    officer = client.get("/api/v1/notifications", headers=_h(make_token(Role.officer)))
    assert officer.status_code == 403


@pytest.mark.parametrize("role", [Role.officer, Role.requester, Role.legal_reviewer])
def test_only_a_custodian_removes_tags(client: TestClient, tagged: str,
                                       make_token: Callable[..., str], role: Role) -> None:
    r = client.request("DELETE", f"/api/v1/evidence/{tagged}/tags/juvenile",
                       headers=_h(make_token(role)), json={"reason": "not a child after all"})
    assert r.status_code == 403
    body = client.get(f"/api/v1/evidence/{tagged}/tags",
                      headers=_h(make_token(Role.custodian))).json()
    assert "juvenile" in body["effective"]


def test_removal_needs_a_written_reason_and_keeps_history(
        client: TestClient, tagged: str, make_token: Callable[..., str]) -> None:
    custodian = _h(make_token(Role.custodian, username="cust-1"))
    url = f"/api/v1/evidence/{tagged}/tags/juvenile"
    for body in (None, {}, {"reason": "   "}, {"reason": "no"}):
        r = client.request("DELETE", url, headers=custodian, json=body)
        assert r.status_code == 422, body
        assert r.json()["error"]["code"] == "reason_required"
    r = client.request("DELETE", url, headers=custodian,
                       json={"reason": "subject is 19 per school records (ref 44-1)"})
    assert r.status_code == 200
    assert "juvenile" not in r.json()["effective"]
    removed = next(t for t in r.json()["tags"] if t["name"] == "juvenile")
    assert removed["removed_by"] == "cust-1"
    assert removed["removal_reason"] == "subject is 19 per school records (ref 44-1)"
    entry = [e for e in _entries(tagged) if e.action == "tag.remove"][-1]
    assert entry.actor == "cust-1"
    assert entry.reason.startswith("subject is 19")
    assert entry.details["name"] == "juvenile"
    missing = client.request("DELETE", url, headers=custodian, json={"reason": "again, twice"})
    assert missing.json()["error"]["code"] == "tag_not_found"


def test_custodian_adds_a_tag_and_open_requests_see_it(
        client: TestClient, tagged: str, make_token: Callable[..., str]) -> None:
    custodian = _h(make_token(Role.custodian))
    req = client.post("/api/v1/requests", headers=custodian, json={
        "description": "the detention on 2 March", "requester_name": "WKYT news desk",
        "requester_type": "news_media", "residency": "resident", "form": "copy",
        "evidence_ids": [tagged]}).json()
    r = client.post(f"/api/v1/evidence/{tagged}/tags", headers=custodian,
                    json={"name": "investigation_open", "reason": "case 26-0113 open"})
    assert r.status_code == 201
    assert r.json()["source"] == "custodian"
    assert r.json()["reason"] == "case 26-0113 open"
    bad = client.post(f"/api/v1/evidence/{tagged}/tags", headers=custodian,
                      json={"name": "children"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "unknown_tag"
    officer = client.post(f"/api/v1/evidence/{tagged}/tags",
                          headers=_h(make_token(Role.officer)), json={"name": "nudity"})
    assert officer.status_code == 403
    history = client.get(f"/api/v1/requests/{req['id']}/decisions", headers=custodian).json()
    assert len(history) == 2  # linked, then the one accepted tag change
    assert "investigation_open" in history[-1]["tags"]
    assert [e for e in _entries(tagged) if e.action == "tag.add"][-1].details["source"] == \
        "custodian"


def test_officer_sees_tags_of_own_uploads_only(client: TestClient, tagged: str,
                                               make_token: Callable[..., str]) -> None:
    own = client.get(f"/api/v1/evidence/{tagged}/tags",
                     headers=_h(make_token(Role.officer, username="officer-1")))
    assert own.status_code == 200
    other = client.get(f"/api/v1/evidence/{tagged}/tags",
                       headers=_h(make_token(Role.officer, username="officer-2")))
    assert other.status_code == 403
