"""Redaction of evidence through the queue: request over the API, a worker makes the
derivative from the encrypted original, stores it encrypted, and every step is logged;
bad footage fails its job with a stable code and the worker lives on; a worker killed
mid-job publishes nothing and its job is re-run once the lease expires."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col, select

from bwc_custody.roles import Role
from tests.support.records import entries_about, job_now
from tests.tags.conftest import KID_A, KID_B

pytestmark = pytest.mark.slow


def _drain(home: Path) -> int:
    from bwc_custody.db import get_engine
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.worker import run_worker

    return run_worker(engine=get_engine(), home=home, handlers=HANDLERS, lease_seconds=30,
                      drain=True)


def _objects(kind: str) -> list[Any]:
    from bwc_custody.db import session_scope
    from bwc_custody.vault.models import StoredObject

    with session_scope() as session:
        return list(session.exec(select(StoredObject).where(StoredObject.kind == kind)).all())


@pytest.fixture
def api() -> TestClient:
    """The API (each test names its database fixture before this one)."""
    from bwc_custody.app import create_app

    return TestClient(create_app())


def test_redaction_job_makes_an_encrypted_logged_derivative(
        migrated: str, bwc_home: Path, api: TestClient, make_token: Callable[..., str],
        make_clip: Callable[..., Path], ingest_clip: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bwc_custody.config import get_settings

    # the agency pins the detector's runtime (default "auto": bfloat16 where the CPU has it)
    monkeypatch.setenv("BWC_DETECT_BACKEND", "onnxruntime")
    get_settings.cache_clear()
    clip = make_clip([KID_A, KID_B], per_image=1.0)
    evidence_id = ingest_clip(clip, campus="Central High")
    custodian = {"Authorization": f"Bearer {make_token(Role.custodian)}"}
    reviewer = {"Authorization": f"Bearer {make_token(Role.legal_reviewer)}"}
    officer = {"Authorization": f"Bearer {make_token(Role.officer, username='officer-1')}"}

    body = {"regions": {"mute": [{"start": 0.2, "end": 0.6, "label": "a name"}]}}
    assert api.post(f"/api/v1/evidence/{evidence_id}/redactions", json=body,
                    headers=officer).status_code == 403
    r = api.post(f"/api/v1/evidence/{evidence_id}/redactions", json=body, headers=custodian)
    assert r.status_code == 202, r.json()
    job_id = r.json()["id"]
    assert r.json()["state"] == "queued"

    assert _drain(bwc_home) == 1
    job = api.get(f"/api/v1/jobs/{job_id}", headers=reviewer).json()
    assert job["state"] == "succeeded", job
    assert job["progress"] == 1.0
    derivative_id = job["result"]["derivative_id"]

    listed = api.get(f"/api/v1/evidence/{evidence_id}/derivatives", headers=reviewer).json()
    assert [d["id"] for d in listed] == [derivative_id]
    d = listed[0]
    assert d["source_sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert d["boxes"] > 0
    assert d["frames"] > 0

    assert api.get(f"/api/v1/derivatives/{derivative_id}/content",
                   params={"reason": "review"}, headers=officer).status_code == 403
    video = api.get(f"/api/v1/derivatives/{derivative_id}/content",
                    params={"reason": "legal review"}, headers=reviewer)
    assert video.status_code == 200
    assert hashlib.sha256(video.content).hexdigest() == d["sha256"]
    assert video.headers["x-content-sha256"] == d["sha256"]
    assert video.content[4:8] == b"ftyp"  # an MP4 a browser plays
    # a player seeks: one byte range (206), the original's too; each fetch says which bytes
    for url in (f"/api/v1/derivatives/{derivative_id}/content",
                f"/api/v1/evidence/{evidence_id}/content"):
        whole = video if "derivatives" in url else api.get(
            url, params={"reason": "legal review"}, headers=reviewer)
        part = api.get(url, params={"reason": "legal review"},
                       headers={**reviewer, "Range": "bytes=1000-1999"})
        assert part.status_code == 206, url
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(whole.content)}"
        assert part.content == whole.content[1000:2000]
        past = api.get(url, params={"reason": "legal review"},
                       headers={**reviewer, "Range": f"bytes={len(whole.content)}-"})
        assert (past.status_code, past.json()["error"]["code"]) == (416, "range_not_satisfiable")
    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope
    with session_scope() as session:
        fetched = [(e.action, e.details.get("range"))
                   for e in entries_for(session=session, target_id=evidence_id)
                   if e.action in ("derivative.stream", "evidence.stream")]
    assert fetched == [("derivative.stream", "all"), ("derivative.stream", "bytes=1000-1999"),
                       ("evidence.stream", "all"), ("evidence.stream", "bytes=1000-1999")]
    manifest = api.get(f"/api/v1/derivatives/{derivative_id}/manifest",
                       params={"reason": "legal review"}, headers=reviewer).json()
    assert manifest["source"]["sha256"] == d["source_sha256"]
    assert manifest["output"]["sha256"] == d["sha256"]
    assert manifest["mute"][0]["label"] == "a name"
    assert manifest["settings"]["detect_backend"] == "onnxruntime"
    assert manifest["tools"]["detector"]["name"] == "centerface/onnxruntime"

    # stored encrypted: neither object holds the plaintext's MP4 header
    [video_obj] = _objects("derivative")
    [manifest_obj] = _objects("manifest")
    assert video_obj.sha256 == d["sha256"]
    store_dir = bwc_home / "objects"
    raw = (store_dir / video_obj.key).read_bytes() if (store_dir / video_obj.key).is_file() \
        else b""
    if raw:  # the local store (the S3 variant is covered by the vault tests)
        assert b"ftyp" not in raw[:64]
        assert raw[:4] == b"BWCE"

    actions = [e.action for e in entries_about(evidence_id)]
    for a in ("redaction.queued", "redaction.started", "redaction.finished",
              "derivative.stream", "derivative.manifest"):
        assert a in actions, (a, actions)
    finished = next(e for e in entries_about(evidence_id) if e.action == "redaction.finished")
    assert finished.details["sha256"] == d["sha256"]
    assert finished.details["derivative_id"] == derivative_id
    assert manifest_obj.sha256 == finished.details["manifest_sha256"]


def test_bad_footage_fails_its_job_with_a_code_and_the_worker_lives_on(
        sqlite_migrated: str, bwc_home: Path, make_clip: Callable[..., Path],
        ingest_clip: Callable[..., str]) -> None:
    from bwc_custody.db import session_scope
    from bwc_custody.redactions import service
    from bwc_custody.redactions.models import RedactionRequest
    from tests.support.actors import LOCAL_OPERATOR

    garbage = ingest_clip(data=b"\x00\x01 this is not a video " * 4000)
    good = ingest_clip(make_clip([KID_A], per_image=1.0))
    with session_scope() as session:
        bad_job = service.request_redaction(session=session, evidence_id=garbage,
                                            body=RedactionRequest(), actor=LOCAL_OPERATOR).id
        good_job = service.request_redaction(session=session, evidence_id=good,
                                             body=RedactionRequest(), actor=LOCAL_OPERATOR).id
    assert _drain(bwc_home) == 2
    bad = job_now(bad_job)
    assert bad.state == "failed"
    assert bad.error_code in {"corrupt_video", "no_video_stream"}
    assert bad.attempts == 1  # bad input is not retried
    assert job_now(good_job).state == "succeeded"
    assert "redaction.failed" in [e.action for e in entries_about(garbage)]
    assert len(_objects("derivative")) == 1


def test_bad_requests_are_refused_before_queueing(
        sqlite_migrated: str, api: TestClient, make_token: Callable[..., str],
        make_clip: Callable[..., Path], ingest_clip: Callable[..., str]) -> None:
    evidence_id = ingest_clip(make_clip([KID_A], per_image=1.0))
    h = {"Authorization": f"Bearer {make_token(Role.custodian)}"}
    url = f"/api/v1/evidence/{evidence_id}/redactions"
    r = api.post(url, json={"regions": {"boxes": [{"start": 2, "end": 1, "box": [0, 0, 9, 9]}]}},
                 headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_regions")
    r = api.post(url, json={"keep_adults": [999]}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_redaction_request")
    r = api.post("/api/v1/evidence/nope/redactions", json={}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "evidence_not_found")
    assert api.get("/api/v1/jobs", headers=h).json() == []


def test_unknown_derivatives_and_jobs_answer_with_codes(
        sqlite_migrated: str, api: TestClient, make_token: Callable[..., str],
        make_clip: Callable[..., Path], ingest_clip: Callable[..., str],
        bwc_home: Path) -> None:
    h = {"Authorization": f"Bearer {make_token(Role.custodian)}"}
    for path in ("/api/v1/derivatives/nope", "/api/v1/derivatives/nope/content?reason=review",
                 "/api/v1/derivatives/nope/manifest?reason=review"):
        r = api.get(path, headers=h)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "derivative_not_found"), path
    r = api.get("/api/v1/derivatives/nope/content", headers=h)  # no reason given
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_input")
    r = api.post("/api/v1/jobs/nope/cancel", json={"reason": "typo"}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "job_not_found")
    evidence_id = ingest_clip(make_clip([KID_A], per_image=1.0))
    job_id = api.post(f"/api/v1/evidence/{evidence_id}/redactions", json={},
                      headers=h).json()["id"]
    assert _drain(bwc_home) == 1
    r = api.post(f"/api/v1/jobs/{job_id}/cancel", json={"reason": "too late"}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "job_not_cancellable")
    assert job_now(job_id).state == "succeeded"  # the refusal changed nothing


def _set_lease_expired(job_id: str) -> None:
    from bwc_custody.db import session_scope
    from bwc_custody.jobs.models import Job
    from bwc_custody.timeutil import utcnow

    with session_scope() as session:
        session.execute(update(Job).where(col(Job.id) == job_id).values(
            lease_expires_at=utcnow() - timedelta(seconds=1)))


def test_worker_killed_mid_job_publishes_nothing_and_the_job_is_rerun(
        migrated: str, bwc_home: Path, make_clip: Callable[..., Path],
        ingest_clip: Callable[..., str]) -> None:
    from bwc_custody.db import session_scope
    from bwc_custody.redactions import service
    from bwc_custody.redactions.models import RedactionRequest
    from tests.support.actors import LOCAL_OPERATOR

    # ~90 frames, every one detected: long enough (seconds) to be killed in the middle of
    clip = make_clip([KID_A, KID_B], per_image=1.5, size="640x360")
    evidence_id = ingest_clip(clip)
    with session_scope() as session:
        job_id = service.request_redaction(session=session, evidence_id=evidence_id,
                                           body=RedactionRequest(detect_every=1),
                                           actor=LOCAL_OPERATOR).id
    proc = subprocess.Popen([sys.executable, "-m", "bwc_custody", "worker", "--lease", "3",
                             "--poll", "0.2"], env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        job = job_now(job_id)
        for _ in range(1200):  # wait (polling the row) until frames are being redacted
            job = job_now(job_id)
            if job.progress_detail.get("done", 0) > 0 or proc.poll() is not None:
                break
            _wait(0.1)
        assert job.state == "running", (job.state, job.error_message)
        assert job.progress_detail["done"] > 0
        first_worker = job.lease_owner
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    job = job_now(job_id)
    assert job.state == "running", stderr  # nothing finished it
    assert _objects("derivative") == []
    assert _objects("manifest") == []
    scratch = list((bwc_home / "work").iterdir())
    assert len(scratch) == 1  # the dead worker's scratch (partial output) is still there

    _set_lease_expired(job_id)
    assert _drain(bwc_home) == 1
    job = job_now(job_id)
    assert job.state == "succeeded", (job.error_code, job.error_message)
    assert job.attempts == 2
    assert len(_objects("derivative")) == 1
    assert not any(p.exists() for p in scratch)  # swept by the next worker
    starts = [e.details for e in entries_about(evidence_id) if e.action == "redaction.started"]
    assert [s["reclaimed_from"] for s in starts] == [None, first_worker]


def _wait(seconds: float) -> None:
    import threading

    threading.Event().wait(seconds)


def test_cli_request_wait_list_and_export(sqlite_migrated: str, bwc_home: Path,
                                          tmp_path: Path, make_clip: Callable[..., Path],
                                          ingest_clip: Callable[..., str]) -> None:
    from typer.testing import CliRunner

    from bwc_custody.cli import app

    evidence_id = ingest_clip(make_clip([KID_A], per_image=1.0))
    regions = tmp_path / "r.json"
    regions.write_text(json.dumps({"blackout": [{"start": 0.0, "end": 0.3}]}))
    run = CliRunner().invoke(app, ["redactions", "request", evidence_id, "--regions",
                                   str(regions), "--wait"], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    job = json.loads(run.stdout)
    assert job["state"] == "succeeded"
    run = CliRunner().invoke(app, ["redactions", "list", evidence_id], catch_exceptions=False)
    [d] = json.loads(run.stdout)
    assert d["request"]["regions"]["blackout"][0]["end"] == 0.3
    out = tmp_path / "out.mp4"
    run = CliRunner().invoke(app, ["redactions", "export", d["id"], str(out), "--reason",
                                   "court order 12", "--manifest", str(tmp_path / "m.json")],
                             catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert hashlib.sha256(out.read_bytes()).hexdigest() == d["sha256"]
    assert json.loads((tmp_path / "m.json").read_text())["output"]["sha256"] == d["sha256"]
    run = CliRunner().invoke(app, ["redactions", "export", d["id"], str(out), "--reason", "x"])
    assert run.exit_code != 0  # never overwrites
    run = CliRunner().invoke(app, ["jobs", "show", "no-such-job"])
    assert run.exit_code == 2
    assert json.loads(run.stderr)["error"]["code"] == "job_not_found"


def test_keep_photo_and_known_adult_stay_visible_everyone_else_blurred(
        sqlite_migrated: str, bwc_home: Path, api: TestClient, make_token: Callable[..., str],
        make_clip: Callable[..., Path], ingest_clip: Callable[..., str]) -> None:
    import base64

    from bwc_custody.db import session_scope
    from bwc_custody.tags import service as tags
    from bwc_custody.vault.service import get_keyring
    from tests.support.actors import LOCAL_OPERATOR
    from tests.tags.conftest import ADULT_IN_CLIP, ADULT_REF, KID_C

    with session_scope() as session:
        adult = tags.enrol_known_adult(session=session, keyring=get_keyring(), name="SRO B.",
                                       photos=[ADULT_REF.read_bytes()],
                                       consent="signed consent form 7",
                                       actor=LOCAL_OPERATOR)
    evidence_id = ingest_clip(make_clip([ADULT_IN_CLIP, KID_C], per_image=1.5))
    h = {"Authorization": f"Bearer {make_token(Role.custodian)}"}
    url = f"/api/v1/evidence/{evidence_id}/redactions"
    photo = base64.b64encode(ADULT_REF.read_bytes()).decode()

    no_face = base64.b64encode(_png_without_face()).decode()
    r = api.post(url, json={"keep_photos": [{"name": "wall", "data": no_face}]}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_reference_photo")
    r = api.post(url, json={"keep_photos": [{"name": "bad", "data": "%%%%%%%%"}]}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_reference_photo")
    r = api.post(url, json={"keep_photos": [{"name": "x"}], "detect_every": 0}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_input")
    assert {p["at"] for p in r.json()["error"]["details"]["problems"]} == {
        "body.keep_photos.0.data", "body.detect_every"}

    by_photo = api.post(url, json={"keep_photos": [{"name": "complainant", "data": photo}]},
                        headers=h).json()
    by_enrolment = api.post(url, json={"keep_adults": [adult.id]}, headers=h).json()
    everyone = api.post(url, json={}, headers=h).json()
    queued = next(e for e in entries_about(evidence_id) if e.action == "redaction.queued"
                  and e.details["job_id"] == by_photo["id"])
    for kept_params in (job_now(by_photo["id"]).params, queued.details["params"]):
        assert photo[:200] not in json.dumps(kept_params)  # the photo itself is stored apart
        assert kept_params["keep_photos"][0]["name"] == "complainant"
        assert len(kept_params["keep_photos"][0]["sha256"]) == 64
    assert _drain(bwc_home) == 3
    kept = {}
    for name, job in (("photo", by_photo), ("adult", by_enrolment), ("none", everyone)):
        done = job_now(job["id"])
        assert done.state == "succeeded", (done.error_code, done.error_message)
        m = api.get(f"/api/v1/derivatives/{done.result['derivative_id']}/manifest",
                    params={"reason": "check keep-face"}, headers=h).json()
        kept[name] = m["keep_face"]
    assert kept["photo"]["references"][0]["name"] == "complainant"
    assert kept["photo"]["kept_tracks"]  # the adult's track stayed visible
    assert kept["adult"]["references"][0]["name"] == f"known_adult:{adult.id}:SRO B."
    assert kept["adult"]["kept_tracks"]
    assert kept["none"]["kept_tracks"] == {}
    # the kid is never kept: every kept track matched a reference within tolerance
    for k in ("photo", "adult"):
        assert all(v["kept_frames"] > 0 for v in kept[k]["kept_tracks"].values())


def _png_without_face() -> bytes:
    import cv2
    import numpy as np

    img = np.full((200, 300, 3), 120, np.uint8)
    cv2.rectangle(img, (20, 20), (120, 90), (30, 200, 30), -1)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return bytes(buf)
