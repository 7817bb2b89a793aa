"""Properties: any sequence of appends and checkpoints verifies; any single mutation of
stored bytes (a log field or one byte of an object) fails verification, named."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.support.actors import LOCAL_OPERATOR

PROPS = settings(max_examples=15, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
ops = st.lists(st.one_of(st.integers(1, 6), st.just("checkpoint")), min_size=1, max_size=8)
# What a text column can hold: NUL and lone surrogates are refused with invalid_input
# (tests/test_db_text.py, test_a_lone_surrogate_in_an_entry_is_refused_and_nothing_stored).
column_chars = st.characters(exclude_characters="\x00", exclude_categories=["Cs"])
free_text = st.text(column_chars, min_size=0, max_size=20)


@PROPS
@given(plan=ops, reason=free_text, detail=st.dictionaries(
    st.text(column_chars, max_size=5), st.integers() | st.text(column_chars, max_size=5),
    max_size=3))
def test_appends_and_checkpoints_always_verify(
    sqlite_migrated: str, plan: list[int | str], reason: str, detail: dict[str, object],
) -> None:
    from bwc_custody.custody import service as custody
    from bwc_custody.custody.verify import verify_all
    from bwc_custody.db import session_scope
    from bwc_custody.vault.service import get_keyring, get_signer, get_store

    for op in plan:
        with session_scope() as session:
            if op == "checkpoint":
                if custody.log_size(session=session):
                    custody.create_checkpoint(session=session, signer=get_signer(),
                                              store=get_store())
                continue
            for _ in range(int(op)):
                custody.append(session=session, actor=LOCAL_OPERATOR, action="prop.event",
                               target_id="p", reason=reason, details=detail)
    with session_scope() as session:
        report = verify_all(session=session, store=get_store(), keyring=get_keyring(),
                            signer=get_signer(), fixity=False)
    assert report.ok, report.findings


FIELDS = ["actor", "role", "action", "target_id", "client_addr", "reason", "prev_hash",
          "entry_hash"]


@PROPS
@given(data=st.data())
def test_any_single_mutation_fails_verification(
    migrated: str, append_entries: Callable[..., None], checkpoint: Callable[[], int],
    ingest: Callable[..., str], dba: Callable, run_verify: Callable, data: st.DataObject,
) -> None:
    from bwc_custody.vault.service import get_store

    if not run_verify(fixity=False)["entries"]:
        ingest(b"x" * 70_000)
        append_entries(9)
        checkpoint()
    n = run_verify(fixity=False)["entries"]
    if data.draw(st.booleans(), label="mutate the object"):
        key = _object_keys(migrated)[0]
        path = get_store().path(key)  # type: ignore[attr-defined]
        path.chmod(0o600)
        original = path.read_bytes()
        pos = data.draw(st.integers(0, len(original) - 1), label="byte")
        flip = data.draw(st.integers(1, 255), label="xor")
        path.write_bytes(original[:pos] + bytes([original[pos] ^ flip]) + original[pos + 1:])
        try:
            report = run_verify()
            assert [f["ref"] for f in report["findings"]] == [key]
        finally:
            path.write_bytes(original)
        return
    seq = data.draw(st.integers(1, n), label="seq")
    field = data.draw(st.sampled_from(FIELDS), label="field")
    with dba() as conn:
        old = conn.execute(text(f"SELECT {field} FROM custody_entry WHERE seq = :s"),
                           {"s": seq}).scalar_one()
        new = data.draw(st.text(column_chars, min_size=1, max_size=64).filter(
            lambda v: v != old), label="value")
        conn.execute(text(f"UPDATE custody_entry SET {field} = :v WHERE seq = :s"),
                     {"v": new, "s": seq})
    try:
        report = run_verify(fixity=False)
        assert not report["ok"]
        assert f"seq {seq}" in {f["ref"] for f in report["findings"]}
    finally:
        with dba() as conn:
            conn.execute(text(f"UPDATE custody_entry SET {field} = :v WHERE seq = :s"),
                         {"v": old, "s": seq})
    assert run_verify()["ok"]


def _object_keys(url: str) -> list[str]:
    from bwc_custody.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        keys = [r[0] for r in conn.execute(text("SELECT key FROM stored_object"))]
    engine.dispose()
    return keys


def test_a_lone_surrogate_in_an_entry_is_refused_and_nothing_stored(sqlite_migrated: str) -> None:
    import pytest

    from bwc_custody.custody import service as custody
    from bwc_custody.db import session_scope
    from bwc_custody.errors import InvalidInput

    with session_scope() as session:
        custody.append(session=session, actor=LOCAL_OPERATOR, action="prop.event", target_id="p")
    with pytest.raises(InvalidInput) as refused, session_scope() as session:
        custody.append(session=session, actor=LOCAL_OPERATOR, action="prop.event",
                       target_id="p", details={"note": "half a pair \ud800"})
    assert refused.value.code == "invalid_input"
    with session_scope() as session:
        assert custody.log_size(session=session) == 1
