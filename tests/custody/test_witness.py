"""Optional: each newest checkpoint head POSTed to a witness (a real HTTP server on
loopback) as a signed tlog-checkpoint note, retried while the witness is down."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from tests.support.s3server import free_port
from tests.support.witness import Witness, running_witness

ORIGIN = "sheriff.example.gov/bwc-custody"


def test_off_by_default(migrated: str, append_entries: Callable[..., None],
                        checkpoint: Callable[[], int]) -> None:
    from bwc_custody.db import get_engine
    from bwc_custody.jobs.worker import publish_if_configured

    append_entries(2)
    checkpoint()
    assert publish_if_configured(get_engine()) is None


def test_the_newest_head_reaches_a_witness_once_it_is_up(
        migrated: str, monkeypatch: pytest.MonkeyPatch, append_entries: Callable[..., None],
        checkpoint: Callable[[], int]) -> None:
    from bwc_custody.config import get_settings
    from bwc_custody.custody import service as custody
    from bwc_custody.db import get_engine, session_scope
    from bwc_custody.jobs.worker import publish_if_configured
    from bwc_custody.vault.service import get_signer

    port = free_port()
    url = f"http://127.0.0.1:{port}/add-checkpoint"
    monkeypatch.setenv("BWC_WITNESS_URL", url)
    monkeypatch.setenv("BWC_LOG_ORIGIN", ORIGIN)
    get_settings.cache_clear()
    engine = get_engine()
    append_entries(3)
    checkpoint()
    down = publish_if_configured(engine)
    assert down.published == []
    assert down.failed[url].startswith("unreachable")
    witness = Witness(origin=ORIGIN, public_key=get_signer().public_key)
    with running_witness(port, witness):
        up = publish_if_configured(engine)
        assert (up.index, up.published, up.failed) == (1, [url], {})
        assert publish_if_configured(engine).published == []  # it has that head already
        append_entries(2)
        checkpoint()
        append_entries(1)
        checkpoint()
        assert publish_if_configured(engine).to_dict() == {
            "checkpoint": 3, "published": [url], "failed": {}}
    assert len(witness.notes) == 2
    with session_scope() as session:
        newest = custody.latest_checkpoint(session=session)
        assert newest is not None
        size, root = newest.tree_size, newest.root_hash
    origin, tree_size, root_b64, blank = witness.notes[1].split("\n")[:4]
    assert (origin, int(tree_size), blank) == (ORIGIN, size, "")
    assert base64.b64decode(root_b64).hex() == root
    # a note signed by another key is refused by the witness, and nothing is recorded
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    strict = Witness(origin=ORIGIN, public_key=Ed25519PrivateKey.generate().public_key())
    append_entries(1)
    checkpoint()
    with running_witness(port, strict):
        refused = publish_if_configured(engine)
    assert refused.failed[url] == "HTTP 403: no signature by this log's key"
    assert strict.notes == []
