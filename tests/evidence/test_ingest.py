"""Ingest from the command line: hashing, encryption, dedupe, bad input, export, rotation."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from bwc_custody.custody.models import CustodyEntry
from bwc_custody.db import get_engine
from bwc_custody.evidence.models import Evidence, Receipt
from bwc_custody.jobs.models import Job
from bwc_custody.vault.models import StoredObject

Bwc = Callable[..., tuple[int, Any]]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(model: type) -> list[Any]:
    with Session(get_engine()) as session:
        return list(session.exec(select(model)))


def _originals(home: Path) -> list[Path]:
    root = home / "objects" / "originals"
    return sorted(root.iterdir()) if root.exists() else []


def test_ingest_records_hash_metadata_and_custody(migrated: str, bwc: Bwc, video: Path,
                                                   bwc_home: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from bwc_custody.config import get_settings

    monkeypatch.setenv("BWC_AUTO_ANALYZE", "true")  # the default
    get_settings.cache_clear()
    code, out = bwc("ingest", str(video), "--officer", "o-17", "--campus", "Central High",
                    "--case", "24-001", "--recorded-at", "2026-03-02T10:15:00-05:00",
                    "--sha256", _sha(video))
    assert code == 0, out
    assert out["sha256"] == _sha(video)
    assert out["size"] == video.stat().st_size
    [evidence] = _rows(Evidence)
    assert evidence.id == out["evidence_id"]
    assert (evidence.officer_id, evidence.campus, evidence.case_number) == (
        "o-17", "Central High", "24-001")
    assert evidence.media_status == "video"
    assert evidence.media["video"]["width"] == 320
    assert evidence.media["video"]["codec"] == "h264"
    assert evidence.media["audio"]["codec"] == "aac"
    assert abs(evidence.media["duration_s"] - 2.0) < 0.2
    # Stored encrypted: the plaintext appears nowhere in the object.
    [obj_path] = _originals(bwc_home)
    stored = obj_path.read_bytes()
    assert video.read_bytes()[:4096] not in stored
    assert stored[:4] == b"BWCE"
    # A campus in the officer's metadata tags the footage school_campus at ingest, and every
    # video is queued for the person count that sets the automatic tags.
    assert [e.action for e in _rows(CustodyEntry)] == ["evidence.ingest", "tag.add",
                                                       "analysis.queued"]
    [job] = _rows(Job)
    assert (job.kind, job.evidence_id, job.state) == ("analysis", evidence.id, "queued")


def test_wrong_hash_rejects_and_records_nothing(migrated: str, bwc: Bwc, video: Path,
                                                bwc_home: Path) -> None:
    code, out = bwc("ingest", str(video), "--sha256", "0" * 64)
    assert code == 2
    assert out["error"]["code"] == "hash_mismatch"
    assert out["error"]["details"]["actual"] == _sha(video)
    assert _rows(Evidence) == []
    assert _rows(StoredObject) == []
    assert _originals(bwc_home) == []


def test_zero_byte_file_is_refused(migrated: str, bwc: Bwc, tmp_path: Path,
                                   bwc_home: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    code, out = bwc("ingest", str(empty))
    assert code == 2
    assert out["error"]["code"] == "empty_file"
    assert _rows(Evidence) == []
    assert _originals(bwc_home) == []


def test_non_video_is_kept_and_flagged(migrated: str, bwc: Bwc, tmp_path: Path) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_bytes(b"this is not a video, but it is evidence\n" * 50)
    code, out = bwc("ingest", str(notes))
    assert code == 0, out
    [evidence] = _rows(Evidence)
    assert evidence.media_status == "undecodable"
    assert evidence.media_error


def test_same_content_twice_is_one_evidence_item(migrated: str, bwc: Bwc, video: Path,
                                                 tmp_path: Path, bwc_home: Path) -> None:
    copy = tmp_path / "copy-from-second-dock.mp4"
    copy.write_bytes(video.read_bytes())
    _, first = bwc("ingest", str(video))
    code, second = bwc("ingest", str(copy))
    assert code == 0
    assert second["evidence_id"] == first["evidence_id"]
    assert second["duplicate"] is True
    # Both receipts sign the same instant, in UTC (SQLite's naive time was signed as is).
    assert second["received_at"] == first["received_at"]
    assert datetime.fromisoformat(second["received_at"]).utcoffset() == timedelta(0)
    from bwc_custody.vault.service import get_signer

    for receipt in (Receipt.model_validate(first), Receipt.model_validate(second)):
        get_signer().public_key.verify(base64.b64decode(receipt.signature),
                                       receipt.signed_bytes())  # raises if it does not verify
    assert len(_rows(Evidence)) == 1
    assert len(_originals(bwc_home)) == 1
    assert [e.action for e in _rows(CustodyEntry)] == [
        "evidence.ingest", "evidence.ingest_duplicate"]


@pytest.mark.parametrize(("args", "field"), [
    (["--recorded-at", "yesterday"], "recorded_at"),
    (["--recorded-at", "2026-03-02T10:15:00"], "recorded_at"),  # no timezone
])
def test_metadata_with_bad_types_is_refused(migrated: str, bwc: Bwc, video: Path,
                                            args: list[str], field: str) -> None:
    code, out = bwc("ingest", str(video), *args)
    assert code == 2
    assert out["error"]["code"] == "invalid_metadata"
    assert any(field in e["loc"] for e in out["error"]["details"]["errors"])
    assert _rows(Evidence) == []


def test_sidecar_unknown_field_and_wrong_type(migrated: str, bwc: Bwc, video: Path,
                                              tmp_path: Path) -> None:
    sidecar = tmp_path / "meta.json"
    sidecar.write_text(json.dumps({"officerid": "typo", "involves_juvenile": "maybe"}))
    code, out = bwc("ingest", str(video), "--metadata", str(sidecar))
    assert code == 2
    assert out["error"]["code"] == "invalid_metadata"
    locs = {tuple(e["loc"]) for e in out["error"]["details"]["errors"]}
    assert ("officerid",) in locs
    assert ("involves_juvenile",) in locs


def test_sidecar_text_with_nul_is_refused_before_anything_is_stored(
        migrated: str, bwc: Bwc, video: Path, tmp_path: Path, bwc_home: Path) -> None:
    sidecar = tmp_path / "meta.json"
    sidecar.write_text(json.dumps({"campus": "Central\u0000High"}))
    code, out = bwc("ingest", str(video), "--metadata", str(sidecar))
    assert code == 2
    assert out["error"]["code"] == "invalid_metadata"
    assert [e["loc"] for e in out["error"]["details"]["errors"]] == [["campus"]]
    assert _rows(Evidence) == []
    assert _originals(bwc_home) == []  # not even an orphan object in the write-once store


def test_export_decrypts_and_verifies(migrated: str, bwc: Bwc, video: Path,
                                      tmp_path: Path) -> None:
    _, out = bwc("ingest", str(video))
    dest = tmp_path / "out.mp4"
    code, exported = bwc("export", out["evidence_id"], "--out", str(dest), "--reason", "court")
    assert code == 0, exported
    assert dest.read_bytes() == video.read_bytes()
    assert exported["verified"] is True
    assert _rows(CustodyEntry)[-1].action == "evidence.export"
    assert _rows(CustodyEntry)[-1].reason == "court"


def test_export_refuses_tampered_object(migrated: str, bwc: Bwc, video: Path, tmp_path: Path,
                                        bwc_home: Path) -> None:
    _, out = bwc("ingest", str(video))
    [obj] = _originals(bwc_home)
    os.chmod(obj, 0o644)
    blob = bytearray(obj.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    obj.write_bytes(bytes(blob))
    dest = tmp_path / "out.mp4"
    code, err = bwc("export", out["evidence_id"], "--out", str(dest))
    assert code == 2
    assert err["error"]["code"] == "integrity_error"
    assert not dest.exists()
    assert list(tmp_path.glob(".out.mp4*")) == []


def test_key_rotation_rewraps_without_rewriting_content(migrated: str, bwc: Bwc, video: Path,
                                                        tmp_path: Path, bwc_home: Path) -> None:
    _, out = bwc("ingest", str(video))
    [obj] = _originals(bwc_home)
    before = obj.read_bytes()
    [row_before] = _rows(StoredObject)
    code, rotated = bwc("keys", "rotate")
    assert code == 0
    assert rotated["rewrapped_objects"] == 1
    [row_after] = _rows(StoredObject)
    assert row_after.kek_id == rotated["active"] != row_before.kek_id
    assert row_after.wrapped_key != row_before.wrapped_key
    assert obj.read_bytes() == before  # content untouched
    # The old KEK can go: everything now opens with the new one.
    (bwc_home / "keys" / f"{row_before.kek_id}.kek").unlink()
    dest = tmp_path / "after-rotation.mp4"
    assert bwc("export", out["evidence_id"], "--out", str(dest))[0] == 0
    assert dest.read_bytes() == video.read_bytes()


def test_keys_never_in_store_or_db(migrated: str, bwc: Bwc, video: Path, bwc_home: Path) -> None:
    bwc("ingest", str(video))
    keks = [p.read_bytes().strip() for p in (bwc_home / "keys").glob("*.kek")]
    assert keks
    import base64

    raw = [base64.b64decode(k) for k in keks]
    blobs = [p.read_bytes() for p in (bwc_home / "objects").rglob("*") if p.is_file()]
    db_file = (bwc_home / "test.db").read_bytes() if (bwc_home / "test.db").exists() else b""
    for secret in raw + keks:
        assert all(secret not in b for b in blobs)
        assert secret not in db_file


def test_unmigrated_database_is_refused(bwc_home: Path, bwc: Bwc, video: Path) -> None:
    code, out = bwc("ingest", str(video))
    assert code == 2
    assert out["error"]["code"] == "database_not_migrated"
    assert "bwc db upgrade" in out["error"]["message"]


def test_killed_mid_ingest_leaves_no_corrupt_original(sqlite_migrated: str, tmp_path: Path,
                                                      bwc_home: Path) -> None:
    """SIGKILL while the CLI is blocked mid-file (fed through a FIFO); then re-ingest."""
    payload = os.urandom(3 * 1024 * 1024)
    fifo = tmp_path / "dock.mp4"
    os.mkfifo(fifo)
    env = {**os.environ, "BWC_HOME": str(bwc_home), "BWC_DATABASE_URL": sqlite_migrated}
    proc = subprocess.Popen([sys.executable, "-m", "bwc_custody", "ingest", str(fifo)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with open(fifo, "wb") as writer:
        writer.write(payload[: len(payload) // 2])
        writer.flush()
        # The CLI has consumed part of the file and waits for more: kill it now.
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert _rows(Evidence) == []
    assert _originals(bwc_home) == []
    full = tmp_path / "full.mp4"
    full.write_bytes(payload)
    done = subprocess.run([sys.executable, "-m", "bwc_custody", "ingest", str(full)], env=env,
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sha256"] == hashlib.sha256(payload).hexdigest()
    assert len(_originals(bwc_home)) == 1
