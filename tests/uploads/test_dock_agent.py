"""The dock agent against the real API: upload, resume, confirm, never lose a file."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bwc_custody.dock.agent import DockAgent, DockError
from bwc_custody.roles import Role


def _agent(client: TestClient, token: str, directory: Path, chunk: int = 40_000) -> DockAgent:
    return DockAgent(directory, server="http://testserver", token=token, chunk_size=chunk,
                     client=client, show_progress=False)


def test_uploads_moves_and_keeps_receipt(client: TestClient, make_token: Callable[..., str],
                                         tmp_path: Path) -> None:
    dock_dir = tmp_path / "dock"
    dock_dir.mkdir()
    video = dock_dir / "AXON_0001.mp4"
    video.write_bytes(os.urandom(150_000))
    (dock_dir / "AXON_0001.json").write_text(json.dumps(
        {"officer_id": "o-3", "campus": "East Middle", "involves_juvenile": True}))
    (dock_dir / "readme.txt").write_text("not footage")
    results = _agent(client, make_token(Role.dock), dock_dir).scan_once()
    assert [r["file"] for r in results] == ["AXON_0001.mp4"]
    assert "error" not in results[0]
    assert not video.exists()
    assert (dock_dir / "uploaded" / "AXON_0001.mp4").exists()
    assert (dock_dir / "uploaded" / "AXON_0001.json").exists()
    receipt = json.loads((dock_dir / "uploaded" / "AXON_0001.mp4.receipt.json").read_text())
    assert receipt["sha256"] == hashlib.sha256(
        (dock_dir / "uploaded" / "AXON_0001.mp4").read_bytes()).hexdigest()
    assert (dock_dir / "readme.txt").exists()
    custodian = {"Authorization": f"Bearer {make_token(Role.custodian)}"}
    [item] = client.get("/api/v1/evidence", headers=custodian).json()
    assert (item["campus"], item["involves_juvenile"]) == ("East Middle", True)


def test_resumes_after_interruption(client: TestClient, make_token: Callable[..., str],
                                    tmp_path: Path) -> None:
    token = make_token(Role.dock)
    dock_dir = tmp_path / "dock"
    dock_dir.mkdir()
    video = dock_dir / "cam.mp4"
    data = os.urandom(200_000)
    video.write_bytes(data)
    first = _agent(client, token, dock_dir)
    # First run: created and sent one chunk, then the dock lost power.
    state = {"size": len(data), "mtime_ns": video.stat().st_mtime_ns,
             "sha256": hashlib.sha256(data).hexdigest()}
    state["url"] = first._create(video, state["sha256"])
    first._save_state(video, state)
    resp = client.patch(state["url"], content=data[:40_000], headers={
        "Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}", "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream"})
    assert resp.status_code == 204
    # A new agent process picks up the state file and resumes at the server's offset.
    second = _agent(client, token, dock_dir)
    assert second._server_offset(state["url"]) == 40_000
    receipt = second.upload(video)
    assert receipt.sha256 == state["sha256"]
    assert (dock_dir / "uploaded" / "cam.mp4").read_bytes() == data


def test_refused_upload_keeps_the_file(client: TestClient, make_token: Callable[..., str],
                                       tmp_path: Path) -> None:
    dock_dir = tmp_path / "dock"
    dock_dir.mkdir()
    video = dock_dir / "cam.mp4"
    data = os.urandom(5000)
    video.write_bytes(data)
    (dock_dir / "cam.json").write_text(json.dumps({"recorded_at": "last tuesday"}))
    [result] = _agent(client, make_token(Role.dock), dock_dir).scan_once()
    assert "invalid_metadata" in result["error"]
    # kept, set aside with why (it can never be accepted as it is), not uploaded
    assert (dock_dir / "refused" / "cam.mp4").read_bytes() == data
    assert "recorded_at" in (dock_dir / "refused" / "cam.mp4.refused.json").read_text()
    assert not (dock_dir / "uploaded" / "cam.mp4").exists()


def test_forged_receipt_is_not_trusted(client: TestClient, make_token: Callable[..., str],
                                       tmp_path: Path) -> None:
    dock_dir = tmp_path / "dock"
    dock_dir.mkdir()
    video = dock_dir / "cam.mp4"
    video.write_bytes(os.urandom(5000))
    agent = _agent(client, make_token(Role.dock), dock_dir)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from bwc_custody.vault.service import get_signer

    # the agent holds another key under the server key's id: receipts cannot verify
    agent._public_key = Ed25519PrivateKey.generate().public_key()
    agent._public_key_id = get_signer().key_id
    with pytest.raises(DockError, match="signature"):
        agent.upload(video)
    assert video.exists()


def test_wrong_token_uploads_nothing(client: TestClient, tmp_path: Path) -> None:
    dock_dir = tmp_path / "dock"
    dock_dir.mkdir()
    (dock_dir / "cam.mp4").write_bytes(os.urandom(100))
    [result] = _agent(client, "bwc_not-a-token", dock_dir).scan_once()
    assert "401" in result["error"]
    assert (dock_dir / "cam.mp4").exists()


def test_agent_follows_a_signing_key_rotation(client: TestClient,
                                              make_token: Callable[..., str],
                                              tmp_path: Path) -> None:
    from bwc_custody.config import get_settings
    from bwc_custody.vault.service import get_signer
    from storage.keys import Signer

    dock_dir = tmp_path / "dock"
    dock_dir.mkdir()
    agent = _agent(client, make_token(Role.dock), dock_dir)
    (dock_dir / "A.mp4").write_bytes(os.urandom(50_000))
    assert "error" not in agent.scan_once()[0]
    Signer.rotate(get_settings().keys_dir)  # the server rotates while the dock runs
    get_signer.cache_clear()
    (dock_dir / "B.mp4").write_bytes(os.urandom(50_000))
    [result] = agent.scan_once()
    assert "error" not in result, result
    assert (dock_dir / "uploaded" / "B.mp4").exists()


def test_a_recording_destroyed_under_its_schedule_is_set_aside_not_retried(
        client: TestClient, make_token: Callable[..., str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bwc_custody.config import get_settings

    monkeypatch.setenv("BWC_RETENTION_DAYS", "0")
    get_settings.cache_clear()
    dock_dir = tmp_path / "dock"
    dock_dir.mkdir()
    data = os.urandom(60_000)
    (dock_dir / "cam.mp4").write_bytes(data)
    agent = _agent(client, make_token(Role.dock), dock_dir)
    [first] = agent.scan_once()
    custodian = {"Authorization": f"Bearer {make_token(Role.custodian)}"}
    r = client.post(f"/api/v1/evidence/{first['evidence_id']}/dispose", headers=custodian,
                    json={"reason": "KDLA L6707 period ran, nothing holds it"})
    assert r.status_code == 200, r.text

    (dock_dir / "cam.mp4").write_bytes(data)  # the same footage turns up on the dock again
    (dock_dir / "cam.json").write_text(json.dumps({"officer_id": "o-3"}))
    [again] = agent.scan_once()
    assert again["refused"] == "evidence_disposed"
    refused = dock_dir / "refused"
    assert (refused / "cam.mp4").read_bytes() == data  # kept, not lost
    assert (refused / "cam.json").exists()
    assert json.loads((refused / "cam.mp4.refused.json").read_text())["code"] == \
        "evidence_disposed"
    assert agent.pending_files() == []  # and not sent again on the next scan
    assert agent.scan_once() == []


@pytest.mark.parametrize(("sidecar", "why"), [
    ("[1, 2, 3]", "not a JSON object"), ('{"officer_id": "o-1", "extra": {"gps": NaN}}',
                                          "not JSON"),
    ('{"officer": "o-1"}', "accepted keys"), ("{not json", "not JSON")])
def test_a_sidecar_that_can_never_be_accepted_is_set_aside_and_the_rest_go_on(
        client: TestClient, make_token: Callable[..., str], tmp_path: Path,
        sidecar: str, why: str) -> None:
    """A malformed sidecar killed the agent and nothing after it was uploaded, every scan
    (#22, finding 11). It is now refused before a byte is sent, set aside with why (naming
    the keys a sidecar may use), and the other files go up."""
    dock_dir = tmp_path / "dock"
    dock_dir.mkdir()
    (dock_dir / "A_bad.mp4").write_bytes(os.urandom(50_000))
    (dock_dir / "A_bad.json").write_text(sidecar)
    (dock_dir / "B_good.mp4").write_bytes(os.urandom(50_000))
    results = _agent(client, make_token(Role.dock), dock_dir).scan_once()
    assert [(r["file"], r.get("refused")) for r in results] == [
        ("A_bad.mp4", "invalid_metadata"), ("B_good.mp4", None)]
    refused = dock_dir / "refused"
    assert sorted(p.name for p in refused.iterdir()) == [
        "A_bad.json", "A_bad.mp4", "A_bad.mp4.refused.json"]
    said = json.loads((refused / "A_bad.mp4.refused.json").read_text())
    assert said["code"] == "invalid_metadata"
    assert why in said["message"]
    assert (dock_dir / "uploaded" / "B_good.mp4").exists()
    custodian = {"Authorization": f"Bearer {make_token(Role.custodian)}"}
    assert len(client.get("/api/v1/evidence", headers=custodian).json()) == 1


@pytest.mark.parametrize("sidecar", [
    '{"officer": "o-1"}', "[1]", "{not json", '{"recorded_at": "2026-03-02T10:00:00"}',
    '{"involves_juvenile": "maybe"}', '{"case_number": "' + "9" * 81 + '"}'])
def test_a_refused_sidecar_sends_nothing_and_its_refusal_lists_the_keys(
        client: TestClient, make_token: Callable[..., str], tmp_path: Path,
        sidecar: str) -> None:
    """The sidecar is read before the video is hashed or a byte goes to the server: no
    upload is opened for it, and the refusal (on the dock, in refused/) names every key a
    sidecar may use."""
    from sqlmodel import select

    from bwc_custody.db import session_scope
    from bwc_custody.evidence.models import DockMetadata
    from bwc_custody.uploads.models import Upload

    dock_dir = tmp_path / "dock"
    dock_dir.mkdir()
    (dock_dir / "C.mp4").write_bytes(os.urandom(50_000))
    (dock_dir / "C.json").write_text(sidecar)
    agent = _agent(client, make_token(Role.dock), dock_dir)
    sent: list[str] = []
    client.event_hooks["request"] = [lambda r: sent.append(f"{r.method} {r.url.path}")]
    try:
        [result] = agent.scan_once()
        sent_by_scan = list(sent)
        agent.client.get("/api/v1/keys/signing")  # the hook does see what the agent sends
    finally:
        client.event_hooks["request"] = []
    assert result["refused"] == "invalid_metadata"
    assert sent_by_scan == []  # not even the upload's creation
    assert sent == ["GET /api/v1/keys/signing"]
    with session_scope() as session:
        assert session.exec(select(Upload)).all() == []
    said = json.loads((dock_dir / "refused" / "C.mp4.refused.json").read_text())
    for key in DockMetadata.model_fields:
        assert key in said["message"], key
    assert not (dock_dir / ".bwc-dock" / "C.mp4.json").exists()  # nothing to resume


def test_the_sidecar_keys_are_documented_where_a_dock_operator_looks() -> None:
    from typer.testing import CliRunner

    from bwc_custody.cli import app
    from bwc_custody.evidence.models import DockMetadata

    shown = CliRunner().invoke(app, ["dock", "watch", "--help"], env={"COLUMNS": "200"})
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for key in DockMetadata.model_fields:
        assert f"`{key}`" in readme, key
        assert key in shown.output, key
