"""The keyring on disk: first use from many threads at once makes exactly one KEK."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from storage.keys import Keyring
from tests.concurrency import run_in_threads


def test_simultaneous_first_use_makes_one_kek(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    start = threading.Barrier(8)
    rings: list[Keyring] = []

    def first_use() -> None:
        start.wait()
        rings.append(Keyring(directory).ensure())

    errors = run_in_threads(first_use, 8)
    assert not errors, errors
    assert len(Keyring(directory).kek_ids()) == 1
    # every ring wraps under the one KEK, so each unwraps what any other wrapped
    oid = uuid.uuid4()
    wrapped = rings[0].wrap(b"k" * 32, oid)
    assert {r.active_id for r in rings} == {wrapped.kek_id}
    assert all(r.unwrap(wrapped, oid) == b"k" * 32 for r in rings)


def test_rotation_after_first_use_adds_an_active_kek(tmp_path: Path) -> None:
    ring = Keyring(tmp_path / "keys").ensure()
    first = ring.active_id
    second = ring.add_kek()
    assert second != first
    assert ring.kek_ids() == sorted([first, second])
    assert Keyring(tmp_path / "keys").active_id == second
