"""Optional: each newest checkpoint head sent to a witness (a real HTTP server on loopback)
by C2SP tlog-witness add-checkpoint: old size, RFC 6962 consistency proof, signed
tlog-checkpoint note; retried while the witness is down, one retry after a 409, refusals
reported."""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.s3server import free_port
from tests.support.witness import NAME, Witness, cosigned_message, running_witness

ORIGIN = "sheriff.example.gov/bwc-custody"


def _configure(monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    from bwc_custody.config import get_settings

    port = free_port()
    url = f"http://127.0.0.1:{port}"  # the submission prefix; /add-checkpoint is added
    monkeypatch.setenv("BWC_WITNESS_URL", url)
    monkeypatch.setenv("BWC_LOG_ORIGIN", ORIGIN)
    get_settings.cache_clear()
    return port, url


def _head(size: int) -> bytes:
    """The root hash of our checkpoint of `size` entries."""
    from sqlmodel import select

    from bwc_custody.custody.models import Checkpoint
    from bwc_custody.db import session_scope

    with session_scope() as session:
        cp = session.exec(select(Checkpoint).where(Checkpoint.tree_size == size)).one()
        return bytes.fromhex(cp.root_hash)


def _publications() -> list[tuple[int, str, str | None]]:
    from sqlmodel import select

    from bwc_custody.custody.models import CheckpointPublication
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return [(p.checkpoint_index, p.witness_url, p.cosignature)
                for p in session.exec(select(CheckpointPublication)
                                      .order_by(CheckpointPublication.id))]


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
    from bwc_custody.custody import merkle
    from bwc_custody.db import get_engine
    from bwc_custody.jobs.worker import publish_if_configured
    from bwc_custody.vault.service import get_signer

    port, url = _configure(monkeypatch)
    engine = get_engine()
    append_entries(3)
    first = checkpoint()
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
        second = checkpoint()
        assert publish_if_configured(engine).to_dict() == {
            "checkpoint": 3, "published": [url], "failed": {}}
    # the first request: old 0 and no proof; the second: old = the first head, its proof
    assert witness.requests[0].startswith("old 0\n\n" + ORIGIN + "\n")
    head, _, note = witness.requests[1].partition("\n\n")
    old_line, *proof_lines = head.split("\n")
    assert old_line == f"old {first}"
    assert proof_lines
    proof = [base64.b64decode(line) for line in proof_lines]
    assert merkle.verify_consistency(first, second, _head(first), _head(second), proof)
    origin, tree_size, root_b64, blank = note.split("\n")[:4]
    assert (origin, int(tree_size), blank) == (ORIGIN, second, "")
    assert base64.b64decode(root_b64) == _head(second)
    assert (witness.size, witness.root) == (second, _head(second))
    # each cosignature is kept, and verifies under the witness's key over the head it took
    kept = _publications()
    assert [(i, u) for i, u, _ in kept] == [(1, url), (3, url)]
    cosignature = kept[1][2]
    assert cosignature is not None
    dash, name, b64 = cosignature.rstrip("\n").split(" ")
    blob = base64.b64decode(b64)
    assert (dash, name) == ("\u2014", NAME)
    (timestamp,) = struct.unpack(">Q", blob[4:12])
    witness.key.public_key().verify(blob[12:], cosigned_message(timestamp, note.partition(
        "\n\n")[0] + "\n"))
    # a note signed by another key is refused by the witness, and nothing is recorded
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    strict = Witness(origin=ORIGIN, public_key=Ed25519PrivateKey.generate().public_key())
    append_entries(1)
    checkpoint()
    with running_witness(port, strict):
        refused = publish_if_configured(engine)
    assert refused.failed[url] == (f"HTTP 403 (from old size {second}): "
                                   "no signature by this log's key")
    assert strict.notes == []
    assert len(_publications()) == 2


def test_the_witness_verifies_the_proof(
        migrated: str, monkeypatch: pytest.MonkeyPatch, append_entries: Callable[..., None],
        checkpoint: Callable[[], int]) -> None:
    """The test witness's check is a real RFC 6962 verification: the proof we send passes,
    the same request with one proof hash changed does not (422), and the head stays."""
    from bwc_custody.db import get_engine
    from bwc_custody.jobs.worker import publish_if_configured
    from bwc_custody.vault.service import get_signer

    port, _ = _configure(monkeypatch)
    append_entries(5)
    first = checkpoint()
    append_entries(4)
    checkpoint()
    witness = Witness(origin=ORIGIN, public_key=get_signer().public_key, size=first,
                      root=_head(first))
    with running_witness(port, witness):
        publish_if_configured(get_engine())
    genuine = witness.requests[-1]
    head, _, note = genuine.partition("\n\n")
    old_line, *proof_lines = head.split("\n")
    wrong = base64.b64encode(hashlib.sha256(b"forged").digest()).decode()
    for i in range(len(proof_lines)):
        forged = "\n".join([old_line, *proof_lines[:i], wrong, *proof_lines[i + 1:]])
        again = Witness(origin=ORIGIN, public_key=get_signer().public_key, size=first,
                        root=_head(first))
        assert again.add_checkpoint(forged + "\n\n" + note)[:1] == (422,)
        assert (again.size, again.notes) == (first, [])
        assert again.add_checkpoint(genuine)[0] == 200


def test_a_witness_holding_another_size_is_answered_from_it(
        migrated: str, monkeypatch: pytest.MonkeyPatch, append_entries: Callable[..., None],
        checkpoint: Callable[[], int]) -> None:
    """We have no record of this witness (old 0), but it cosigned our head of size 3 (say,
    before the database was restored): it answers 409 with its size, and the one retry from
    that size, with its proof, is cosigned."""
    from bwc_custody.db import get_engine
    from bwc_custody.jobs.worker import publish_if_configured
    from bwc_custody.vault.service import get_signer

    port, url = _configure(monkeypatch)
    append_entries(3)
    first = checkpoint()
    append_entries(4)
    second = checkpoint()
    witness = Witness(origin=ORIGIN, public_key=get_signer().public_key, size=first,
                      root=_head(first))
    with running_witness(port, witness):
        outcome = publish_if_configured(get_engine())
    assert (outcome.published, outcome.failed) == ([url], {})
    assert [r.split("\n")[0] for r in witness.requests] == ["old 0", f"old {first}"]
    assert (witness.size, witness.root) == (second, _head(second))
    assert [(i, u) for i, u, c in _publications() if c] == [(2, url)]


def test_an_inconsistent_head_is_refused_and_reported(
        migrated: str, monkeypatch: pytest.MonkeyPatch, append_entries: Callable[..., None],
        checkpoint: Callable[[], int]) -> None:
    """A witness holding another history at size 3 (a fork: the root it was shown is not
    ours) refuses our proof (422); reported after one retry, nothing recorded. One holding
    more than our newest checkpoint (our log rolled back) is reported without a retry."""
    from bwc_custody.db import get_engine
    from bwc_custody.jobs.worker import publish_if_configured
    from bwc_custody.vault.service import get_signer

    port, url = _configure(monkeypatch)
    engine = get_engine()
    append_entries(3)
    first = checkpoint()
    append_entries(4)
    second = checkpoint()
    forked = Witness(origin=ORIGIN, public_key=get_signer().public_key, size=first,
                     root=hashlib.sha256(b"another history").digest())
    with running_witness(port, forked):
        outcome = publish_if_configured(engine)
        assert outcome.failed[url] == (f"HTTP 422 (from old size {first}): "
                                       "consistency proof does not verify")
        assert len(forked.requests) == 2
        assert publish_if_configured(engine).failed[url] == outcome.failed[url]
        assert len(forked.requests) == 4  # the next pass tries again, once more each
    assert (forked.size, forked.notes, outcome.published, _publications()) == (
        first, [], [], [])
    ahead = Witness(origin=ORIGIN, public_key=get_signer().public_key, size=second + 5,
                    root=hashlib.sha256(b"more").digest())
    with running_witness(port, ahead):
        beyond = publish_if_configured(engine)
    assert beyond.failed[url] == (
        f"HTTP 409: the witness holds size {second + 5}, beyond our newest checkpoint "
        f"(size {second}): a fork or a rollback of our log")
    assert len(ahead.requests) == 1
    assert _publications() == []


def test_with_witness_keys_only_a_cosignature_that_verifies_is_kept(
        migrated: str, monkeypatch: pytest.MonkeyPatch, append_entries: Callable[..., None],
        checkpoint: Callable[[], int]) -> None:
    """BWC_WITNESS_KEYS: a cosignature by another key is not a publication (reported,
    nothing recorded, tried again); under the witness's own key it is kept."""
    from bwc_custody.config import get_settings
    from bwc_custody.db import get_engine
    from bwc_custody.jobs.worker import publish_if_configured
    from bwc_custody.vault.service import get_signer

    port, url = _configure(monkeypatch)
    engine = get_engine()
    append_entries(3)
    size = checkpoint()
    witness = Witness(origin=ORIGIN, public_key=get_signer().public_key)
    impostor = Witness(origin=ORIGIN, public_key=get_signer().public_key)
    monkeypatch.setenv("BWC_WITNESS_KEYS", impostor.vkey())
    get_settings.cache_clear()
    with running_witness(port, witness):
        unverified = publish_if_configured(engine)
        assert unverified.published == []
        assert unverified.failed[url].startswith(
            f"HTTP 200, but no line of its cosignature verifies under BWC_WITNESS_KEYS ({NAME})")
        assert _publications() == []
        monkeypatch.setenv("BWC_WITNESS_KEYS", f"{impostor.vkey()}, {witness.vkey()}")
        get_settings.cache_clear()
        kept = publish_if_configured(engine)
    assert (kept.published, kept.failed) == ([url], {})
    # it took the head on the first pass: the second starts from 0, is told its size, and
    # is cosigned again from there
    assert [r.split("\n")[0] for r in witness.requests] == ["old 0", "old 0", f"old {size}"]
    assert [(i, u) for i, u, c in _publications() if c] == [(1, url)]


@pytest.mark.parametrize(("text", "problem"), [
    ("witness.example/w1", "is not name+keyhash+key"),
    ("witness.example/w1+zz+AAAA", "the key hash is not hex or the key not base64"),
    ("witness.example/w1+00000000+" + base64.b64encode(b"\x04" + b"k" * 31).decode(),
     "not an Ed25519 (0x01) or cosignature/v1 (0x04) key"),
    ("witness.example/w1+00000000+" + base64.b64encode(b"\x04" + b"k" * 32).decode(),
     "the key hash does not match the name and key"),
])
def test_a_malformed_witness_key_is_refused_naming_the_setting(
        bwc_home: object, monkeypatch: pytest.MonkeyPatch, text: str, problem: str) -> None:
    from bwc_custody.config import get_settings
    from bwc_custody.errors import BwcError

    monkeypatch.setenv("BWC_WITNESS_KEYS", text)
    get_settings.cache_clear()
    with pytest.raises(BwcError) as refused:
        get_settings()
    assert refused.value.code == "invalid_settings"
    assert str(refused.value).startswith("BWC_WITNESS_KEYS: ")
    assert problem in str(refused.value)


def test_a_cosignature_verifies_only_over_the_head_it_signed() -> None:
    """Both signed-note key types: cosignature/v1 (timestamped) and plain Ed25519; a changed
    size, another key's line, or a changed time does not verify."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from bwc_custody.custody.witness import key_hash, note_body
    from storage.signed_note import WitnessKey, cosigned_by
    from tests.support.witness import cosignature_key_id

    body = note_body(origin=ORIGIN, tree_size=7, root_hash="ab" * 32)
    other = note_body(origin=ORIGIN, tree_size=8, root_hash="ab" * 32)
    witness = Witness(origin=ORIGIN, public_key=Ed25519PrivateKey.generate().public_key())
    key = WitnessKey.parse(witness.vkey())
    when = 1_700_000_000
    sig = witness.key.sign(cosigned_message(when, body))
    line = "\u2014 {} {}".format(NAME, base64.b64encode(
        cosignature_key_id(NAME, witness.key.public_key()) + struct.pack(">Q", when) + sig
    ).decode())
    assert cosigned_by(line + "\n", body, [key]) == [NAME]
    assert cosigned_by(line + "\n", other, [key]) == []
    later = "\u2014 {} {}".format(NAME, base64.b64encode(
        cosignature_key_id(NAME, witness.key.public_key()) + struct.pack(">Q", when + 1) + sig
    ).decode())
    assert cosigned_by(later + "\n", body, [key]) == []
    stranger = WitnessKey.parse(Witness(origin=ORIGIN, public_key=witness.public_key).vkey())
    assert cosigned_by(line + "\n", body, [stranger]) == []
    # a plain Ed25519 signed-note key (type 0x01) signs the checkpoint text itself
    plain = Ed25519PrivateKey.generate()
    raw = plain.public_key().public_bytes_raw()
    vkey = WitnessKey.parse("{}+{}+{}".format(
        "w2", key_hash("w2", plain.public_key()).hex(),
        base64.b64encode(b"\x01" + raw).decode()))
    note_line = "\u2014 w2 " + base64.b64encode(
        key_hash("w2", plain.public_key()) + plain.sign(body.encode())).decode()
    assert cosigned_by(note_line, body, [vkey, key]) == ["w2"]
    assert cosigned_by(note_line, other, [vkey]) == []


def test_verify_checks_each_kept_cosignature_again(
        migrated: str, monkeypatch: pytest.MonkeyPatch, append_entries: Callable[..., None],
        checkpoint: Callable[[], int], dba: Callable[[], Any]) -> None:
    """`bwc verify` re-checks every kept cosignature over the checkpoint it names under
    BWC_WITNESS_KEYS: a row a DBA edits to hold another key's line is named; without keys
    the report says the cosignatures were not checked, never that they hold."""
    from sqlalchemy import text

    from bwc_custody.config import get_settings
    from bwc_custody.custody.service import latest_checkpoint
    from bwc_custody.custody.witness import note_body
    from bwc_custody.db import get_engine, session_scope
    from bwc_custody.flows.verify_state import verify_everything
    from bwc_custody.jobs.worker import publish_if_configured
    from bwc_custody.vault.service import get_keyring, get_signer, get_store
    from tests.support.witness import cosignature_key_id

    def verified() -> Any:
        get_settings.cache_clear()
        with session_scope() as session:
            return verify_everything(session=session, store=get_store(), keyring=get_keyring(),
                                     signer=get_signer(), fixity=False)

    port, url = _configure(monkeypatch)
    append_entries(3)
    checkpoint()
    witness = Witness(origin=ORIGIN, public_key=get_signer().public_key)
    impostor = Witness(origin=ORIGIN, public_key=get_signer().public_key)
    monkeypatch.setenv("BWC_WITNESS_KEYS", witness.vkey())
    get_settings.cache_clear()
    with running_witness(port, witness):
        assert publish_if_configured(get_engine()).published == [url]
    good = verified()
    assert good.ok, good.findings
    assert good.witness_summary == "1 cosignature from 1 witness, each verified under " \
                                   "BWC_WITNESS_KEYS"
    assert good.to_dict()["witnesses"]["summary"] == good.witness_summary
    monkeypatch.delenv("BWC_WITNESS_KEYS")
    unchecked = verified()
    assert unchecked.witness_summary.endswith("not checked: no BWC_WITNESS_KEYS to check them with")
    monkeypatch.setenv("BWC_WITNESS_KEYS", witness.vkey())
    with session_scope() as session:
        cp = latest_checkpoint(session=session)
        assert cp is not None
        body = note_body(origin=ORIGIN, tree_size=cp.tree_size, root_hash=cp.root_hash)
    when = 1_700_000_000  # another key's line over the same head, under the witness's name
    blob = (cosignature_key_id(NAME, impostor.key.public_key()) + struct.pack(">Q", when)
            + impostor.key.sign(cosigned_message(when, body)))
    forged = f"\u2014 {NAME} {base64.b64encode(blob).decode()}\n"
    with dba() as conn:
        conn.execute(text("UPDATE checkpoint_publication SET cosignature = :c"), {"c": forged})
    caught = verified()
    assert not caught.ok
    assert [(f.kind, f.ref) for f in caught.findings] == [("cosignature", f"checkpoint 1, {url}")]
    assert "under BWC_WITNESS_KEYS" in caught.findings[0].problem
    assert caught.witness_summary.endswith(": 1 does not verify")
    # the row pointed at a checkpoint that was never made
    with dba() as conn:
        conn.execute(text("UPDATE checkpoint_publication SET checkpoint_index = 99"))
    orphan = verified()
    assert [(f.kind, f.ref, f.problem) for f in orphan.findings] == [
        ("cosignature", f"checkpoint 99, {url}",
         "a cosignature of a checkpoint the database lacks")]
