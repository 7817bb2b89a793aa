"""Released files carry the agency's C2PA manifest, end to end through the real workflow
(real faces, real ffmpeg, real c2pa): submitted, signed, watched, signed off, released and
downloaded; the download verifies as the agency's, its bytes hash to what the reviewer
signed, nothing of the original is in it, and every kind of tampering is caught by
`bwc verify-file` and by the evidence package's standalone verifier.

Runs on the machine's clock (this directory's conftest): c2pa checks certificates by it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa
import pytest
import time_machine
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bwc_custody.cli import app
from bwc_custody.roles import Role
from provenance.ca import AgencyCA
from tests.provenance.conftest import box, top_boxes
from tests.requests.test_review import WATCH, WHY_BLURRED, Desk, _drain, _log
from tests.support.clock import travelling
from tests.support.s3server import free_port
from tests.support.tsa import TsaServer, make_tsa_pki
from tests.tags.conftest import KID_A, make_clip

__all__ = ["make_clip"]
pytestmark = pytest.mark.slow

REGIONS = {"mute": [{"start": 0.2, "end": 0.5, "label": "a student's name"}],
           "boxes": [{"start": 0.0, "end": 0.6, "box": [10, 10, 60, 40], "mode": "black",
                      "label": "a locker number"}]}


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[time_machine.Traveller]:
    """The suite's fixed clock again (this folder's conftest gives the real one): the review
    is watched through by moving it on, and the home's agency CA is dated by the real clock
    (tests/conftest.py), so c2pa's native check still accepts it."""
    with travelling() as traveller:
        yield traveller


@pytest.fixture
def desk(client: TestClient, make_token: Callable[..., str], bwc_home: Path,
         ingest_clip: Callable[..., str], fixed_clock: time_machine.Traveller) -> Desk:
    return Desk(client, make_token, bwc_home, ingest_clip, fixed_clock)


@dataclass
class Released:
    request_id: str
    evidence_id: str
    redacted: dict[str, Any]  # the redacted copy the custodian submitted
    review: dict[str, Any]  # the round, once approved (its signed statement)
    watched: bytes  # what the reviewer streamed before signing off
    letter: dict[str, Any]  # the written response's statement
    path: Path  # the requester's download, as saved
    checkpoint: dict[str, Any]  # the newest custody checkpoint when it was submitted


def _redacted(desk: Desk, evidence_id: str) -> dict[str, Any]:
    r = desk.client.post(f"/api/v1/evidence/{evidence_id}/redactions",
                         json={"regions": REGIONS}, headers=desk.custodian)
    assert r.status_code == 202, r.text
    _drain(desk.home)
    job = desk.client.get(f"/api/v1/jobs/{r.json()['id']}", headers=desk.custodian).json()
    assert job["state"] == "succeeded", job
    return dict(desk.client.get(f"/api/v1/derivatives/{job['result']['derivative_id']}",
                                headers=desk.custodian).json())


def _release(desk: Desk, make_clip: Callable[..., Path], tmp_path: Path) -> Released:
    """One recording redacted, requested, submitted, watched, signed off, released and
    downloaded by the requester (a checkpoint signed before the submission)."""
    evidence_id = desk.recording(make_clip([KID_A], per_image=0.6))
    redacted = _redacted(desk, evidence_id)
    request_id = desk.request(evidence_id)
    auditor = {"Authorization": f"Bearer {desk.make_token(Role.auditor)}"}
    checkpoint = desk.client.post("/api/v1/custody/checkpoints", headers=auditor)
    assert checkpoint.status_code == 201, checkpoint.text
    submitted = desk.post(request_id, "review", desk.custodian,
                          {"derivative_id": redacted["id"], "note": "faces blurred"})
    assert submitted.status_code == 200, submitted.text
    watched = desk.watch_through(redacted, desk.reviewer, request_id)
    approved = desk.post(request_id, "approve", desk.reviewer,
                         {"reason": "every juvenile face blurred; KRS 610.320(3) met"})
    assert approved.status_code == 200, approved.text
    review = approved.json()["recordings"][0]["review"]
    released = desk.post(request_id, "release", desk.custodian, WHY_BLURRED)
    assert released.status_code == 200, released.text
    [letter] = desk.client.get(f"/api/v1/requests/{request_id}",
                               headers=desk.parent).json()["letters"]
    download = desk.download(request_id, desk.parent)
    assert download.status_code == 200
    path = tmp_path / "released.mp4"
    path.write_bytes(download.content)
    return Released(request_id, evidence_id, redacted, review, watched, letter["statement"],
                    path, checkpoint.json())


