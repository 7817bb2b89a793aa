"""The tamper suite (issue 22): an honest world made through the real API (a recording counted
on real footage, redacted, requested, reviewed, released, downloaded, tagged by hand, held,
two checkpoints), then every change an insider can make to the database or the local object
store, one at a time on a fresh copy of that world, each of which `bwc verify` must name.
The count caught/tried is printed (run with -s) and asserted whole."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.requests.test_review import WHY_BLURRED, Desk
from tests.tags.conftest import KID_A, make_clip

__all__ = ["make_clip"]  # the fixture, from the tags tests

pytestmark = pytest.mark.slow


@dataclass
class World:
    """The ids the tamperings aim at."""

    evidence_id: str
    derivative_id: str  # the redacted copy
    signed_id: str  # the copy signed for the request, reviewed and released
    request_id: str
    item_id: str
    auto_tag_id: int
    officer_tag_id: int
    hold_id: int
    first_checkpoint: int  # the tree size of the one before the newest
    newest_checkpoint: int  # its number


class Snapshot:
    """The database and the object store as the world left them, put back before each
    tampering (SQLite: the file; PostgreSQL: a template database)."""

    def __init__(self, db_url: str, home: Path) -> None:
        self.db_url, self.home = db_url, home
        self.copy = home.parent / "snapshot"
        self.pg_name = db_url.rsplit("/", 1)[-1] if db_url.startswith("postgresql") else None
        self.pg_copy = f"snap_{secrets.token_hex(6)}"

    def _admin(self) -> Any:
        import psycopg

        from tests.conftest import _pg_admin_url

        return psycopg.connect(_pg_admin_url(), autocommit=True)

    def _let_go(self) -> None:
        from tests.conftest import _reset_caches

        _reset_caches()
        if self.pg_name:
            with self._admin() as conn:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()", (self.pg_name,))

    def save(self) -> None:
        self._let_go()
        self.copy.mkdir()
        shutil.copytree(self.home / "objects", self.copy / "objects")
        if self.pg_name:
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.pg_copy}" TEMPLATE "{self.pg_name}"')
        else:
            shutil.copy2(self.home / "test.db", self.copy / "test.db")

    def restore(self) -> None:
        self._let_go()
        shutil.rmtree(self.home / "objects")
        shutil.copytree(self.copy / "objects", self.home / "objects")
        if self.pg_name:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE "{self.pg_name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.pg_name}" TEMPLATE "{self.pg_copy}"')
        else:
            for suffix in ("-wal", "-shm"):
                (self.home / f"test.db{suffix}").unlink(missing_ok=True)
            shutil.copy2(self.copy / "test.db", self.home / "test.db")

    def drop(self) -> None:
        if self.pg_name:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_copy}" WITH (FORCE)')


@pytest.fixture
def world(client: TestClient, make_token: Callable[..., str], bwc_home: Path, migrated: str,
          ingest_clip: Callable[..., str], make_clip: Callable[..., Path],
          checkpoint: Callable[[], int], fixed_clock: time_machine.Traveller,
          ) -> Iterator[tuple[World, Snapshot]]:
    """The honest world, and its snapshot."""
    from sqlmodel import select

    from bwc_custody.custody import service as custody
    from bwc_custody.db import session_scope
    from bwc_custody.requests.models import RequestRecording
    from bwc_custody.retention.models import RetentionHold
    from bwc_custody.tags.models import Tag

    desk = Desk(client, make_token, bwc_home, ingest_clip, fixed_clock)
    evidence_id = desk.recording(make_clip([KID_A], per_image=0.6))  # auto tags: a count
    first = checkpoint()  # (the worker may have signed one before: it is not the first)
    derivative = desk.redacted(evidence_id)
    request_id = desk.request(evidence_id)
    assert desk.post(request_id, "review", desk.custodian,
                     {"derivative_id": derivative["id"]}).status_code == 200
    desk.watch_through(derivative, desk.reviewer, request_id)  # the signed copy, played
    assert desk.post(request_id, "approve", desk.reviewer,
                     {"reason": "faces blurred, release"}).status_code == 200
    signed_id = desk.under_review(request_id)["derivative_id"]
    assert desk.post(request_id, "release", desk.custodian, WHY_BLURRED).status_code == 200
    assert desk.download(request_id, desk.parent).status_code == 200
    c = client
    assert c.post(f"/api/v1/evidence/{evidence_id}/tags", headers=desk.custodian, json={
        "name": "multi_student", "reason": "a second student at 0:02"}).status_code == 201
    assert c.request("DELETE", f"/api/v1/evidence/{evidence_id}/tags/multi_student",
                     headers=desk.custodian,
                     json={"reason": "the same student seen twice"}).status_code == 200
    held = c.post(f"/api/v1/evidence/{evidence_id}/holds", headers=desk.custodian, json={
        "kind": "litigation", "reference": "24-CI-0042", "reason": "suit filed"})
    assert held.status_code == 201, held.text
    checkpoint()
    # the tail: after the newest checkpoint (README, "Threat model")
    assert desk.download(request_id, desk.parent).status_code == 200
    with session_scope() as session:
        tags = list(session.exec(select(Tag).where(Tag.evidence_id == evidence_id)))
        item = session.exec(select(RequestRecording)).one()
        hold = session.exec(select(RetentionHold)).one()
        newest = custody.latest_checkpoint(session=session)
        assert newest is not None
        made = World(
            evidence_id=evidence_id, derivative_id=derivative["id"], signed_id=signed_id,
            request_id=request_id,
            item_id=item.id,
            auto_tag_id=next(t.id for t in tags if t.source == "auto" and t.name == "juvenile"
                             and t.removed_at is None),  # type: ignore[misc]
            officer_tag_id=next(t.id for t in tags if t.source == "officer"
                                and t.removed_at is None),  # type: ignore[misc]
            hold_id=hold.id, first_checkpoint=first,  # type: ignore[arg-type]
            newest_checkpoint=newest.index)
    snapshot = Snapshot(migrated, bwc_home)
    snapshot.save()
    yield made, snapshot
    snapshot.drop()


# ---- the tamperings --------------------------------------------------------------------

Dba = Callable[[], Any]
NOW = "2027-03-10T12:00:00+00:00"


def _sql(dba: Dba, *statements: str, **params: Any) -> None:
    with dba() as conn:
        for statement in statements:
            conn.execute(text(statement), params)


def _one(dba: Dba, query: str, **params: Any) -> Any:
    with dba() as conn:
        return conn.execute(text(query), params).scalar()


def _objects(home: Path) -> Path:
    return home / "objects"


@dataclass
class Tampering:
    """One insider change, the issue finding it belongs to, and the finding verify must give
    (its kind, and words its ref and its problem contain)."""

    name: str
    finding: int
    apply: Callable[[World, Dba, Path], None]
    kind: str
    ref: str
    problem: str

    def caught_by(self, report: dict[str, Any], world: World) -> list[str]:
        """The findings of `report` that name this change."""
        ref = self.ref.format(w=world)
        return [f"{f['ref']}: {f['problem']}" for f in report["findings"]
                if f["kind"] == self.kind and ref in f["ref"] and self.problem in f["problem"]]


def _replace_original(w: World, dba: Dba, home: Path) -> None:
    path = _objects(home) / "originals" / w.evidence_id
    other = _objects(home) / "derivatives" / w.evidence_id / w.derivative_id / "redacted.mp4"
    data = other.read_bytes()
    path.unlink()
    path.write_bytes(data)


def _hide_newest_checkpoint(w: World, dba: Dba, home: Path) -> None:
    newest = w.newest_checkpoint
    name = f"checkpoints/{newest:08d}.json"
    (_objects(home) / name).unlink()
    (_objects(home) / ".locks" / (name.replace("/", "__") + ".json")).unlink()
    _sql(dba, 'DELETE FROM custody_checkpoint WHERE "index" = :i',
         "DELETE FROM custody_entry WHERE seq > :n", i=newest, n=w.first_checkpoint)


def _rechain_from(w: World, dba: Dba, home: Path) -> None:
    """Edit seq 3 and recompute every later hash: the chain alone looks perfect."""
    from sqlmodel import Session, col, select

    from bwc_custody.custody import service as custody
    from bwc_custody.custody.models import CustodyEntry
    from bwc_custody.db import get_engine

    with Session(get_engine()) as session:
        rows = list(session.exec(select(CustodyEntry).order_by(col(CustodyEntry.seq))))
        for row in rows:
            session.expunge(row)
    rows[2].reason = "rewritten"
    for i in range(2, len(rows)):
        rows[i].prev_hash = rows[i - 1].entry_hash
        rows[i].entry_hash = custody.entry_digest(rows[i])
    with dba() as conn:
        for row in rows[2:]:
            conn.execute(text("UPDATE custody_entry SET reason = :r, prev_hash = :p, "
                              "entry_hash = :h WHERE seq = :s"),
                         {"r": row.reason, "p": row.prev_hash, "h": row.entry_hash,
                          "s": row.seq})


TAMPERINGS = [
    Tampering("evidence.sha256 edited", 13,
              lambda w, dba, h: _sql(dba, "UPDATE evidence SET sha256 = :s WHERE id = :e",
                                     s="f" * 64, e=w.evidence_id),
              "evidence", "evidence {w.evidence_id}", "sha256"),
    Tampering("the original's stored_object hash and size edited", 13,
              lambda w, dba, h: _sql(dba, "UPDATE stored_object SET sha256 = :s, size = 9 "
                                     "WHERE key = :k", s="e" * 64,
                                     k=f"originals/{w.evidence_id}"),
              "object", "originals/{w.evidence_id}", "the log"),
    Tampering("an automatic tag deleted silently", 13,
              lambda w, dba, h: _sql(dba, "DELETE FROM tag WHERE id = :t", t=w.auto_tag_id),
              "tag", "tag {w.auto_tag_id} (juvenile", "row is gone"),
    Tampering("an officer's tag marked removed without a removal", 13,
              lambda w, dba, h: _sql(dba, "UPDATE tag SET removed_at = :n, removed_by = 'x', "
                                     "removal_reason = 'x' WHERE id = :t",
                                     n=NOW, t=w.officer_tag_id),
              "tag", "tag {w.officer_tag_id}", "removed in its row"),
    Tampering("a tag inserted without a tag.add", 13,
              lambda w, dba, h: _sql(dba, "INSERT INTO tag (evidence_id, name, source, "
                                     "created_at, created_by, reason, evidence) VALUES (:e, "
                                     "'investigation_open', 'custodian', :n, 'x', '', '{}')",
                                     e=w.evidence_id, n=NOW),
              "tag", "investigation_open on evidence", "no custody entry"),
    Tampering("the decision in force: its effect changed", 13,
              lambda w, dba, h: _sql(dba, "UPDATE request_decision SET effect = 'release' "
                                     "WHERE id = (SELECT max(id) FROM request_decision)"),
              "decision", "decision", "effect is 'release'"),
    Tampering("a superseded decision deleted (the history of decisions rewritten)", 13,
              lambda w, dba, h: _sql(dba, "DELETE FROM request_decision WHERE id = "
                                     "(SELECT min(id) FROM request_decision)"),
              "decision", "request {w.request_id}", "has no row"),
    Tampering("a recording of a request moved to another state", 13,
              lambda w, dba, h: _sql(dba, "UPDATE request_recording SET state = 'denied' "
                                     "WHERE id = :i", i=w.item_id),
              "recording", "recording {w.item_id}", "state is 'denied'"),
    Tampering("derivative and review round pointed at the original (finding 1)", 1,
              lambda w, dba, h: _sql(
                  dba, "UPDATE derivative SET sha256 = (SELECT sha256 FROM evidence WHERE "
                  "id = :e) WHERE id = :d", "UPDATE review_round SET sha256 = (SELECT sha256 "
                  "FROM evidence WHERE id = :e)", e=w.evidence_id, d=w.signed_id),
              "round", "review round", "sha256"),
    Tampering("a review round's outcome changed", 13,
              lambda w, dba, h: _sql(dba, "UPDATE review_round SET outcome = 'returned'"),
              "round", "review round", "outcome is 'returned'"),
    Tampering("a review round's signature replaced", 13,
              lambda w, dba, h: _sql(dba, "UPDATE review_round SET signature = 'AAAA'"),
              "round", "review round", "signature"),
    Tampering("a retention hold deleted", 13,
              lambda w, dba, h: _sql(dba, "DELETE FROM retention_hold WHERE id = :i",
                                     i=w.hold_id),
              "hold", "evidence {w.evidence_id}", "has no row"),
    Tampering("a retention hold lifted without a lift", 13,
              lambda w, dba, h: _sql(dba, "UPDATE retention_hold SET lifted_at = :n, "
                                     "lifted_by = 'x', lift_reason = 'x' WHERE id = :i",
                                     n=NOW, i=w.hold_id),
              "hold", "hold {w.hold_id}", "lifted by its row"),
    Tampering("the recording marked destroyed without a disposal", 13,
              lambda w, dba, h: _sql(dba, "UPDATE evidence SET disposed_at = :n, "
                                     "disposed_by = 'x' WHERE id = :e",
                                     n=NOW, e=w.evidence_id),
              "evidence", "evidence {w.evidence_id}", "destroyed without"),
    Tampering("the original's object marked destroyed (so fixity skips it)", 13,
              lambda w, dba, h: _sql(dba, "UPDATE stored_object SET disposed_at = :n "
                                     "WHERE key = :k", n=NOW, k=f"originals/{w.evidence_id}"),
              "object", "originals/{w.evidence_id}", "still in the store"),
    Tampering("a signed custody entry edited", 0,
              lambda w, dba, h: _sql(dba, "UPDATE custody_entry SET reason = 'x' "
                                     "WHERE seq = 3"),
              "entry", "seq 3", "edited"),
    Tampering("a signed custody entry deleted", 0,
              lambda w, dba, h: _sql(dba, "DELETE FROM custody_entry WHERE seq = 3"),
              "entry", "seq 3", "missing"),
    Tampering("signed history rewritten with every hash recomputed", 0, _rechain_from,
              "checkpoint", "checkpoint 1", "rewritten"),
    Tampering("a checkpoint's root replaced", 0,
              lambda w, dba, h: _sql(dba, "UPDATE custody_checkpoint SET root_hash = :r "
                                     'WHERE "index" = 1', r="ab" * 32),
              "checkpoint", "checkpoint 1", "signature does not verify"),
    Tampering("the newest checkpoint removed with its row and the entries after the one "
              "before (finding 4)", 4, _hide_newest_checkpoint,
              "checkpoint", "checkpoint {w.newest_checkpoint}",
              "removed behind the store's back"),
    Tampering("the original's file replaced by another object (finding 16, local)", 16,
              _replace_original, "object", "originals/{w.evidence_id}", "replaced"),
]


def test_every_insider_change_is_named(world: tuple[World, Snapshot], dba: Dba,
                                       run_verify: Callable[..., dict[str, Any]],
                                       bwc_home: Path) -> None:
    made, snapshot = world
    honest = run_verify()
    assert honest["ok"], honest["findings"]
    results: list[tuple[Tampering, list[str], dict[str, Any]]] = []
    for tampering in TAMPERINGS:
        snapshot.restore()
        tampering.apply(made, dba, bwc_home)
        report = run_verify()
        results.append((tampering, tampering.caught_by(report, made), report))
    caught = [t.name for t, hits, _ in results if hits]
    print(f"\ntamper suite: {len(caught)}/{len(TAMPERINGS)} insider changes named by verify")
    for tampering, hits, report in results:
        print(f"  {'caught' if hits else 'MISSED'}  #{tampering.finding or '-'} "
              f"{tampering.name}: {hits[0] if hits else report['findings']}")
    missed = {t.name: r["findings"] for t, hits, r in results if not hits}
    assert not missed, missed


# ---- the evidence package, as handed to a defence attorney (finding 10) -------------------


def _drop(action: str) -> Callable[[dict[str, Any], Path], None]:
    def apply(manifest: dict[str, Any], out: Path) -> None:
        import json

        manifest["entries"] = [e for e in manifest["entries"]
                               if json.loads(e["canonical"])["action"] != action]
    return apply


def _flip_footage(manifest: dict[str, Any], out: Path) -> None:
    path = out / manifest["file"]
    data = bytearray(path.read_bytes())
    data[10] ^= 1
    path.write_bytes(bytes(data))


def _reword_entry(manifest: dict[str, Any], out: Path) -> None:
    import hashlib
    import json

    item = manifest["entries"][1]
    body = json.loads(item["canonical"])
    body["reason"] = "routine"
    item["canonical"] = json.dumps(body, sort_keys=True, separators=(",", ":"))
    item["entry_hash"] = hashlib.sha256(item["canonical"].encode()).hexdigest()


def _resign(manifest: dict[str, Any], out: Path) -> None:
    """Another key over the same checkpoint: consistent, but not the agency's."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from bwc_custody.custody import service as custody
    from storage.keys import Signer

    forger = Signer(Ed25519PrivateKey.generate())
    cp = {**manifest["checkpoint"], "key_id": forger.key_id}
    cp["signature"] = forger.sign(custody.document_signed_bytes(cp))
    manifest.update(checkpoint=cp, key_id=forger.key_id)
    (out / "public_key.pem").write_text(forger.public_pem)


