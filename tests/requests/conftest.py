"""Fixtures: evidence taken into custody (no video needed: requests read only its tags)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from bwc_custody.auth.service import LOCAL_OPERATOR


@pytest.fixture
def ingest() -> Callable[..., str]:
    """Factory: take bytes into custody with dock metadata; returns the evidence id."""
    from bwc_custody.db import session_scope
    from bwc_custody.evidence.models import DockMetadata
    from bwc_custody.evidence.service import ingest_stream
    from bwc_custody.vault.service import get_keyring, get_signer, get_store

    def _ingest(**meta: Any) -> str:
        meta.setdefault("officer_id", "officer-1")
        with session_scope() as session:
            receipt = ingest_stream(
                session=session, store=get_store(), keyring=get_keyring(), signer=get_signer(),
                source=io.BytesIO(f"footage {meta} ".encode() * 200),
                metadata=DockMetadata(**meta), actor=LOCAL_OPERATOR, client_addr="127.0.0.1")
        return receipt.evidence_id

    return _ingest