def _verify_file(path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["verify-file", str(path), *args], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def _store(path: Path) -> dict[str, Any]:
    with open(path, "rb") as fh, c2pa.Reader("video/mp4", fh) as reader:
        store: dict[str, Any] = json.loads(reader.json())
    return store


def test_a_released_file_is_the_agency_s_and_exactly_what_the_reviewer_signed(
        desk: Desk, make_clip: Callable[..., Path], tmp_path: Path) -> None:
    out = _release(desk, make_clip, tmp_path)
    data = out.path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    statement = out.review["statement"]

    # the binding: one SHA-256 for what the reviewer watched, signed, and the requester got
    assert digest == statement["sha256"] == out.review["sha256"]
    assert hashlib.sha256(out.watched).hexdigest() == digest
    assert out.watched == data
    [part] = out.letter["recordings"]
    assert (part["sha256"], part["size"]) == (digest, len(data))
    published = desk.client.get("/api/v1/keys/c2pa").json()
    credentials = statement["content_credentials"]
    assert (credentials["signer_id"], credentials["root_id"]) == (
        published["signer_id"], published["root_id"])
    assert credentials["signed_from"]["derivative_id"] == out.redacted["id"]
    assert part["content_credentials"] == credentials

    # verify-file: trusted under this server's CA, and under the published roots
    code, report = _verify_file(out.path)
    assert code == 0, report
    assert report["verdict"] == "trusted"
    assert report["report"][0].startswith("VALID and TRUSTED")
    roots = tmp_path / "roots.pem"
    roots.write_text(desk.client.get("/api/v1/keys/c2pa/roots.pem").text)
    code, report = _verify_file(out.path, "--root", str(roots), "--sha256", part["sha256"])
    assert code == 0, report
    assert report["failures"] == []

    # what the manifest tells whoever opens the file
    release = report["release"]
    from bwc_custody.db import session_scope
    from bwc_custody.evidence.models import Evidence

    with session_scope() as session:
        evidence = session.get(Evidence, out.evidence_id)
        assert evidence is not None
        original_sha256 = evidence.sha256
    assert release["original_sha256"] == original_sha256
    assert release["request_id"] == out.request_id
    assert release["agency"] == "the law enforcement agency"
    assert release["reviewer_statement"] is None  # it names this file's hash: made after
    assert release["fields"]["redacted_copy"] == {"derivative_id": out.redacted["id"],
                                                  "sha256": out.redacted["sha256"]}
    assert release["fields"]["decision"]["citations"] == statement["citations"]
    for key in ("index", "tree_size", "root_hash", "signature"):
        assert release["checkpoint"][key] == out.checkpoint[key]
    words = release["redaction"]
    assert words.startswith("Every face blurred (automatic detection:")
    assert "1 area(s) blacked out by hand at 0:00.0-0:00.6 (a locker number)" in words
    assert "sound replaced by silence at 0:00.2-0:00.5 (a student's name)" in words
    assert "Withheld under the law:" in words
    actions = [(a["action"], a.get("description")) for a in report["actions"]]
    assert actions == [("c2pa.opened", None), ("c2pa.edited", words)]
    assert report["signer"] == "the law enforcement agency Release Signing"

    # the original is never in it: no ingredient data or thumbnail, none of its bytes
    store = _store(out.path)
    manifest = store["manifests"][store["active_manifest"]]
    [ingredient] = manifest["ingredients"]
    assert set(ingredient) <= {"title", "format", "relationship", "label", "instance_id",
                               "validation_results"}
    assert "thumbnail" not in json.dumps(store)
    original = desk.client.get(f"/api/v1/evidence/{out.evidence_id}/content", params=WATCH,
                               headers=desk.custodian).content
    assert hashlib.sha256(original).hexdigest() == original_sha256
    windows = [original[i:i + 2048] for i in range(0, len(original) - 2048, 16 * 1024)]
    assert windows
    assert not [w for w in windows if w in data]
    unsigned = desk.watch(out.redacted["id"], desk.custodian)
    added = len(data) - len(unsigned)
    assert credentials["manifest_bytes"] <= added < 32 * 1024  # a manifest, not a video

    # the signing is in the custody log, on the recording
    [signed] = [e for e in _log(out.evidence_id) if e.action == "derivative.sign"]
    assert signed.details["sha256"] == digest
    assert signed.details["signed_from"] == out.redacted["id"]
    assert signed.details["request_id"] == out.request_id

    # a signed copy is not submitted again: each submission is signed for its request
    again = desk.request(out.evidence_id)
    r = desk.post(again, "review", desk.custodian,
                  {"derivative_id": statement["derivative_id"]})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "not_a_redacted_copy")