PACKAGE_TAMPERINGS: list[tuple[str, Callable[[dict[str, Any], Path], None], str]] = [
    ("evidence.stream entries left out", _drop("evidence.stream"), "missing from the package"),
    ("evidence.export entries left out", _drop("evidence.export"), "missing from the package"),
    ("the list of entries left out (cut short)", _drop("evidence.package"),
     "does not end with the evidence.package entry"),
    ("a byte of the footage flipped", _flip_footage, "SHA-256 differs"),
    ("an entry reworded, its hash recomputed", _reword_entry, "inclusion proof does not lead"),
    ("re-signed with another key", _resign, "signed by another key"),
]


def test_every_package_change_is_named(package: tuple[Path, str], tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from bwc_custody.vault.service import get_signer

    honest, _ = package

    def verify(out: Path) -> dict[str, Any]:
        proc = subprocess.run([sys.executable, "-I", str(out / "verify_package.py"), str(out),
                               "--key-id", get_signer().key_id],
                              capture_output=True, text=True, cwd=out, check=False)
        return dict(json.loads(proc.stdout))

    assert verify(honest)["ok"]
    caught = []
    for name, apply, expected in PACKAGE_TAMPERINGS:
        out = tmp_path / name.replace(" ", "_")
        shutil.copytree(honest, out)
        manifest = json.loads((out / "manifest.json").read_text())
        apply(manifest, out)
        (out / "manifest.json").write_text(json.dumps(manifest))
        report = verify(out)
        if not report["ok"] and any(expected in p for p in report["problems"]):
            caught.append(name)
        print(f"  {'caught' if name in caught else 'MISSED'}  {name}: {report['problems']}")
    print(f"package tamper suite: {len(caught)}/{len(PACKAGE_TAMPERINGS)} named by "
          "verify_package.py (agency key pinned)")
    assert len(caught) == len(PACKAGE_TAMPERINGS)
