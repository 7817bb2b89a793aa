"""The tus 1.0 upload API: resume, offsets, checksums, termination, finalise, access."""

from __future__ import annotations

import base64
import hashlib
import os
import random
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bwc_custody.db import get_engine
from bwc_custody.evidence.models import Evidence, Receipt
from bwc_custody.roles import Role
from bwc_custody.uploads import staging as upload_staging
from bwc_custody.vault.models import StoredObject

TUS = {"Tus-Resumable": "1.0.0"}
SEG = 64 * 1024  # BWC_SEGMENT_SIZE in tests


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


class Dock:
    """A minimal tus client speaking to the TestClient."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.auth = {"Authorization": f"Bearer {token}"}

    def create(self, length: int, filename: str = "cam.mp4") -> str:
        resp = self.client.post("/api/v1/uploads", headers={
            **TUS, **self.auth, "Upload-Length": str(length),
            "Upload-Metadata": f"filename {_b64(filename)}"})
        assert resp.status_code == 201, resp.text
        assert resp.headers["Tus-Resumable"] == "1.0.0"
        return resp.headers["Location"]

    def patch(self, url: str, offset: int, data: bytes, checksum: bytes | None = None):  # type: ignore[no-untyped-def]
        headers = {**TUS, **self.auth, "Upload-Offset": str(offset),
                   "Content-Type": "application/offset+octet-stream"}
        if checksum is not None:
            headers["Upload-Checksum"] = "sha256 " + base64.b64encode(checksum).decode()
        return self.client.patch(url, content=data, headers=headers)

    def offset(self, url: str) -> int:
        resp = self.client.head(url, headers={**TUS, **self.auth})
        assert resp.status_code == 200
        return int(resp.headers["Upload-Offset"])

    def send_all(self, url: str, data: bytes, start: int = 0, chunk: int = 100_000) -> None:
        pos = start
        while pos < len(data):
            piece = data[pos : pos + chunk]
            resp = self.patch(url, pos, piece, hashlib.sha256(piece).digest())
            assert resp.status_code == 204, resp.text
            pos = int(resp.headers["Upload-Offset"])

    def finalize(self, url: str, **body: object):  # type: ignore[no-untyped-def]
        return self.client.post(f"{url}/finalize", json=body, headers=self.auth)


@pytest.fixture
def dock(client: TestClient, make_token: Callable[..., str]) -> Dock:
    return Dock(client, make_token(Role.dock))


def _evidence() -> list[Evidence]:
    with Session(get_engine()) as session:
        return list(session.exec(select(Evidence)))


def _verify_receipt(client: TestClient, receipt: Receipt) -> None:
    pem = client.get("/api/v1/keys/signing").json()["public_key_pem"]
    key = load_pem_public_key(pem.encode())
    assert isinstance(key, Ed25519PublicKey)
    key.verify(base64.b64decode(receipt.signature), receipt.signed_bytes())  # raises if forged


def test_options_advertises_extensions(client: TestClient) -> None:
    resp = client.options("/api/v1/uploads")
    assert resp.status_code == 204
    assert resp.headers["Tus-Version"] == "1.0.0"
    assert set(resp.headers["Tus-Extension"].split(",")) == {"creation", "checksum", "termination"}
    assert resp.headers["Tus-Checksum-Algorithm"] == "sha256"


def test_full_upload_finalise_receipt(client: TestClient, dock: Dock) -> None:
    # seeded, not os.urandom: now and then random bytes parse as a stream to ffprobe (a CI run
    # read one as video), and this test asserts they are kept as undecodable
    data = random.Random(95).randbytes(3 * SEG + 12345)
    url = dock.create(len(data))
    dock.send_all(url, data, chunk=50_000)  # chunks not aligned to segments
    resp = dock.finalize(url, sha256=hashlib.sha256(data).hexdigest(), officer_id="o-9",
                         device_serial="AXON-123", campus="Central High",
                         recorded_at="2026-03-02T10:15:00-05:00", case_number="24-77",
                         category="hallway incident")
    assert resp.status_code == 200, resp.text
    receipt = Receipt.model_validate(resp.json())
    assert receipt.sha256 == hashlib.sha256(data).hexdigest()
    assert receipt.size == len(data)
    _verify_receipt(client, receipt)
    [evidence] = _evidence()
    assert evidence.id == receipt.evidence_id
    assert (evidence.device_serial, evidence.filename) == ("AXON-123", "cam.mp4")
    assert evidence.media_status == "undecodable"  # random bytes: kept, flagged
    # Finalise is idempotent (a dock that lost the response retries).
    again = dock.finalize(url, sha256=receipt.sha256)
    assert again.status_code == 200
    assert again.json()["evidence_id"] == receipt.evidence_id
    # Staging is gone; the stored object decrypts to the upload.
    assert list(upload_staging.staging_dir().glob(f"{url.rsplit('/', 1)[1]}*")) == []
    from bwc_custody.vault.service import get_keyring, get_store, iter_plaintext

    with Session(get_engine()) as session:
        obj = session.get(StoredObject, evidence.object_key)
        assert obj is not None
        assert b"".join(iter_plaintext(store=get_store(), keyring=get_keyring(), obj=obj)) == data


def test_interrupted_then_resumed_after_restart(client: TestClient, dock: Dock) -> None:
    data = os.urandom(2 * SEG + 999)
    url = dock.create(len(data))
    assert dock.patch(url, 0, data[:SEG + 500]).status_code == 204
    # Power loss on the server: its in-memory hash state is gone.
    upload_staging._HASHERS.clear()
    offset = dock.offset(url)
    assert offset == SEG + 500
    dock.send_all(url, data, start=offset)
    resp = dock.finalize(url, sha256=hashlib.sha256(data).hexdigest())
    assert resp.status_code == 200, resp.text


def test_tiny_chunks_still_progress(client: TestClient, dock: Dock) -> None:
    data = os.urandom(SEG + 10)
    url = dock.create(len(data))
    dock.send_all(url, data, chunk=7_000)
    assert dock.finalize(url, sha256=hashlib.sha256(data).hexdigest()).status_code == 200


def test_wrong_offset_is_409_and_changes_nothing(client: TestClient, dock: Dock) -> None:
    data = os.urandom(1000)
    url = dock.create(len(data))
    assert dock.patch(url, 0, data[:400]).status_code == 204
    resp = dock.patch(url, 100, data[100:])
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "offset_mismatch"
    assert resp.json()["error"]["details"]["server_offset"] == 400
    assert dock.offset(url) == 400


def _patch_together(dock: Dock, url: str, offset: int, pieces: list[bytes]) -> list[int]:
    """PATCH each of `pieces` at `offset`, all at once (one thread each); the statuses, in
    the order of `pieces`."""
    from tests.concurrency import run_in_threads

    statuses: dict[int, int] = {}
    order = iter(range(len(pieces)))

    def send_one() -> None:
        i = next(order)
        statuses[i] = dock.patch(url, offset, pieces[i]).status_code

    assert run_in_threads(send_one, len(pieces)) == []
    return [statuses[i] for i in range(len(pieces))]


def test_two_patches_at_one_offset_only_one_is_taken(client: TestClient, dock: Dock) -> None:
    """#22 finding 14: the staging lock was released before the new offset was committed,
    so a second PATCH at the same offset could read the old offset, overwrite the first
    one's bytes and also get 204. The lock is now held through the commit: of two PATCHes at
    one offset, sent together, exactly one is taken (the other: busy, or the wrong offset),
    in every trial, and the upload then holds the bytes the one taken sent."""
    for _trial in range(20):
        data = os.urandom(3 * SEG + 100)
        url = dock.create(len(data) * 2)
        assert dock.patch(url, 0, data).status_code == 204
        pieces = [os.urandom(SEG + 7), os.urandom(SEG + 7)]
        statuses = _patch_together(dock, url, len(data), pieces)
        taken = [piece for status, piece in zip(statuses, pieces, strict=True) if status == 204]
        assert len(taken) == 1, statuses
        assert set(statuses) <= {204, 409, 423}
        assert dock.offset(url) == len(data) + len(taken[0])
        rest = os.urandom(len(data) - len(taken[0]))
        assert dock.patch(url, len(data) + len(taken[0]), rest).status_code == 204
        resp = dock.finalize(url, sha256=hashlib.sha256(data + taken[0] + rest).hexdigest())
        assert resp.status_code == 200, resp.text


def test_checksum_mismatch_discards_the_chunk(client: TestClient, dock: Dock) -> None:
    data = os.urandom(SEG * 2)
    url = dock.create(len(data))
    dock.send_all(url, data[:SEG + 10], chunk=SEG + 10)
    resp = dock.patch(url, SEG + 10, data[SEG + 10 :], checksum=hashlib.sha256(b"other").digest())
    assert resp.status_code == 460
    assert resp.json()["error"]["code"] == "checksum_mismatch"
    assert dock.offset(url) == SEG + 10
    dock.send_all(url, data, start=SEG + 10)
    assert dock.finalize(url, sha256=hashlib.sha256(data).hexdigest()).status_code == 200


def test_hash_mismatch_at_finalise_ingests_nothing(client: TestClient, dock: Dock) -> None:
    data = os.urandom(5000)
    url = dock.create(len(data))
    dock.send_all(url, data)
    resp = dock.finalize(url, sha256="ab" * 32)
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "hash_mismatch"
    assert _evidence() == []
    resp = dock.finalize(url, sha256="ab" * 32)
    assert resp.status_code == 409  # the upload is rejected for good: upload again
    assert resp.json()["error"]["code"] == "upload_closed"


def test_bad_metadata_loses_nothing(client: TestClient, dock: Dock) -> None:
    data = os.urandom(5000)
    url = dock.create(len(data))
    dock.send_all(url, data)
    resp = dock.finalize(url, recorded_at="not a time", involves_juvenile="perhaps")
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "invalid_metadata"
    assert _evidence() == []
    fixed = dock.finalize(url, recorded_at="2026-03-02T10:15:00Z", involves_juvenile=True)
    assert fixed.status_code == 200, fixed.text
    assert _evidence()[0].involves_juvenile is True


@pytest.mark.parametrize("extra", ['{"gps": NaN}', '{"temp": -Infinity}', '{"big": 1e400}',
                                   '{"note": "\\ud800"}'])
def test_metadata_json_cannot_carry_is_refused_before_anything_is_stored(
        client: TestClient, dock: Dock, extra: str) -> None:
    """NaN, Infinity (1e400 parses as it) and a lone surrogate were stored by nothing
    downstream: a 500 after the original was published, then 409 object_exists for ever
    (#22, finding 2). Now refused first; nothing is stored, and a fixed retry goes through."""
    data = os.urandom(5000)
    url = dock.create(len(data))
    dock.send_all(url, data)
    body = '{"officer_id": "o-1", "extra": ' + extra + "}"
    resp = dock.client.post(f"{url}/finalize", content=body.encode(), headers={
        **dock.auth, "Content-Type": "application/json"})
    assert (resp.status_code, resp.json()["error"]["code"]) == (422, "invalid_metadata"), \
        resp.text
    assert _evidence() == []
    with Session(get_engine()) as session:
        assert list(session.exec(select(StoredObject))) == []
    from bwc_custody.vault.service import get_store

    assert list(get_store().keys()) == []
    fixed = dock.finalize(url, officer_id="o-1", extra={"note": "fine"})
    assert fixed.status_code == 200, fixed.text
    assert _evidence()[0].extra == {"note": "fine"}


def test_a_case_number_is_one_a_case_can_be_closed_with(client: TestClient,
                                                        dock: Dock) -> None:
    """A case number longer than the custody log can name (80) was taken at ingest and could
    never be closed on PostgreSQL (#22, finding 12): one limit, at ingest."""
    data = os.urandom(3000)
    url = dock.create(len(data))
    dock.send_all(url, data)
    resp = dock.finalize(url, case_number="C" * 81)
    assert (resp.status_code, resp.json()["error"]["code"]) == (422, "invalid_metadata")
    assert dock.finalize(url, case_number="C" * 80).status_code == 200


def test_two_docks_same_file_is_one_evidence(client: TestClient,
                                             make_token: Callable[..., str]) -> None:
    data = os.urandom(4000)
    docks = [Dock(client, make_token(Role.dock)) for _ in range(2)]
    urls = [d.create(len(data)) for d in docks]
    for d, url in zip(docks, urls, strict=True):
        d.send_all(url, data)
    receipts = [d.finalize(u).json() for d, u in zip(docks, urls, strict=True)]
    assert receipts[0]["evidence_id"] == receipts[1]["evidence_id"]
    assert [r["duplicate"] for r in receipts] == [False, True]
    assert len(_evidence()) == 1


def test_finalise_before_complete_is_409(client: TestClient, dock: Dock) -> None:
    url = dock.create(5000)
    dock.patch(url, 0, os.urandom(100))
    resp = dock.finalize(url)
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "upload_incomplete"


def test_termination(client: TestClient, dock: Dock) -> None:
    url = dock.create(5000)
    dock.patch(url, 0, os.urandom(100))
    resp = client.delete(url, headers={**TUS, **dock.auth})
    assert resp.status_code == 204
    assert dock.patch(url, 100, b"x").status_code == 409
    assert list(upload_staging.staging_dir().glob(f"{url.rsplit('/', 1)[1]}*")) == []


@pytest.mark.parametrize(("headers", "status", "code"), [
    ({"Upload-Length": "0"}, 422, "empty_file"),
    ({"Upload-Length": str(10**15)}, 413, "upload_too_large"),
    ({"Upload-Length": "10", "Upload-Metadata": "filename !!notbase64"}, 400,
     "invalid_upload_header"),
    ({"Upload-Length": "10", "Tus-Resumable": "0.2.2"}, 412, "tus_version_unsupported"),
])
def test_creation_errors(client: TestClient, make_token: Callable[..., str],
                         headers: dict[str, str], status: int, code: str) -> None:
    token = make_token(Role.dock)
    resp = client.post("/api/v1/uploads", headers={
        **TUS, "Authorization": f"Bearer {token}", **headers})
    assert resp.status_code == status
    assert resp.json()["error"]["code"] == code


def test_patch_protocol_errors(client: TestClient, dock: Dock) -> None:
    url = dock.create(100)
    resp = client.patch(url, content=b"x", headers={**TUS, **dock.auth, "Upload-Offset": "0",
                                                    "Content-Type": "text/plain"})
    assert resp.status_code == 415
    resp = dock.client.patch(url, content=b"x", headers={
        **TUS, **dock.auth, "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream", "Upload-Checksum": "md5 AAAA"})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "checksum_algorithm_unsupported"
    resp = dock.patch(url, 0, os.urandom(101))
    assert resp.status_code == 400  # more than Upload-Length
    assert dock.offset(url) == 0


def test_access_rules(client: TestClient, dock: Dock, make_token: Callable[..., str]) -> None:
    url = dock.create(100)
    assert client.head(url, headers=TUS).status_code == 401
    custodian = {"Authorization": f"Bearer {make_token(Role.custodian)}"}
    assert client.post("/api/v1/uploads", headers={**TUS, **custodian,
                                                   "Upload-Length": "5"}).status_code == 403
    other = {"Authorization": f"Bearer {make_token(Role.dock)}"}
    assert client.head(url, headers={**TUS, **other}).status_code == 404  # not theirs
    assert client.get("/api/v1/evidence", headers=other).status_code == 403


def test_server_dies_between_staging_and_commit(client: TestClient, dock: Dock) -> None:
    """Bytes staged (segments and a new tail) but the new offset never committed."""
    from bwc_custody.uploads.models import Upload
    from bwc_custody.vault.service import get_keyring

    data = os.urandom(3 * SEG + 777)
    url = dock.create(len(data))
    upload_id = url.rsplit("/", 1)[1]
    assert dock.patch(url, 0, data[: SEG + 100]).status_code == 204
    with Session(get_engine()) as session:
        upload = session.get(Upload, upload_id)
        assert upload is not None
        with upload_staging.locked_staging(upload, get_keyring()) as staging:
            staging.feed(data[SEG + 100 : 2 * SEG + 500])
            staging.persist()  # ... and the process dies before record_progress/commit
    upload_staging._HASHERS.clear()
    assert dock.offset(url) == SEG + 100  # the database is the truth
    dock.send_all(url, data, start=SEG + 100)
    resp = dock.finalize(url, sha256=hashlib.sha256(data).hexdigest())
    assert resp.status_code == 200, resp.text
