"""Analysis jobs on ingested footage (vault loopback), auto tags, and the CLI JSON shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bwc_custody.cli import app
from tests.support.actors import LOCAL_OPERATOR
from tests.tags.conftest import ADULT_IN_CLIP, ADULT_REF, KID_A, KID_B, KID_C

pytestmark = pytest.mark.slow


def _bwc(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    text = result.stdout if result.exit_code == 0 else (result.stderr or result.stdout)
    try:
        return result.exit_code, json.loads(text)
    except json.JSONDecodeError:
        return result.exit_code, text


def _analyze(evidence_id: str) -> tuple[Any, frozenset[str], list[Any]]:
    from bwc_custody.config import get_settings
    from bwc_custody.db import get_engine, session_scope
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.worker import run_now
    from bwc_custody.tags import analysis, service

    with session_scope() as session:
        job = analysis.request_analysis(session=session, evidence_id=evidence_id,
                                        actor=LOCAL_OPERATOR)
    done = run_now(job.id, engine=get_engine(), home=get_settings().home, handlers=HANDLERS)
    assert done.state == "succeeded", (done.error_code, done.error_message)
    with session_scope() as session:
        row = analysis.latest_analysis(session=session, evidence_id=evidence_id)
        assert done.result["analysis_id"] == row.id
        tags = service.list_tags(session=session, evidence_id=evidence_id)
        return row, service.effective_tags(session=session, evidence_id=evidence_id), tags


def test_no_faces_on_campus_is_not_auto_cleared(sqlite_migrated: str,
                                                make_clip: Callable[..., Path],
                                                ingest_clip: Callable[..., str]) -> None:
    evidence_id = ingest_clip(make_clip([None], per_image=2.0), campus="Central High",
                              involves_juvenile=True)
    row, effective, tags = _analyze(evidence_id)
    assert row.distinct_people == 0
    assert "juvenile" in effective  # the officer's word stands; no faces proves nothing
    assert {(t.name, t.source) for t in tags if t.removed_at is None} == {
        ("school_campus", "officer"), ("juvenile", "officer"), ("school_campus", "auto")}
    auto_campus = next(t for t in tags if t.name == "school_campus" and t.source == "auto")
    assert auto_campus.evidence["basis"] == "evidence campus metadata: Central High"


def test_two_students_on_campus_are_multi_student_with_evidence(
        sqlite_migrated: str, make_clip: Callable[..., Path],
        ingest_clip: Callable[..., str]) -> None:
    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope
    from bwc_custody.requests import service as requests
    from bwc_custody.requests.models import RequestCreate
    from bwc_custody.requests.service import NOT_ANALYSED
    from tests.support.actors import TEST_CUSTODIAN

    evidence_id = ingest_clip(make_clip([KID_A, KID_B], per_image=1.5), campus="Central High")
    with session_scope() as session:  # a parent asks before the analysis has run
        request, _ = requests.create_request(session=session, actor=TEST_CUSTODIAN, body=(
            RequestCreate(description="the hallway video", requester_name="R. Doe",
                          requester_type="parent_guardian", parent_of_depicted=True,
                          residency="resident", form="copy", evidence_ids=[evidence_id])))
        request_id = request.id
        requests.confirm_relationship(session=session, request_id=request_id,
                                      note="birth certificate seen", actor=TEST_CUSTODIAN)
    row, effective, tags = _analyze(evidence_id)
    assert row.distinct_people == 2
    with session_scope() as session:  # the worker's tags decided the request again
        made = requests.decisions(session=session, request_id=request_id)
    assert [(d.trigger, d.effect) for d in made] == [
        ("evidence_linked", "release"), ("relationship_confirmed", "release"),
        ("tags_changed", "view_only")]
    assert [NOT_ANALYSED in d.decision["warnings"] for d in made] == [True, True, False]
    assert {"juvenile", "multi_student", "school_campus"} <= effective
    multi = next(t for t in tags if t.name == "multi_student")
    assert multi.source == "auto"
    assert 0.5 <= (multi.confidence or 0) <= 1
    assert multi.evidence["analysis_id"] == row.id
    assert set(multi.evidence["track_ids"]) == {t["id"] for t in row.tracks}
    assert all(f[0] <= f[1] for f in multi.evidence["frames"])
    with session_scope() as session:
        actions = [e.action for e in entries_for(session=session, target_id=evidence_id)]
    assert "analysis.run" in actions
    assert actions.count("tag.add") >= 3
    # A custodian's removal with a reason is not undone by re-running the analysis.
    from bwc_custody.auth.service import Principal
    from bwc_custody.flows import tagging
    from bwc_custody.roles import Role

    custodian = Principal(user_id=None, username="cust", roles=frozenset({Role.custodian}))
    with session_scope() as session:
        tagging.remove_tag(session=session, evidence_id=evidence_id, name="multi_student",
                           actor=custodian,
                           reason="reviewed: the second face is a reflection in a window")
    _, effective, _ = _analyze(evidence_id)
    assert "multi_student" not in effective
    assert "juvenile" in effective


def test_known_adult_enrolled_plus_one_student(sqlite_migrated: str,
                                               make_clip: Callable[..., Path],
                                               ingest_clip: Callable[..., str]) -> None:
    from bwc_custody.db import session_scope
    from bwc_custody.tags import service
    from bwc_custody.vault.service import get_keyring

    with session_scope() as session:
        service.enrol_known_adult(session=session, keyring=get_keyring(), name="SRO B.",
                                  photos=[ADULT_REF.read_bytes()], consent="signed form 7",
                                  actor=LOCAL_OPERATOR)
    evidence_id = ingest_clip(make_clip([ADULT_IN_CLIP, KID_C], per_image=1.5),
                              campus="Central High")
    row, effective, _ = _analyze(evidence_id)
    assert row.distinct_people == 2
    assert row.known_adults == ["SRO B."]
    assert "juvenile" in effective
    assert "multi_student" not in effective


def test_cli_analyze_file_and_tags_json(sqlite_migrated: str, make_clip: Callable[..., Path],
                                        ingest_clip: Callable[..., str]) -> None:
    clip = make_clip([KID_A, KID_B], per_image=1.5)
    code, out = _bwc("analyze", str(clip), "--campus")
    assert code == 0, out
    assert isinstance(out["distinct_people"], int)
    assert out["distinct_people"] == 2
    assert out["tracks"]
    assert all(
        {"id", "person", "first_frame", "last_frame"} <= set(t) for t in out["tracks"])
    assert {t["name"] for t in out["tags"]} == {"school_campus", "juvenile", "multi_student"}
    campus = next(t for t in out["tags"] if t["name"] == "school_campus")
    assert campus["evidence"]["basis"] == "--campus given for this file"
    assert out["analysis_fps"] > 0
    assert out["frames_analysed"] > 0

    evidence_id = ingest_clip(clip, campus="Central High", incident_type="arrest")
    code, out = _bwc("analyze", evidence_id)
    assert code == 0, out
    assert out["distinct_people"] == 2
    assert out["analysis_id"]
    assert datetime.fromisoformat(out["created_at"]).utcoffset() == timedelta(0)
    code, out = _bwc("tags", "show", evidence_id)
    assert code == 0
    assert out["effective"] == ["arrest", "juvenile", "multi_student", "school_campus"]
    assert {(t["name"], t["source"]) for t in out["tags"]} >= {
        ("arrest", "officer"), ("multi_student", "auto")}
    code, out = _bwc("tags", "show", "no-such-evidence")
    assert code == 2
    assert out["error"]["code"] == "evidence_not_found"


def test_a_recount_retracts_the_auto_tags_it_no_longer_supports(
        sqlite_migrated: str, make_clip: Callable[..., Path],
        ingest_clip: Callable[..., str]) -> None:
    """Two unidentified people -> multi_student; the SRO enrolled and counted again -> one
    student: the automatic multi_student tag is retracted (both counts logged) and the open
    request decided again; the officer's own tags stay. Enrolment withdrawn -> it comes back
    (a retraction by the machine does not bind later counts, unlike a custodian's removal)."""
    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope
    from bwc_custody.requests import service as requests
    from bwc_custody.requests.models import RequestCreate
    from bwc_custody.tags import service
    from bwc_custody.vault.service import get_keyring
    from tests.support.actors import TEST_CUSTODIAN

    evidence_id = ingest_clip(make_clip([ADULT_IN_CLIP, KID_C], per_image=1.5),
                              campus="Central High", involves_juvenile=True)
    first, effective, _ = _analyze(evidence_id)
    assert first.unidentified_people == 2
    assert "multi_student" in effective
    with session_scope() as session:
        request, _ = requests.create_request(session=session, actor=TEST_CUSTODIAN,
                                          body=RequestCreate(
                                              description="the hallway video",
                                              requester_name="a parent",
                                              requester_type="parent_guardian", form="copy",
                                              evidence_ids=[evidence_id]))
        request_id = request.id
        adult = service.enrol_known_adult(session=session, keyring=get_keyring(),
                                          name="SRO B.", photos=[ADULT_REF.read_bytes()],
                                          consent="signed form 7", actor=LOCAL_OPERATOR)
        adult_id = adult.id
        assert adult_id is not None
    second, effective, tags = _analyze(evidence_id)
    assert (second.unidentified_people, second.known_adults) == (1, ["SRO B."])
    assert "multi_student" not in effective
    assert {"juvenile", "school_campus"} <= effective  # the officer's tags and the campus stay
    retracted = next(t for t in tags if t.name == "multi_student" and t.source == "auto")
    assert retracted.retracted_by_analysis == second.id
    assert retracted.removal_reason is not None
    assert f"count {first.id} found 2" in retracted.removal_reason
    with session_scope() as session:
        entry = next(e for e in entries_for(session=session, target_id=evidence_id)
                     if e.action == "tag.retract")
        assert entry.details["names"] == ["multi_student"]
        assert entry.details["before"]["unidentified_people"] == 2
        assert entry.details["now"]["unidentified_people"] == 1
        decisions = requests.decisions(session=session, request_id=request_id)
        assert decisions[-1].trigger == "tags_changed"
        assert "multi_student" not in decisions[-1].tags
        service.remove_known_adult(session=session, adult_id=adult_id,
                                   reason="consent withdrawn", actor=LOCAL_OPERATOR)
    third, effective, _ = _analyze(evidence_id)
    assert third.unidentified_people == 2
    assert "multi_student" in effective  # supported again, so put back


def test_the_first_count_makes_a_poster_with_every_face_blurred(
        sqlite_migrated: str, make_clip: Callable[..., Path],
        ingest_clip: Callable[..., str]) -> None:
    """The list's poster: one frame of the recording, stored encrypted, in which the detector
    finds no face although the same frame of the original shows them; made once."""
    import cv2
    import numpy as np

    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope
    from bwc_custody.evidence.service import has_poster, read_posters
    from bwc_custody.vault.service import get_keyring, get_store
    from redaction.detect import make_detector
    from redaction.poster import grab_frame, poster_time

    clip = make_clip([KID_A, KID_B], per_image=1.5)
    evidence_id = ingest_clip(clip, campus="Central High")
    _analyze(evidence_id)
    with session_scope() as session:
        assert has_poster(session=session, evidence_id=evidence_id)
        jpeg = read_posters(session=session, store=get_store(), keyring=get_keyring(),
                            evidence_ids=[evidence_id], actor=LOCAL_OPERATOR,
                            shown_on="test")[evidence_id]
        made = [e for e in entries_for(session=session, target_id=evidence_id)
                if e.action == "evidence.poster"]
        assert len(made) == 1
        assert made[0].details["faces_blurred"] >= 1
    poster = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR),
                          cv2.COLOR_BGR2RGB)
    original = grab_frame(str(clip), poster_time(3.0))
    detector = make_detector("centerface", threshold=0.3)
    assert detector(original), "the original frame shows a face"
    scaled = cv2.resize(original, (poster.shape[1], poster.shape[0]),
                        interpolation=cv2.INTER_AREA)
    assert detector(scaled), "the face is still findable at the poster's size"
    assert detector(poster) == []  # ...but not on the poster
    _analyze(evidence_id)  # a second count makes no second poster
    with session_scope() as session:
        assert [e.action for e in entries_for(session=session, target_id=evidence_id)
                ].count("evidence.poster") == 1
