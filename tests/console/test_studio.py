"""The redaction studio's server side: the page shows everyone counted with their faces
(opening it is logged), the players can seek (byte ranges, each fetch logged), the timeline
has faces and people per second, and a render queues exactly the checked choices and closes
the session in the log; refused choices come back with their code and nothing is queued."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bwc_custody.roles import Role
from tests.console.conftest import Browser
from tests.support.actors import LOCAL_OPERATOR
from tests.tags.conftest import DEV, make_clip

__all__ = ["make_clip"]
pytestmark = pytest.mark.slow
GROUP = DEV / "29_Students_Schoolkids_Students_Schoolkids_29_146.jpg"


def _actions(evidence_id: str) -> list[Any]:
    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return list(entries_for(session=session, target_id=evidence_id))


def _redactions() -> list[Any]:
    from bwc_custody.db import session_scope
    from bwc_custody.jobs.service import list_jobs

    with session_scope() as session:
        return list(list_jobs(session=session, kind="redaction"))


@pytest.fixture
def counted(client: TestClient, make_clip: Callable[..., Path],
            ingest_clip: Callable[..., str], make_token: Callable[..., str]) -> str:
    """A recording of three children, counted; a custodian cust-1 and counsel-1."""
    from bwc_custody.config import get_settings
    from bwc_custody.db import get_engine, session_scope
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.worker import run_now
    from bwc_custody.tags.analysis import request_analysis

    evidence_id = ingest_clip(make_clip([GROUP], per_image=2.0, size="640x360"))
    with session_scope() as session:
        job = request_analysis(session=session, evidence_id=evidence_id, actor=LOCAL_OPERATOR)
    assert run_now(job.id, engine=get_engine(), home=get_settings().home,
                   handlers=HANDLERS).state == "succeeded"
    make_token(Role.custodian, username="cust-1")
    make_token(Role.legal_reviewer, username="counsel-1")
    return evidence_id


def _opened(page: Any) -> str:
    return page.text.split('data-opened="', 1)[1].split('"', 1)[0]


def test_the_studio_shows_everyone_counted_and_logs_the_faces_shown(
        counted: str, browser: Callable[..., Browser]) -> None:
    me = browser("cust-1")
    page: Any = me.get(f"/console/evidence/{counted}/studio")
    assert page.status_code == 200
    assert page.text.count('class="person"') >= 3
    assert "Keep visible</label>" in page.text
    assert page.text.count('src="data:image/jpeg;base64,') >= 3
    assert "<script>" not in page.text
    assert 'src="/console/static/studio.js"' in page.text
    assert "script-src 'self';" in page.headers["content-security-policy"]
    log = {e.action: e for e in _actions(counted)}
    assert log["evidence.people_view"].reason == "console: the redaction studio"
    assert log["evidence.people_view"].details["thumbnails_shown"] >= 3
    assert log["studio.open"].actor == "cust-1"
    assert "/studio" in me.get(f"/console/evidence/{counted}").text  # linked from the page
    assert browser("counsel-1").get(f"/console/evidence/{counted}/studio").status_code == 403

    timeline: Any = me.get(f"/console/evidence/{counted}/studio/timeline").json()
    assert timeline["duration"] == pytest.approx(2.0, abs=0.1)
    assert max(s["faces"] for s in timeline["seconds"]) >= 3
    assert len(timeline["people"]) >= 3
    assert all(p["stretches"] for p in timeline["people"])


@pytest.mark.parametrize(("page", "reason"), [
    ("studio/original", "console: the redaction studio"),
    ("original?reason=checking+the+hallway", "checking the hallway")])
def test_the_players_seek_in_the_original_and_each_fetch_is_logged(
        counted: str, browser: Callable[..., Browser], page: str, reason: str) -> None:
    me = browser("cust-1")
    url = f"/console/evidence/{counted}/{page}"
    whole: Any = me.get(url)
    assert whole.status_code == 200
    assert whole.headers["accept-ranges"] == "bytes"
    part: Any = me.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    assert part.content == whole.content[100:200]
    tail: Any = me.get(url, headers={"Range": "bytes=-10"})
    assert tail.content == whole.content[-10:]
    past: Any = me.get(url, headers={"Range": f"bytes={len(whole.content) + 5}-"})
    assert past.status_code == 416
    streams = [e for e in _actions(counted) if e.action == "evidence.stream"]
    assert [e.details["range"] for e in streams] == ["all", "bytes=100-199", "bytes=-10"]
    assert {e.reason for e in streams} == {reason}


def test_render_queues_the_checked_choices_and_closes_the_session(
        counted: str, browser: Callable[..., Browser]) -> None:
    me = browser("cust-1")
    page: Any = me.get(f"/console/evidence/{counted}/studio")
    opened = _opened(page)
    person = page.text.split('data-person="', 1)[1].split('"', 1)[0]
    url = f"/console/evidence/{counted}/studio/render"

    for choices, code in (
            ({"keep_persons": ["999-1"]}, "unknown_person"),
            ({"regions": {"boxes": [{"start": 0, "end": 1, "box": [600, 10, 100, 50]}]}},
             "invalid_regions"),
            ({"regions": {"mute": [{"start": 1.5, "end": 1.0}]}}, "invalid_regions"),
            ({"keep": ["x"]}, "invalid_input")):
        r: Any = me.post(url, {"choices": json.dumps(choices), "opened": opened})
        assert r.status_code in (409, 422), r.text
        assert r.json()["error"]["code"] == code
    assert _redactions() == []
    # a session entry that is not this custodian's opening of this studio
    assert me.post(url, {"choices": "{}", "opened": "1"}).json()["error"]["code"] == (
        "invalid_input")

    choices = {"keep_persons": [person], "keep_reasons": {person: "the requester's child"},
               "regions": {"boxes": [{"start": 0.2, "end": 1.5, "box": [20, 20, 120, 80],
                                      "kind": "name_tag", "mode": "black",
                                      "reason": "a name on a badge"}],
                           "mute": [{"start": 0.5, "end": 0.9, "reason": "a student's name"}]}}
    r = me.post(url, {"choices": json.dumps(choices), "opened": opened})
    assert r.status_code == 200, r.text
    assert r.json()["next"].endswith("/studio?done=copy+queued")
    (job,) = _redactions()
    assert job.id == r.json()["job_id"]
    assert job.params["keep_persons"][0]["id"] == person
    assert job.params["keep_persons"][0]["chosen_by"] == "cust-1"
    assert job.params["regions"]["boxes"][0]["kind"] == "name_tag"
    session = [e for e in _actions(counted) if e.action == "studio.session"]
    assert len(session) == 1
    assert session[0].details | {"opened_at": None, "submitted_at": None} == {
        "opened_seq": int(opened), "opened_at": None, "submitted_at": None, "job_id": job.id,
        "kept_persons": [person], "boxes": 1, "followed": 0, "blackout": 0, "mute": 1}
