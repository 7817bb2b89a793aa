"""The people of a recording: everyone its person count found, each with a few face thumbnails
cropped from the original, stored encrypted and shown only to a custodian, every showing
logged; their boxes lie on the faces of the displayed frame."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bwc_custody.roles import Role
from tests.support.actors import LOCAL_OPERATOR
from tests.tags.conftest import DEV, KID_C

pytestmark = pytest.mark.slow
GROUP = DEV / "29_Students_Schoolkids_Students_Schoolkids_29_146.jpg"  # three children


def _analyze(evidence_id: str) -> int:
    from bwc_custody.config import get_settings
    from bwc_custody.db import get_engine, session_scope
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.worker import run_now
    from bwc_custody.tags import analysis

    with session_scope() as session:
        job = analysis.request_analysis(session=session, evidence_id=evidence_id,
                                        actor=LOCAL_OPERATOR)
    done = run_now(job.id, engine=get_engine(), home=get_settings().home, handlers=HANDLERS)
    assert done.state == "succeeded", (done.error_code, done.error_message)
    return int(done.result["analysis_id"])


def _iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _entries(evidence_id: str, action: str) -> list[Any]:
    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return [e for e in entries_for(session=session, target_id=evidence_id)
                if e.action == action]


def test_people_with_thumbnails_for_the_custodian_only_each_view_logged(
        sqlite_migrated: str, bwc_home: Path, make_clip: Callable[..., Path],
        ingest_clip: Callable[..., str], make_token: Callable[..., str]) -> None:
    from bwc_custody.app import create_app
    from bwc_custody.db import session_scope
    from bwc_custody.tags.analysis import latest_analysis

    clip = make_clip([GROUP, KID_C], per_image=2.0, size="640x360")
    evidence_id = ingest_clip(clip, campus="Central High")
    analysis_id = _analyze(evidence_id)
    api = TestClient(create_app())
    custodian = {"Authorization": f"Bearer {make_token(Role.custodian)}"}
    url = f"/api/v1/evidence/{evidence_id}/people"

    listed = api.get(url, headers=custodian)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    with session_scope() as session:
        row = latest_analysis(session=session, evidence_id=evidence_id)
    assert body["analysis_id"] == analysis_id
    assert body["faces_stored"] is True
    assert (body["width"], body["height"]) == (640, 360)
    people = body["people"]
    assert len(people) == row.distinct_people >= 4  # three children, then one more
    assert sorted(t for p in people for t in p["track_ids"]) == sorted(
        t["id"] for t in row.tracks)
    for p in people:
        assert p["id"] == f"{analysis_id}-{p['number']}"
        assert 0 <= p["first_s"] <= p["last_s"] <= 4.0
        assert p["enrolled_adult"] is None
        assert p["thumbnails"], p  # every counted person can be told by a face
        assert all(t["jpeg_base64"] is None for t in p["thumbnails"])
    # numbered in the order they appear
    assert [p["first_s"] for p in people] == sorted(p["first_s"] for p in people)

    shown = api.get(url, params={"thumbnails": "true"}, headers=custodian).json()
    faces = [t for p in shown["people"] for t in p["thumbnails"]]
    for t in faces:
        img = cv2.imdecode(np.frombuffer(base64.b64decode(t["jpeg_base64"]), np.uint8),
                           cv2.IMREAD_COLOR)
        assert img is not None
        assert max(img.shape[:2]) <= 96
    views = _entries(evidence_id, "evidence.people_view")
    assert [v.details["thumbnails_shown"] for v in views] == [0, len(faces)]
    stored = _entries(evidence_id, "analysis.faces")
    assert len(stored) == 1
    assert stored[0].details["analysis_id"] == analysis_id

    for role in (Role.legal_reviewer, Role.auditor, Role.officer):
        other = {"Authorization": f"Bearer {make_token(role)}"}
        assert api.get(url, headers=other).status_code == 403, role

    # the faces are stored encrypted, under the recording's id (destroyed with it)
    from bwc_custody.evidence.service import get_or_raise
    from bwc_custody.retention.service import objects_of
    from bwc_custody.tags.people import people_key

    with session_scope() as session:
        keys = [o.key for o in objects_of(session=session, evidence=get_or_raise(
            session=session, evidence_id=evidence_id))]
    assert people_key(evidence_id, analysis_id) in keys
    raw = b"".join(p.read_bytes() for p in (bwc_home / "objects").rglob("*") if p.is_file()
                   and "people" in str(p))
    assert raw
    assert b"bwc-people" not in raw
    assert faces[0]["jpeg_base64"][:64].encode() not in raw  # no face in the clear


def test_boxes_lie_on_the_faces_of_the_displayed_frame(
        sqlite_migrated: str, make_clip: Callable[..., Path],
        ingest_clip: Callable[..., str]) -> None:
    from bwc_custody.db import session_scope
    from bwc_custody.tags.people import read_document
    from bwc_custody.vault.service import get_keyring, get_store

    clip = make_clip([GROUP], per_image=2.0, size="640x360")
    truth = json.loads((clip.parent / "truth.json").read_text())
    evidence_id = ingest_clip(clip)
    analysis_id = _analyze(evidence_id)
    with session_scope() as session:
        doc = read_document(session=session, store=get_store(), keyring=get_keyring(),
                            evidence_id=evidence_id, analysis_id=analysis_id)
    counted = [t for t in doc["tracks"] if t["person"] is not None]
    on_faces = []
    for t in counted:
        hits = [max((_iou(o[1:5], [x, y, x + w, y + h]) for x, y, w, h in
                     truth["frames"][o[0]]), default=0.0) > 0.3 for o in t["obs"]]
        on_faces.append(sum(hits) >= 0.95 * len(hits))
    # the photo's three labelled children, each followed on their face (the count may also
    # find a small face the labels leave out)
    assert sum(on_faces) >= 3, on_faces


def test_bwc_people_prints_json_and_writes_thumbnails(
        sqlite_migrated: str, make_clip: Callable[..., Path], ingest_clip: Callable[..., str],
        tmp_path: Path) -> None:
    from bwc_custody.cli import app

    evidence_id = ingest_clip(make_clip([GROUP, KID_C], per_image=2.0, size="640x360"))
    never = ingest_clip(make_clip([KID_C], per_image=1.0))
    analysis_id = _analyze(evidence_id)
    out = CliRunner().invoke(app, ["people", evidence_id[:8]], catch_exceptions=False)
    assert out.exit_code == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["analysis_id"] == analysis_id
    assert {p["id"] for p in body["people"]} == {
        f"{analysis_id}-{n}" for n in range(1, len(body["people"]) + 1)}
    assert {"first_s", "last_s", "track_ids", "enrolled_adult"} <= set(body["people"][0])

    out = CliRunner().invoke(app, ["people", evidence_id, "--thumbnails",
                                   str(tmp_path / "faces")], catch_exceptions=False)
    assert out.exit_code == 0, out.stderr
    written = sorted((tmp_path / "faces").glob("*.jpg"))
    assert len(written) == sum(len(p["thumbnails"]) for p in json.loads(out.stdout)["people"])
    assert written[0].name.startswith(f"{analysis_id}-")
    logged = _entries(evidence_id, "evidence.people_view")[-1]
    assert logged.details["thumbnails_shown"] == len(written)
    assert str(tmp_path / "faces") in logged.reason

    refused = CliRunner().invoke(app, ["people", never])
    assert refused.exit_code == 2
    assert json.loads(refused.stderr)["error"]["code"] == "analysis_not_found"
