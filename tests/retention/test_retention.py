"""Retention and disposition (KDLA L6707): a recording is destroyed only when its period has
run and nothing holds it (a hold, a pending request, an open investigation, a case), each
blocker named with its rule; destruction removes every object filed under the recording,
keeps its rows and hashes, is refused cleanly when the store still protects an object, and
lands in the custody log; afterwards nothing reads, queues or re-ingests it."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bwc_custody.retention.models import SCHEDULE_CITATION, SCHEDULE_RULE
from bwc_custody.roles import Role
from tests.custody.conftest import run_verify
from tests.evidence.conftest import bwc, video
from tests.support.s3server import S3Server

__all__ = ["bwc", "run_verify", "video"]
REASON = {"reason": "KDLA L6707 period ran; no hold, request or case"}


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _code(r: Any) -> str:
    return str(r.json()["error"]["code"])


def _retention_days(monkeypatch: pytest.MonkeyPatch, days: int) -> None:
    from bwc_custody.config import get_settings

    monkeypatch.setenv("BWC_RETENTION_DAYS", str(days))
    get_settings.cache_clear()


def _entries(evidence_id: str) -> list[Any]:
    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope

    with session_scope() as session:
        found = entries_for(session=session, target_id=evidence_id)
        for entry in found:
            session.expunge(entry)
        return found


def _store() -> Any:
    from bwc_custody.vault.service import get_store

    return get_store()


@pytest.fixture
def custodian(make_token: Callable[..., str]) -> dict[str, str]:
    return _h(make_token(Role.custodian, username="cust-1"))


def test_a_recording_is_kept_through_its_period(
        client: TestClient, custodian: dict[str, str], ingest_clip: Callable[..., str]) -> None:
    evidence_id = ingest_clip()
    r = client.get(f"/api/v1/evidence/{evidence_id}/retention", headers=custodian)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["category"] == "non_evidentiary"
    assert view["retention_days"] == 60
    assert view["due"] is False
    assert [(b["code"], b["rule"], b["citation"]) for b in view["blockers"]] == [
        ("retention_period", SCHEDULE_RULE, SCHEDULE_CITATION)]
    assert client.get("/api/v1/retention/due", headers=custodian).json() == []
    r = client.post(f"/api/v1/evidence/{evidence_id}/dispose", json=REASON, headers=custodian)
    assert r.status_code == 409
    assert _code(r) == "retention_not_due"
    assert [b["code"] for b in r.json()["error"]["details"]["blockers"]] == ["retention_period"]
    assert _store().exists(f"originals/{evidence_id}")
    assert "evidence.dispose" not in [e.action for e in _entries(evidence_id)]


def test_a_due_recording_is_destroyed_logged_and_gone_for_good(
        client: TestClient, custodian: dict[str, str], ingest_clip: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch, run_verify: Callable[..., dict[str, Any]]) -> None:
    _retention_days(monkeypatch, 0)
    data = b"a recording past its period " * 500
    evidence_id = ingest_clip(data=data)
    kept_id = ingest_clip(case_number="2026-0042")  # evidentiary: never on the due list
    due = client.get("/api/v1/retention/due", headers=custodian).json()
    assert [v["evidence_id"] for v in due] == [evidence_id]
    kept = client.get(f"/api/v1/evidence/{kept_id}/retention", headers=custodian).json()
    assert kept["category"] == "evidentiary"
    assert kept["retain_until"] is None
    assert [b["code"] for b in kept["blockers"]] == ["evidentiary"]

    r = client.post(f"/api/v1/evidence/{evidence_id}/dispose", headers=custodian)
    assert r.status_code == 422
    assert _code(r) == "reason_required"
    assert _store().exists(f"originals/{evidence_id}")
    r = client.post(f"/api/v1/evidence/{evidence_id}/dispose", json=REASON, headers=custodian)
    assert r.status_code == 200, r.text
    assert r.json()["disposed_by"] == "cust-1"
    assert r.json()["due"] is False
    assert not _store().exists(f"originals/{evidence_id}")
    entry = [e for e in _entries(evidence_id) if e.action == "evidence.dispose"]
    assert len(entry) == 1
    assert entry[0].reason == REASON["reason"]
    assert entry[0].details["rule"] == SCHEDULE_RULE
    assert entry[0].details["citation"] == SCHEDULE_CITATION
    meta = client.get(f"/api/v1/evidence/{evidence_id}", headers=custodian).json()
    assert entry[0].details["sha256"] == meta["sha256"]
    assert meta["disposed_at"]

    # gone for good: no read, no job, no request, no second disposal, no re-ingest
    r = client.get(f"/api/v1/evidence/{evidence_id}/content", params={"reason": "look again"},
                   headers=custodian)
    assert r.status_code == 410
    assert _code(r) == "evidence_disposed"
    r = client.post(f"/api/v1/evidence/{evidence_id}/redactions", json={}, headers=custodian)
    assert r.status_code == 410
    assert _code(r) == "evidence_disposed"
    r = client.post("/api/v1/requests", headers=custodian, json={
        "description": "the hallway video", "requester_name": "R. Doe",
        "requester_type": "public", "form": "copy", "evidence_ids": [evidence_id]})
    assert r.status_code == 410
    assert _code(r) == "evidence_disposed"
    r = client.post(f"/api/v1/evidence/{evidence_id}/dispose", json=REASON, headers=custodian)
    assert r.status_code == 410
    from bwc_custody.evidence.errors import EvidenceDisposed

    with pytest.raises(EvidenceDisposed):
        ingest_clip(data=data)
    # the log and every other object still verify; the destroyed one is not a finding
    report = run_verify()
    assert report["ok"], report
    with _store().writer(f"originals/{evidence_id}") as writer:  # bytes back under its key
        writer.write(b"resurrected")
        writer.commit()
    report = run_verify()
    assert not report["ok"]
    assert [f["ref"] for f in report["findings"]] == [f"originals/{evidence_id}"]


def test_evidence_is_kept_until_its_case_is_closed_then_for_the_period(
        client: TestClient, custodian: dict[str, str], make_token: Callable[..., str],
        ingest_clip: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    from bwc_custody.retention.models import EVIDENTIARY_RULE

    evidence_id = ingest_clip(case_number="2026-0042")
    other = ingest_clip(case_number="2026-0042")
    counsel = _h(make_token(Role.legal_reviewer, username="counsel-1"))
    url = f"/api/v1/evidence/{evidence_id}/retention"
    close = {"case_number": "2026-0042", "reason": "judgment final, appeal time ran 1 Dec"}
    r = client.post("/api/v1/retention/cases", headers=counsel,
                    json={**close, "case_number": "2026-0043"})
    assert r.status_code == 404
    assert _code(r) == "case_not_found"
    r = client.post("/api/v1/retention/cases", headers=counsel, json={**close, "reason": ""})
    assert r.status_code == 422
    assert _code(r) == "reason_required"
    assert [b["code"] for b in client.get(url, headers=custodian).json()["blockers"]] == [
        "evidentiary"]

    r = client.post("/api/v1/retention/cases", headers=counsel, json=close)
    assert r.status_code == 201, r.text
    assert r.json()["closed_by"] == "counsel-1"
    view = client.get(url, headers=custodian).json()
    assert view["category"] == "evidentiary"
    assert view["case_closed_at"] == r.json()["closed_at"]
    assert [(b["code"], b["rule"]) for b in view["blockers"]] == [
        ("retention_period", EVIDENTIARY_RULE)]  # the same 60 days, from the closure
    r = client.post("/api/v1/retention/cases", headers=counsel, json=close)
    assert r.status_code == 409
    assert _code(r) == "case_already_closed"
    entry = [e for e in _entries("2026-0042") if e.action == "retention.case_closed"]
    assert len(entry) == 1
    assert sorted(entry[0].details["recordings"]) == sorted([evidence_id, other])

    _retention_days(monkeypatch, 0)  # the period after the closure has run
    due = client.get("/api/v1/retention/due", headers=custodian).json()
    assert sorted(v["evidence_id"] for v in due) == sorted([evidence_id, other])


def test_a_hold_keeps_the_recording_and_the_store_object_until_lifted(
        client: TestClient, custodian: dict[str, str], make_token: Callable[..., str],
        ingest_clip: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    from storage.errors import ObjectLocked

    _retention_days(monkeypatch, 0)
    evidence_id = ingest_clip()
    key = f"originals/{evidence_id}"
    counsel = _h(make_token(Role.legal_reviewer, username="counsel-1"))
    officer = _h(make_token(Role.officer))
    hold = {"kind": "litigation", "reference": "Fayette Cir. 26-CI-0101",
            "reason": "preservation letter from plaintiff's counsel"}
    r = client.post(f"/api/v1/evidence/{evidence_id}/holds", json=hold, headers=officer)
    assert r.status_code == 403
    r = client.post(f"/api/v1/evidence/{evidence_id}/holds", json={**hold, "reason": ""},
                    headers=counsel)
    assert r.status_code == 422
    assert _code(r) == "reason_required"
    r = client.post(f"/api/v1/evidence/{evidence_id}/holds", json=hold, headers=counsel)
    assert r.status_code == 201, r.text
    view = r.json()
    hold_id = view["holds"][0]["id"]
    assert [b["code"] for b in view["blockers"]] == ["hold"]
    assert not view["due"]
    assert _store().get_lock(key).legal_hold is True
    with pytest.raises(ObjectLocked):  # not even someone holding the store's keys
        _store().delete(key)
    r = client.post(f"/api/v1/evidence/{evidence_id}/dispose", json=REASON, headers=custodian)
    assert r.status_code == 409
    assert _code(r) == "retention_not_due"
    assert client.get("/api/v1/retention/due", headers=custodian).json() == []

    lift = f"/api/v1/evidence/{evidence_id}/holds/{hold_id}/lift"
    r = client.post(lift, headers=counsel)
    assert r.status_code == 422
    assert _code(r) == "reason_required"
    r = client.post(f"/api/v1/evidence/{evidence_id}/holds/{hold_id + 1}/lift", json=REASON,
                    headers=counsel)
    assert r.status_code == 404
    assert _code(r) == "hold_not_found"
    r = client.post(lift, json={"reason": "case settled, dismissed with prejudice"},
                    headers=counsel)
    assert r.status_code == 200, r.text
    assert r.json()["due"] is True
    assert r.json()["holds"][0]["lifted_by"] == "counsel-1"
    assert _store().get_lock(key).legal_hold is False
    r = client.post(lift, json=REASON, headers=counsel)
    assert r.status_code == 409
    assert _code(r) == "hold_already_lifted"
    entries = [e for e in _entries(evidence_id) if e.action.startswith("retention.")]
    assert [e.action for e in entries] == ["retention.hold", "retention.lift"]
    assert {(e.details["rule"], e.details["citation"]) for e in entries} == {
        (SCHEDULE_RULE, SCHEDULE_CITATION)}  # each decision names its rule
    r = client.post(f"/api/v1/evidence/{evidence_id}/dispose", json=REASON, headers=custodian)
    assert r.status_code == 200, r.text


def test_a_pending_request_or_open_investigation_keeps_it(
        client: TestClient, custodian: dict[str, str], ingest_clip: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _retention_days(monkeypatch, 0)
    evidence_id = ingest_clip()
    url = f"/api/v1/evidence/{evidence_id}/retention"
    r = client.post("/api/v1/requests", headers=custodian, json={
        "description": "the hallway video", "requester_name": "R. Doe",
        "requester_type": "public", "form": "copy", "evidence_ids": [evidence_id]})
    assert r.status_code == 201, r.text
    request_id = r.json()["id"]
    assert [b["code"] for b in client.get(url, headers=custodian).json()["blockers"]] == [
        "records_request"]
    r = client.post(f"/api/v1/requests/{request_id}/close", headers=custodian,
                    json={"reason": "withdrawn by the requester in writing"})
    assert r.status_code == 200, r.text
    assert client.get(url, headers=custodian).json()["due"] is True

    r = client.post(f"/api/v1/evidence/{evidence_id}/tags", headers=custodian,
                    json={"name": "investigation_open"})
    assert r.status_code in (200, 201), r.text
    assert [b["code"] for b in client.get(url, headers=custodian).json()["blockers"]] == [
        "investigation_open"]
    r = client.request("DELETE", f"/api/v1/evidence/{evidence_id}/tags/investigation_open",
                       headers=custodian, json={"reason": "investigation closed 1 Dec"})
    assert r.status_code == 200, r.text
    assert client.get(url, headers=custodian).json()["due"] is True


def test_the_stores_own_retention_refuses_before_anything_is_destroyed(
        client: TestClient, custodian: dict[str, str], ingest_clip: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bwc_custody.db import session_scope
    from bwc_custody.vault import service as vault

    evidence_id = ingest_clip()  # the store locks the original for 60 days
    with session_scope() as session:  # and a keep-face photo filed under the recording
        vault.store_plaintext(session=session, store=_store(), keyring=vault.get_keyring(),
                              source=io.BytesIO(b"photo"), key=f"references/{evidence_id}/p",
                              object_id=uuid.uuid4(), kind="reference")
    _retention_days(monkeypatch, 0)  # the database now says due; the store disagrees
    r = client.post(f"/api/v1/evidence/{evidence_id}/dispose", json=REASON, headers=custodian)
    assert r.status_code == 409
    assert _code(r) == "object_locked"
    assert _store().exists(f"originals/{evidence_id}")
    assert _store().exists(f"references/{evidence_id}/p")  # nothing went first
    assert client.get(f"/api/v1/evidence/{evidence_id}", headers=custodian
                      ).json()["disposed_at"] is None
    assert "evidence.dispose" not in [e.action for e in _entries(evidence_id)]


@pytest.mark.slow
def test_disposal_takes_the_redacted_copies_with_it(
        client: TestClient, custodian: dict[str, str], ingest_clip: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch, video: Path, bwc_home: Path,
        run_verify: Callable[..., dict[str, Any]]) -> None:
    from bwc_custody.db import get_engine
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.worker import run_worker

    _retention_days(monkeypatch, 0)
    evidence_id = ingest_clip(video)
    r = client.post(f"/api/v1/evidence/{evidence_id}/redactions", json={}, headers=custodian)
    assert r.status_code == 202, r.text
    run_worker(engine=get_engine(), home=bwc_home, handlers=HANDLERS, lease_seconds=30, drain=True)
    job = client.get(f"/api/v1/jobs/{r.json()['id']}", headers=custodian).json()
    assert job["state"] == "succeeded", job
    derivative_id = job["result"]["derivative_id"]
    d = client.get(f"/api/v1/derivatives/{derivative_id}", headers=custodian).json()
    prefix = f"derivatives/{evidence_id}/{derivative_id}"
    assert _store().exists(f"{prefix}/redacted.mp4")

    r = client.post(f"/api/v1/evidence/{evidence_id}/dispose", json=REASON, headers=custodian)
    assert r.status_code == 200, r.text
    for key in (f"originals/{evidence_id}", f"{prefix}/redacted.mp4", f"{prefix}/manifest.json"):
        assert not _store().exists(key), key
    entry = [e for e in _entries(evidence_id) if e.action == "evidence.dispose"][0]
    assert {o["sha256"] for o in entry.details["objects"]} >= {d["sha256"]}
    r = client.get(f"/api/v1/derivatives/{derivative_id}/content",
                   params={"reason": "legal review"}, headers=custodian)
    assert r.status_code == 410
    assert _code(r) == "evidence_disposed"
    assert run_verify()["ok"]


@pytest.mark.s3
def test_on_s3_a_hold_is_an_object_lock_legal_hold(
        sqlite_migrated: str, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch,
        bwc: Callable[..., tuple[int, Any]], ingest_clip: Callable[..., str]) -> None:
    from storage.errors import ObjectLocked
    from tests.evidence.test_s3_ingest import _use_s3

    _use_s3(monkeypatch, s3_server.endpoint, s3_server)
    _retention_days(monkeypatch, 0)
    evidence_id = ingest_clip()
    key = f"originals/{evidence_id}"
    code, out = bwc("retention", "hold", evidence_id, "--kind", "investigation",
                    "--reference", "KSP 26-1234", "--reason", "open criminal investigation")
    assert code == 0, out
    assert _store().get_lock(key).legal_hold is True
    with pytest.raises(ObjectLocked):
        _store().delete(key)
    code, out = bwc("retention", "dispose", evidence_id, "--reason", REASON["reason"])
    assert code == 2
    assert out["error"]["code"] == "retention_not_due"
    code, out = bwc("retention", "hold", evidence_id, "--kind", "whim", "--reason", "whatever x")
    assert code == 2
    assert out["error"]["code"] == "invalid_input"
    code, out = bwc("retention", "close-case", "2026-9999", "--reason", "no such case here")
    assert code == 2
    assert out["error"]["code"] == "case_not_found"
    hold_id = bwc("retention", "show", evidence_id)[1]["holds"][0]["id"]
    code, out = bwc("retention", "lift", evidence_id, str(hold_id), "--reason",
                    "investigation closed, no charges")
    assert code == 0, out
    assert out["due"] is True
    assert _store().get_lock(key).legal_hold is False
    code, out = bwc("retention", "due")
    assert code == 0
    assert [v["evidence_id"] for v in out] == [evidence_id]
    code, out = bwc("retention", "dispose", evidence_id, "--reason", REASON["reason"])
    assert code == 0, out
    assert out["disposed_at"]
    assert not _store().exists(key)


@pytest.mark.slow
def test_copies_made_while_held_are_held_and_none_outlive_a_disposal(
        client: TestClient, custodian: dict[str, str], ingest_clip: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch, video: Path, bwc_home: Path) -> None:
    from bwc_custody.db import get_engine
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.worker import run_worker

    def redact(evidence_id: str) -> dict[str, Any]:
        r = client.post(f"/api/v1/evidence/{evidence_id}/redactions", json={},
                        headers=custodian)
        assert r.status_code == 202, r.text
        return dict(r.json())

    def drain() -> None:
        run_worker(engine=get_engine(), home=bwc_home, handlers=HANDLERS, lease_seconds=30,
                   drain=True)

    _retention_days(monkeypatch, 0)
    evidence_id = ingest_clip(video)
    r = client.post(f"/api/v1/evidence/{evidence_id}/holds", headers=custodian, json={
        "kind": "investigation", "reason": "open criminal investigation"})
    assert r.status_code == 201, r.text
    job = redact(evidence_id)
    drain()
    done = client.get(f"/api/v1/jobs/{job['id']}", headers=custodian).json()
    assert done["state"] == "succeeded", done
    prefix = f"derivatives/{evidence_id}/{done['result']['derivative_id']}"
    for key in (f"{prefix}/redacted.mp4", f"{prefix}/manifest.json"):
        assert _store().get_lock(key).legal_hold is True, key
    hold_id = r.json()["holds"][0]["id"]
    r = client.post(f"/api/v1/evidence/{evidence_id}/holds/{hold_id}/lift", headers=custodian,
                    json={"reason": "investigation closed, no charges"})
    assert r.status_code == 200, r.text
    assert _store().get_lock(f"{prefix}/redacted.mp4").legal_hold is False

    # a job queued before the recording was destroyed makes nothing after it
    late = redact(evidence_id)
    r = client.post(f"/api/v1/evidence/{evidence_id}/dispose", json=REASON, headers=custodian)
    assert r.status_code == 200, r.text
    drain()
    failed = client.get(f"/api/v1/jobs/{late['id']}", headers=custodian).json()
    assert (failed["state"], failed["error_code"]) == ("failed", "evidence_disposed"), failed
    from bwc_custody.db import session_scope
    from bwc_custody.redactions.service import list_derivatives

    with session_scope() as session:
        assert len(list_derivatives(session=session, evidence_id=evidence_id)) == 1
