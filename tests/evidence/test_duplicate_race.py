"""Two docks sending the same recording at the same moment: one evidence item, one stored
original, and a duplicate receipt for the other (was: a 500 and an orphaned, locked object
on PostgreSQL when both passed the duplicate check before either committed)."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bwc_custody.evidence import service
from bwc_custody.evidence.models import DockMetadata, Evidence
from bwc_custody.vault.models import StoredObject
from tests.concurrency import run_in_threads
from tests.support.actors import LOCAL_OPERATOR


def test_simultaneous_twins_make_one_item(migrated: str, bwc_home: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from bwc_custody.db import session_scope
    from bwc_custody.vault.service import get_keyring, get_signer, get_store

    body = b"the same recording from two docks " * 3000
    real_check = service.get_by_sha256
    both_checking = threading.Barrier(2, timeout=3)

    def racing_check(**kw: Any) -> Evidence | None:
        # Hold each ingest at its duplicate check until the other arrives too; when the
        # content lock works, the second never arrives while the first holds it.
        try:
            both_checking.wait()
        except threading.BrokenBarrierError:
            pass
        return real_check(**kw)

    monkeypatch.setattr(service, "get_by_sha256", racing_check)
    receipts: list[Any] = []

    def ingest() -> None:
        with session_scope() as session:
            receipts.append(service.ingest_stream(
                session=session, store=get_store(), keyring=get_keyring(),
                signer=get_signer(), source=io.BytesIO(body),
                metadata=DockMetadata(officer_id="o-1"), actor=LOCAL_OPERATOR).receipt)

    errors = run_in_threads(ingest, 2)
    assert not errors, errors
    assert sorted(r.duplicate for r in receipts) == [False, True]
    assert len({r.evidence_id for r in receipts}) == 1
    with session_scope() as session:
        assert len(session.exec(select(Evidence)).all()) == 1
        assert len(session.exec(select(StoredObject)).all()) == 1
    originals = [p for p in (bwc_home / "objects").rglob("*") if p.is_file()
                 and "original" in str(p) and not p.name.endswith((".lock", ".json"))]
    assert len(originals) <= 1, originals  # no orphan beside the one item