def test_tampering_and_the_wrong_root_are_caught(
        desk: Desk, make_clip: Callable[..., Path], tmp_path: Path, other_clip: Path) -> None:
    out = _release(desk, make_clip, tmp_path)
    data = out.path.read_bytes()
    sha = out.review["statement"]["sha256"]

    def write(name: str, content: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(content)
        return path

    def failed(path: Path, *args: str) -> list[str]:
        code, report = _verify_file(path, *args)
        assert (code, report["verdict"]) == (1, "invalid"), report
        return [f["code"] for f in report["failures"]]

    off, size = box(data, "mdat")
    flipped = bytearray(data)
    flipped[off + size // 2] ^= 0x01
    assert "assertion.bmffHash.mismatch" in failed(write("flipped.mp4", bytes(flipped)))
    in_ftyp = bytearray(data)
    in_ftyp[12] ^= 0x01  # C2PA leaves ftyp outside its hash; the released SHA-256 does not
    assert failed(write("ftyp.mp4", bytes(in_ftyp)), "--sha256", sha) == [
        "bwc.sha256_mismatch"]

    stripped = b"".join(data[o:o + s] for o, s, k in top_boxes(data) if k != "uuid")
    assert failed(write("stripped.mp4", stripped)) == ["bwc.manifest_missing"]
    remuxed = tmp_path / "remuxed.mp4"  # what any re-encode or remux does
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(out.path), "-c", "copy",
                    str(remuxed)], check=True)
    assert failed(remuxed) == ["bwc.manifest_missing"]

    start, size = box(data, "uuid")
    manifest_box = data[start:start + size]
    for name, host in (("into-the-unsigned-copy.mp4", desk.watch(out.redacted["id"],
                                                                 desk.custodian)),
                       ("into-another-file.mp4", other_clip.read_bytes())):
        end_ftyp = sum(box(host, "ftyp"))
        moved = write(name, host[:end_ftyp] + manifest_box + host[end_ftyp:])
        assert "assertion.bmffHash.mismatch" in failed(moved)

    stranger = AgencyCA.create(tmp_path / "stranger", agency="Some Other Agency")
    wrong = write("wrong-root.pem", stranger.trusted_roots_pem().encode())
    code, report = _verify_file(out.path, "--root", str(wrong))
    assert (code, report["verdict"]) == (3, "valid_untrusted"), report
    assert [f["code"] for f in report["failures"]] == ["signingCredential.untrusted"]
    assert report["release"]["request_id"] == out.request_id  # claimed, not trusted

    # the evidence package's standalone verifier: the released copy of its original
    package = tmp_path / "pkg"
    made = CliRunner().invoke(app, ["package", out.evidence_id, "--out", str(package),
                                    "--reason", "court order 5"], catch_exceptions=False)
    assert made.exit_code == 0, made.output

    def run_verifier(path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
        from bwc_custody.vault.service import get_signer

        proc = subprocess.run([sys.executable, "-I", str(package / "verify_package.py"),
                               str(package), "--key-id", get_signer().key_id,
                               "--file", str(path), *extra],
                              capture_output=True, text=True, cwd=package, check=False)
        return proc.returncode, json.loads(proc.stdout)

    code, verdict = run_verifier(out.path, "--sha256", sha)
    assert (code, verdict["problems"]) == (0, []), verdict
    assert verdict["released_file"]["c2pa"] == "Trusted"
    assert verdict["released_file"]["release"]["request_id"] == out.request_id
    for bad in ("flipped.mp4", "stripped.mp4", "into-the-unsigned-copy.mp4"):
        code, verdict = run_verifier(tmp_path / bad)
        assert code == 1, verdict
        assert verdict["problems"], verdict
    code, verdict = run_verifier(tmp_path / "ftyp.mp4", "--sha256", sha)
    assert code == 1
    assert any("is not the expected" in p for p in verdict["problems"])


def test_with_a_tsa_the_release_signature_carries_an_outside_time(
        desk: Desk, make_clip: Callable[..., Path], tmp_path: Path, tsa: TsaServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bwc_custody.config import get_settings

    down = f"http://127.0.0.1:{free_port()}/"  # tried first, and down: the next one is asked
    monkeypatch.setenv("BWC_TSA_URL", f"{down}, {tsa.url}")
    get_settings.cache_clear()
    out = _release(desk, make_clip, tmp_path)
    code, report = _verify_file(out.path)
    assert code == 0, report
    assert report["signed_at"] is not None
    assert report["timestamp"] == "untrusted"  # the TSA's root is not a C2PA anchor
    assert report["tsa_roots_from"].startswith("none (BWC_TSA_CA_FILE not set")
    # with the TSA's CA configured (BWC_TSA_CA_FILE) the time is checked under it
    monkeypatch.setenv("BWC_TSA_CA_FILE", str(tsa.ca_file))
    get_settings.cache_clear()
    code, report = _verify_file(out.path)
    assert code == 0, report
    assert (report["timestamp"], report["timestamp_roots"]) == ("trusted", "tsa_roots")
    assert report["tsa_roots_from"] == str(tsa.ca_file)
    assert any(line.startswith("signed at: ") and line.endswith(
        "(RFC 3161 timestamp TRUSTED under the TSA CA given (BWC_TSA_CA_FILE))")
        for line in report["report"])
    other_ca, _, _ = make_tsa_pki(tmp_path / "other-tsa", name="Other TSA")
    monkeypatch.setenv("BWC_TSA_CA_FILE", str(other_ca))
    get_settings.cache_clear()
    code, report = _verify_file(out.path)
    assert code == 0, report  # the file is still the agency's; only its time is not vouched
    assert report["timestamp"] == "untrusted"
    [signed] = [e for e in _log(out.evidence_id) if e.action == "derivative.sign"]
    assert signed.details["timestamp_url"] == tsa.url
    record = desk.client.get(f"/api/v1/derivatives/{signed.details['derivative_id']}",
                             headers=desk.custodian).json()["c2pa"]
    assert [a["url"] for a in record["tsa_attempts"]] == [down]
