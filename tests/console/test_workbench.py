"""The custodian's workbench: recordings found by every filter (API, CLI, console), picked
into a request, tagged and untagged with reasons, held for an investigation with the tag that
withholds them, and the district's notices marked as given; every refusal with its code and
nothing changed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bwc_custody.roles import Role
from tests.console.conftest import Browser


def _entries(target_id: str) -> list[Any]:
    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return list(entries_for(session=session, target_id=target_id))


def _log(action: str) -> list[Any]:
    from sqlmodel import col, select

    from bwc_custody.custody.models import CustodyEntry
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return list(session.exec(select(CustodyEntry).where(CustodyEntry.action == action)
                                 .order_by(col(CustodyEntry.seq))))


@pytest.fixture
def three(ingest_clip: Callable[..., str]) -> dict[str, str]:
    """Three recordings that differ in every field a custodian filters on."""
    return {
        "a": ingest_clip(campus="Central High", officer_id="off-1", case_number="26-001",
                         incident_type="fight", recorded_at="2026-11-02T10:00:00-05:00"),
        "b": ingest_clip(campus="East Middle", officer_id="off-2"),
        "c": ingest_clip(campus="Central High", officer_id="off-2", incident_type="arrest"),
    }


def _ids(client: TestClient, token: str, **query: Any) -> tuple[set[str], int]:
    r = client.get("/api/v1/evidence", params=query, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return {row["id"] for row in r.json()}, int(r.headers["X-Total-Count"])


def test_recordings_are_found_by_every_filter(
        client: TestClient, make_token: Callable[..., str], three: dict[str, str]) -> None:
    custodian = make_token(Role.custodian, username="cust-1")
    a, b, c = three["a"], three["b"], three["c"]
    assert _ids(client, custodian) == ({a, b, c}, 3)
    assert _ids(client, custodian, campus="central") == ({a, c}, 2)
    assert _ids(client, custodian, officer="off-2") == ({b, c}, 2)
    assert _ids(client, custodian, case_number="26-0") == ({a}, 1)
    assert _ids(client, custodian, incident_type="fight") == ({a}, 1)
    assert _ids(client, custodian, tag="arrest") == ({c}, 1)  # the officer's tag
    assert _ids(client, custodian, recorded_from="2026-11-02", recorded_to="2026-11-02") \
        == ({a}, 1)
    assert _ids(client, custodian, received_to="2020-01-01") == (set(), 0)
    assert _ids(client, custodian, q=a[:8]) == ({a}, 1)
    assert _ids(client, custodian, q="100%_") == (set(), 0)  # wildcards taken literally
    page, total = _ids(client, custodian, limit=1, offset=1)
    assert (len(page), total) == (1, 3)

    auth = {"Authorization": f"Bearer {custodian}"}
    r = client.post("/api/v1/requests", headers=auth, json={
        "description": "the east middle video", "requester_name": "R. Doe",
        "requester_type": "public", "form": "copy", "evidence_ids": [b]})
    assert r.status_code == 201, r.text
    r = client.post(f"/api/v1/evidence/{a}/holds", headers=auth, json={
        "kind": "litigation", "reason": "preservation letter received"})
    assert r.status_code == 201, r.text
    assert _ids(client, custodian, open_request="true") == ({b}, 1)
    assert _ids(client, custodian, open_request="false") == ({a, c}, 2)
    assert _ids(client, custodian, retention="held") == ({a}, 1)
    rows = {row["id"]: row for row in client.get("/api/v1/evidence", headers=auth).json()}
    assert rows[c]["tags"] == ["arrest", "school_campus"]  # from the officer's metadata
    assert rows[b]["open_requests"]
    assert rows[a]["retention"] == "held"

    for bad in ({"tag": "purple"}, {"received_from": "2026-12-02", "received_to": "2026-12-01"},
                {"recorded_from": "yesterday"}, {"retention": "forever"}, {"limit": "0"},
                {"colour": "red"}):
        r = client.get("/api/v1/evidence", params=bad, headers=auth)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_input"), bad

    officer = make_token(Role.officer, username="off-2")
    mine = client.get("/api/v1/evidence", headers={"Authorization": f"Bearer {officer}"}).json()
    assert {row["id"] for row in mine} == {b, c}  # their own uploads, metadata alone
    assert all(row["tags"] is None and row["open_requests"] is None for row in mine)


def test_bwc_evidence_list(sqlite_migrated: str, three: dict[str, str]) -> None:
    from bwc_custody.cli import app

    result = CliRunner().invoke(app, ["evidence", "list", "--campus", "Central",
                                      "--tag", "arrest"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["total"], [r["id"] for r in out["rows"]]) == (1, [three["c"]])
    result = CliRunner().invoke(app, ["evidence", "list", "--since", "2026-13-01"])
    assert result.exit_code == 2
    assert json.loads(result.stderr)["error"]["code"] == "invalid_input"


def _jpeg() -> bytes:
    image = np.zeros((90, 160, 3), np.uint8)
    cv2.rectangle(image, (20, 20), (140, 70), (40, 160, 220), -1)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def test_the_list_page_filters_shows_posters_logged_once_and_links_picks(
        client: TestClient, make_token: Callable[..., str], browser: Callable[..., Browser],
        three: dict[str, str]) -> None:
    from bwc_custody.db import session_scope
    from bwc_custody.evidence.service import store_poster
    from bwc_custody.vault.service import get_keyring, get_store
    from tests.support.actors import LOCAL_OPERATOR

    token = make_token(Role.custodian, username="cust-1")
    make_token(Role.auditor, username="audit-1")
    custodian, auditor = browser("cust-1"), browser("audit-1")
    a, b, c = three["a"], three["b"], three["c"]
    with session_scope() as session:
        for evidence_id in (a, c):
            store_poster(session=session, store=get_store(), keyring=get_keyring(),
                         evidence_id=evidence_id, jpeg=_jpeg(), at_seconds=1.0,
                         faces_blurred=0, actor=LOCAL_OPERATOR)

    page: Any = auditor.get("/console/evidence", params={"campus": "central"})
    assert page.status_code == 200
    assert f'href="/console/evidence/{a}"' in page.text
    assert f'href="/console/evidence/{b}"' not in page.text
    assert page.text.count("data:image/jpeg;base64,") == 2
    views = _log("evidence.posters_view")
    assert [(v.actor, sorted(v.details["evidence_ids"])) for v in views] \
        == [("audit-1", sorted([a, c]))]  # one entry for the page's posters
    part: Any = auditor.get("/console/evidence", params={"tag": "arrest"},
                            headers={"HX-Request": "true"})
    assert "<html" not in part.text  # the results alone, for htmx to swap in
    assert f'href="/console/evidence/{c}"' in part.text
    bad: Any = auditor.get("/console/evidence", params={"received_from": "2026-02-30"})
    assert bad.status_code == 422
    assert "invalid_input" in bad.text
    assert 'value="2026-02-30"' in bad.text  # the filters stay as typed

    r: Any = custodian.post("/console/requests", {
        "description": "the Central High videos", "requester_name": "R. Doe",
        "requester_type": "public", "form": "copy"})
    url = r.headers["location"].split("?")[0]
    request_id = url.rsplit("/", 1)[-1]
    assert f"/console/evidence?for_request={request_id}" in custodian.get(url).text
    picking: Any = custodian.get("/console/evidence", params={"for_request": request_id,
                                                              "campus": "central"})
    assert f'action="/console/requests/{request_id}/link"' in picking.text
    assert f'value="{a}"' in picking.text
    assert auditor.get("/console/evidence", params={"for_request": request_id}
                       ).text.count('name="pick"') == 0  # only a custodian links
    empty: Any = custodian.post(f"{url}/link", {})
    assert (empty.status_code, "invalid_input" in empty.text) == (422, True)
    r = custodian.post(f"{url}/link", {"pick": [a, c]})  # type: ignore[dict-item]
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?done=linked")
    view = client.get(f"/api/v1/requests/{request_id}",
                      headers={"Authorization": f"Bearer {token}"}).json()
    assert [x["evidence_id"] for x in view["recordings"]] == [a, c]


def test_tags_and_an_investigation_hold_from_the_recording_page(
        client: TestClient, make_token: Callable[..., str], browser: Callable[..., Browser],
        ingest_clip: Callable[..., str]) -> None:
    token = make_token(Role.custodian, username="cust-1")
    make_token(Role.legal_reviewer, username="counsel-1")
    custodian, counsel = browser("cust-1"), browser("counsel-1")
    auth = {"Authorization": f"Bearer {token}"}
    evidence_id = ingest_clip(campus="Central High")
    r: Any = client.post("/api/v1/requests", headers=auth, json={
        "description": "the hallway video", "requester_name": "A reporter",
        "requester_type": "news_media", "form": "copy", "residency": "resident",
        "evidence_ids": [evidence_id]})
    request_id = r.json()["id"]

    def effect() -> str:
        view = client.get(f"/api/v1/requests/{request_id}", headers=auth).json()
        return str(view["recordings"][0]["decision"]["effect"])

    before = effect()
    url = f"/console/evidence/{evidence_id}"
    page: Any = custodian.get(url)
    assert f'action="{url}/tags"' in page.text
    assert f'action="{url}/tags"' not in counsel.get(url).text
    assert counsel.post(f"{url}/tags", {"name": "juvenile", "reason": "a child is shown"}
                        ).status_code == 403
    unknown: Any = custodian.post(f"{url}/tags", {"name": "purple", "reason": "no such tag"})
    assert (unknown.status_code, "unknown_tag" in unknown.text) == (422, True)

    # the hold: an investigation hold with the box ticked also withholds the recording
    wrong: Any = custodian.post(f"{url}/holds", {
        "kind": "litigation", "reason": "preservation letter", "tag_investigation_open": "yes"})
    assert (wrong.status_code, "invalid_input" in wrong.text) == (422, True)
    refused: Any = counsel.post(f"{url}/holds", {
        "kind": "investigation", "reason": "detective asked", "tag_investigation_open": "yes"})
    assert refused.status_code == 403
    assert not [e for e in _entries(evidence_id) if e.action == "retention.hold"]
    r = custodian.post(f"{url}/holds", {"kind": "investigation", "reference": "26-4410",
                                        "reason": "the detective's memo of 1 December",
                                        "tag_investigation_open": "yes"})
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?done=held")
    assert effect() == "deny_during_investigation" != before
    tags = client.get(f"/api/v1/evidence/{evidence_id}/tags", headers=auth).json()
    assert "investigation_open" in tags["effective"]
    actions = [e.action for e in _entries(evidence_id)]
    assert actions.index("retention.hold") < len(actions) - 1 - actions[::-1].index("tag.add")

    short: Any = custodian.post(f"{url}/tags/remove", {"name": "investigation_open",
                                                       "reason": "done"})
    assert (short.status_code, "reason_required" in short.text) == (422, True)
    assert effect() == "deny_during_investigation"  # the refusal changed nothing
    r = custodian.post(f"{url}/tags/remove", {"name": "investigation_open",
                                              "reason": "the prosecutor closed the file"})
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?done=untagged")
    assert effect() == before
    page = custodian.get(url)
    assert "the prosecutor closed the file" in page.text  # the removal, with its reason
    assert "investigation hold" in page.text  # the tag's reason names the hold


def test_notifications_are_listed_and_marked_given(
        client: TestClient, make_token: Callable[..., str], browser: Callable[..., Browser],
        ingest_clip: Callable[..., str]) -> None:
    make_token(Role.custodian, username="cust-1")
    make_token(Role.legal_reviewer, username="counsel-1")
    custodian = browser("cust-1")
    evidence_id = ingest_clip(campus="Central High", incident_type="arrest")
    assert browser("counsel-1").get("/console/notifications").status_code == 403
    page: Any = custodian.get("/console/notifications")
    assert f'href="/console/evidence/{evidence_id}"' in page.text
    from bwc_custody.db import session_scope
    from bwc_custody.tags.service import list_notifications

    with session_scope() as session:
        [owed] = list_notifications(session=session)
    done = f"/console/notifications/{owed.id}/done"
    assert f'action="{done}"' in page.text
    r: Any = custodian.post(done, {"note": "called Principal Ames, 2:10 pm"})
    assert (r.status_code, r.headers["location"]) == (303,
                                                      "/console/notifications?done=notice+given")
    assert "No notice is owed" in custodian.get("/console/notifications").text
    assert "called Principal Ames" in custodian.get("/console/notifications?show=all").text
    again: Any = custodian.post(done, {"note": "twice"})
    assert (again.status_code, "notification_already_done" in again.text) == (409, True)
    missing: Any = custodian.post("/console/notifications/999999/done", {"note": "x"})
    assert (missing.status_code, "notification_not_found" in missing.text) == (404, True)
