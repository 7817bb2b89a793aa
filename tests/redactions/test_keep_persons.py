"""A redaction request names people the person count found and manual regions: the chosen
child stays sharp, every other face and the boxed region are blurred, the manifest's
exemption log names who chose each thing, when and why; a request naming a region outside the
frame or the video, or a person no count found, is refused with its code and nothing is
queued."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bwc_custody.roles import Role
from tests.support.actors import LOCAL_OPERATOR
from tests.support.redaction_score import identities, identity_of, iou_xywh, score
from tests.tags.conftest import DEV, KID_C

pytestmark = pytest.mark.slow
GROUP = DEV / "29_Students_Schoolkids_Students_Schoolkids_29_146.jpg"  # three children
SCREEN = [16.0, 250.0, 150.0, 90.0]  # a corner of the picture, boxed as a "screen"


def _run(job_id: str) -> Any:
    from bwc_custody.config import get_settings
    from bwc_custody.db import get_engine
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.worker import run_now

    done = run_now(job_id, engine=get_engine(), home=get_settings().home, handlers=HANDLERS)
    assert done.state == "succeeded", (done.error_code, done.error_message)
    return done


def _analyze(evidence_id: str) -> int:
    from bwc_custody.db import session_scope
    from bwc_custody.tags import analysis

    with session_scope() as session:
        job = analysis.request_analysis(session=session, evidence_id=evidence_id,
                                        actor=LOCAL_OPERATOR)
    return int(_run(job.id).result["analysis_id"])


def _export(derivative_id: str, where: Path) -> tuple[Path, dict[str, Any]]:
    from bwc_custody.db import session_scope
    from bwc_custody.redactions.service import open_derivative
    from bwc_custody.vault.service import get_keyring, get_store

    parts = {}
    for part in ("video", "manifest"):
        with session_scope() as session:
            _row, _obj, reader = open_derivative(
                session=session, store=get_store(), keyring=get_keyring(),
                derivative_id=derivative_id, part=part,  # type: ignore[arg-type]
                actor=LOCAL_OPERATOR, reason="test scores it")
            parts[part] = b"".join(reader.iter_plaintext())
    video = where / "copy.mp4"
    video.write_bytes(parts["video"])
    return video, json.loads(parts["manifest"])


def _redaction_jobs() -> int:
    from bwc_custody.db import session_scope
    from bwc_custody.jobs.service import list_jobs

    with session_scope() as session:
        return len(list_jobs(session=session, kind="redaction"))


@pytest.fixture
def counted(sqlite_migrated: str, make_clip: Callable[..., Path],
            ingest_clip: Callable[..., str]) -> tuple[str, int, Path]:
    """Three children on one photo, 3 s at 640x360, ingested and counted."""
    clip = make_clip([GROUP], per_image=3.0, size="640x360")
    evidence_id = ingest_clip(clip, campus="Central High")
    return evidence_id, _analyze(evidence_id), clip


def test_the_kept_child_is_sharp_everyone_else_and_the_box_blurred(
        counted: tuple[str, int, Path], make_token: Callable[..., str], tmp_path: Path) -> None:
    from bwc_custody.app import create_app
    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope
    from bwc_custody.tags.people import read_document
    from bwc_custody.vault.service import get_keyring, get_store

    evidence_id, analysis_id, clip = counted
    truth = json.loads((clip.parent / "truth.json").read_text())
    api = TestClient(create_app())
    custodian = {"Authorization": f"Bearer {make_token(Role.custodian, username='cust-1')}"}
    people = api.get(f"/api/v1/evidence/{evidence_id}/people", headers=custodian).json()
    chosen = max(people["people"], key=lambda p: p["detections"])
    with session_scope() as session:
        doc = read_document(session=session, store=get_store(), keyring=get_keyring(),
                            evidence_id=evidence_id, analysis_id=analysis_id)
    ids = identities(truth)
    kid = {identity_of(t["obs"], truth, ids) for t in doc["tracks"]
           if t["id"] in chosen["track_ids"]}
    assert len(kid) == 1

    r = api.post(f"/api/v1/evidence/{evidence_id}/redactions", headers=custodian, json={
        "keep_persons": [chosen["id"]],
        "keep_reasons": {chosen["id"]: "the requester's own child (request 12)"},
        "regions": {"boxes": [{"start": 0.5, "end": 2.5, "box": SCREEN, "kind": "screen",
                               "reason": "KRS 61.878(1)(a): a student's record on screen",
                               "chosen_by": "someone else"}],
                    "mute": [{"start": 1.0, "end": 1.5, "label": "a name",
                              "reason": "a student's name"}]}})
    assert r.status_code == 202, r.text
    done = _run(r.json()["id"])
    video, manifest = _export(done.result["derivative_id"], tmp_path)

    s = score(clip, video, truth, kid, regions=[(0.5, 2.5, SCREEN)])
    assert s.kept_frames > 60
    assert s.kept_share >= 0.9, s  # sharp where the count followed the child
    assert s.recall >= 0.97, s.missed  # the other two children
    assert s.box_frames > 50
    assert s.box_blurred == s.box_frames
    # keeping one never unblurs another: every box kept sharp lies on the chosen child
    kept_rows = 0
    for row in manifest["frames"]:
        frame, faces = row[0], row[1]
        for face in (f for f in faces if f[7]):
            x0, y0, x1, y1 = face[1:5]
            near = max(zip(ids[frame], truth["frames"][frame], strict=True),
                       key=lambda p: iou_xywh([x0, y0, x1 - x0, y1 - y0], p[1]))
            assert near[0] in kid, (frame, face)
            kept_rows += 1
    assert kept_rows >= s.kept_sharp

    log = manifest["exemption_log"]
    assert log[0] == {"what": "kept_person", "person": chosen["id"],
                      "reason": "the requester's own child (request 12)",
                      "chosen_by": "cust-1", "chosen_at": log[0]["chosen_at"]}
    assert log[0]["chosen_at"].startswith("2027-03-10T")
    assert [(e["what"], e.get("kind"), e["reason"], e["chosen_by"]) for e in log[1:]] == [
        ("box", "screen", "KRS 61.878(1)(a): a student's record on screen", "cust-1"),
        ("mute", None, "a student's name", "cust-1")]
    assert manifest["keep_person"]["persons"][0]["track_ids"] == chosen["track_ids"]
    assert manifest["keep_person"]["kept_keyframe_faces"][chosen["id"]] > 10
    with session_scope() as session:
        queued = [e for e in entries_for(session=session, target_id=evidence_id)
                  if e.action == "redaction.queued"]
    assert queued[-1].details["params"]["keep_persons"][0]["id"] == chosen["id"]


@pytest.mark.parametrize(("body", "code"), [
    ({"regions": {"boxes": [{"start": 0, "end": 1, "box": [600, 300, 80, 80]}]}},
     "invalid_regions"),  # reaches outside the 640x360 frame
    ({"regions": {"boxes": [{"start": 2, "end": 1, "box": [10, 10, 80, 80]}]}},
     "invalid_regions"),  # ends before it starts
    ({"regions": {"mute": [{"start": 2, "end": 9}]}}, "invalid_regions"),  # after the video
    ({"regions": {"boxes": [{"start": 0, "end": 1, "box": [10, 10, 80, 80], "follow": True,
                             "keyframes": [{"t": 2.0, "box": [10, 10, 80, 80]}]}]}},
     "invalid_regions"),  # a correction outside the box's time
    ({"keep_persons": ["99-1"]}, "unknown_person"),
    ({"keep_persons": ["child-a"]}, "unknown_person"),
    ({"keep_persons": [], "keep_reasons": {"1-1": "why"}}, "invalid_redaction_request"),
])
def test_a_bad_request_is_refused_with_its_code_and_nothing_is_queued(
        counted: tuple[str, int, Path], make_token: Callable[..., str],
        body: dict[str, Any], code: str) -> None:
    from bwc_custody.app import create_app

    evidence_id, _, _ = counted
    api = TestClient(create_app())
    custodian = {"Authorization": f"Bearer {make_token(Role.custodian)}"}
    r = api.post(f"/api/v1/evidence/{evidence_id}/redactions", headers=custodian, json=body)
    assert r.status_code in (409, 422), r.text
    assert r.json()["error"]["code"] == code, r.text
    assert _redaction_jobs() == 0


def test_people_of_another_recording_or_of_a_count_without_faces_are_refused(
        counted: tuple[str, int, Path], make_clip: Callable[..., Path],
        ingest_clip: Callable[..., str]) -> None:
    from bwc_custody.db import session_scope
    from bwc_custody.errors import BwcError
    from bwc_custody.redactions.models import RedactionRequest
    from bwc_custody.redactions.service import request_redaction
    from bwc_custody.tags.models import AnalysisResult

    evidence_id, analysis_id, _ = counted
    other = ingest_clip(make_clip([KID_C], per_image=1.0))
    with session_scope() as session:  # a count made before faces were kept
        old = AnalysisResult(evidence_id=other, created_by="test", distinct_people=1,
                             unidentified_people=1, tracks=[{
                                 "id": 1, "person": 1, "first_frame": 0, "last_frame": 20,
                                 "detections": 4, "max_score": 0.9}],
                             frames_total=30, frames_analysed=5, seconds=1.0, version="old")
        session.add(old)
        session.flush()
        old_id = old.id
    for target, person, code in ((other, f"{analysis_id}-1", "unknown_person"),
                                 (other, f"{old_id}-1", "people_not_stored")):
        with pytest.raises(BwcError) as refused, session_scope() as session:
            request_redaction(session=session, evidence_id=target, actor=LOCAL_OPERATOR,
                              body=RedactionRequest(keep_persons=[person]))
        assert refused.value.code == code
    assert _redaction_jobs() == 0


def test_bwc_redactions_request_keeps_a_person_with_a_regions_file(
        counted: tuple[str, int, Path], tmp_path: Path) -> None:
    from bwc_custody.cli import app

    evidence_id, analysis_id, _ = counted
    regions = tmp_path / "r.json"
    regions.write_text(json.dumps({"boxes": [{"start": 0.2, "end": 1.0, "box": SCREEN,
                                              "kind": "plate", "reason": "a parent's car"}]}))
    person = f"{analysis_id}-1"
    out = CliRunner().invoke(app, ["redactions", "request", evidence_id, "--keep-person",
                                   person, "--keep-reason", f"{person}=the SRO",
                                   "--regions", str(regions)], catch_exceptions=False)
    assert out.exit_code == 0, out.stderr
    from bwc_custody.db import session_scope
    from bwc_custody.jobs.service import get_job

    with session_scope() as session:
        params = get_job(session=session, job_id=json.loads(out.stdout)["id"]).params
    assert params["keep_persons"][0]["id"] == person
    assert params["keep_persons"][0]["reason"] == "the SRO"
    assert params["regions"]["boxes"][0]["kind"] == "plate"
    from bwc_custody.auth.service import OS_PREFIX, os_account

    # who ran the command: the operating-system account (no --as)
    assert params["regions"]["boxes"][0]["chosen_by"] == OS_PREFIX + os_account()

    refused = CliRunner().invoke(app, ["redactions", "request", evidence_id, "--keep-person",
                                       "99-9"])
    assert refused.exit_code == 2
    assert json.loads(refused.stderr)["error"]["code"] == "unknown_person"
    assert _redaction_jobs() == 1
