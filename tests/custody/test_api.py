"""Custody routes: streaming footage on record, packages, the log, proofs and verification."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable

from fastapi.testclient import TestClient

from bwc_custody.roles import Role
from tests.support.custody import recomputed_entry_hash


def test_stream_records_the_view_with_reason(
    client: TestClient, make_token: Callable[..., str], ingest: Callable[..., str],
) -> None:
    data = b"video bytes " * 10_000
    evidence_id = ingest(data)
    custodian = {"Authorization": f"Bearer {make_token(Role.custodian, username='cara')}"}
    auditor = {"Authorization": f"Bearer {make_token(Role.auditor)}"}
    r = client.get(f"/api/v1/evidence/{evidence_id}/content", headers=custodian)
    assert r.status_code == 422  # a reason is required
    r = client.get(f"/api/v1/evidence/{evidence_id}/content", headers=custodian,
                   params={"reason": "triage of request 12"})
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["x-content-sha256"] == hashlib.sha256(data).hexdigest()
    log = client.get("/api/v1/custody/entries", headers=auditor,
                     params={"target_id": evidence_id}).json()
    assert [(e["action"], e["actor"], e["reason"]) for e in log] == [
        ("evidence.ingest", "test-operator", ""),
        ("evidence.stream", "cara", "triage of request 12")]


def test_package_route_and_auditor_routes(
    client: TestClient, make_token: Callable[..., str], ingest: Callable[..., str],
) -> None:
    from bwc_custody.config import get_settings
    from bwc_custody.db import get_engine
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.worker import run_now

    evidence_id = ingest(b"abc" * 40_000)
    custodian = {"Authorization": f"Bearer {make_token(Role.custodian)}"}
    auditor = {"Authorization": f"Bearer {make_token(Role.auditor, username='test-auditor')}"}
    r = client.post(f"/api/v1/evidence/{evidence_id}/package", headers=custodian,
                    params={"reason": "subpoena 7"})
    assert r.status_code == 200
    names = set(zipfile.ZipFile(io.BytesIO(r.content)).namelist())
    assert {"manifest.json", "verify_package.py", "public_key.pem", "SHA256SUMS",
            "checkpoint.json", "evidence/clip.mp4"} <= names

    cps = client.get("/api/v1/custody/checkpoints", headers=auditor).json()
    assert [c["tree_size"] for c in cps] == [3]  # ingest, export, the package's list
    proof = client.get("/api/v1/custody/entries/1/inclusion", headers=auditor).json()
    assert proof["root_hash"] == cps[0]["root_hash"]
    entries = client.get("/api/v1/custody/entries", headers=auditor).json()
    assert [e["action"] for e in entries] == [
        "evidence.ingest", "evidence.export", "evidence.package"]
    assert [recomputed_entry_hash(e) for e in entries] == [e["entry_hash"] for e in entries]
    made = client.post("/api/v1/custody/checkpoints", headers=auditor)
    assert made.status_code == 201
    size = made.json()["tree_size"]
    c = client.get("/api/v1/custody/consistency", headers=auditor,
                   params={"first": 3, "second": size}).json()
    assert c["second_root"] == made.json()["root_hash"]
    bad = client.get("/api/v1/custody/consistency", headers=auditor,
                     params={"first": 5, "second": 2})
    assert bad.json()["error"]["code"] == "proof_unavailable"
    queued = client.post("/api/v1/custody/verify", headers=auditor, params={"fixity": True})
    assert queued.status_code == 202  # a job: re-reading the store takes as long as it is big
    assert queued.json()["kind"] == "verify"
    # asked again while it waits: the same check, not a second read of the whole store
    again = client.post("/api/v1/custody/verify", headers=auditor, params={"fixity": True})
    assert (again.status_code, again.json()["id"]) == (202, queued.json()["id"])
    # the auditors' job: a custodian neither sees it nor cancels it, nor learns it exists
    verify_id = queued.json()["id"]
    assert client.get(f"/api/v1/jobs/{verify_id}", headers=custodian).status_code == 404
    assert verify_id not in [j["id"] for j in client.get("/api/v1/jobs", headers=custodian).json()]
    assert client.post(f"/api/v1/jobs/{verify_id}/cancel", headers=custodian,
                       json={"reason": "tidying the queue"}).status_code == 404
    assert verify_id in [j["id"] for j in client.get("/api/v1/jobs", headers=auditor).json()]
    run_now(queued.json()["id"], engine=get_engine(), home=get_settings().home,
            handlers=HANDLERS)
    job = client.get(f"/api/v1/jobs/{queued.json()['id']}", headers=auditor).json()
    assert job["state"] == "succeeded", job
    report = job["result"]
    assert report["ok"]
    assert report["objects"] == 1
    asked = client.get("/api/v1/custody/entries", headers=auditor,
                       params={"target_id": queued.json()["id"]}).json()
    assert [(e["action"], e["details"]["ok"], e["details"]["requested_by"]) for e in asked
            if e["action"] == "custody.verify"] == [("custody.verify", True, "test-auditor")]
