"""Known adults: custodian-only enrolment and removal, logged, encodings stored encrypted."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import httpx2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from bwc_custody.roles import Role
from tests.tags.conftest import ADULT_REF, IDS, KID_C


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _enrol(client: TestClient, token: str, *photos: Path, consent: str = "signed form 2026-014"
           ) -> httpx2.Response:
    files = [("photos", (p.name, p.read_bytes(), "image/jpeg")) for p in photos]
    response: httpx2.Response = client.post(
        "/api/v1/known-adults", headers=_h(token), files=files,
        data={"name": "SRO Barack", "consent": consent})
    return response


def test_enrol_list_remove_logged(client: TestClient, make_token: Callable[..., str]) -> None:
    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope

    custodian = make_token(Role.custodian, username="cust-ka")
    r = _enrol(client, custodian, ADULT_REF, IDS / "train" / "obama" / "obama2.jpg")
    assert r.status_code == 201, r.json()
    adult = r.json()
    assert adult["encoding_count"] == 2
    assert "ciphertext" not in adult
    assert [a["name"] for a in client.get("/api/v1/known-adults",
                                          headers=_h(custodian)).json()] == ["SRO Barack"]
    assert _enrol(client, make_token(Role.officer), ADULT_REF).status_code == 403
    no_reason = client.request("DELETE", f"/api/v1/known-adults/{adult['id']}",
                               headers=_h(custodian), json={})
    assert no_reason.json()["error"]["code"] == "reason_required"
    gone = client.request("DELETE", f"/api/v1/known-adults/{adult['id']}",
                          headers=_h(custodian), json={"reason": "consent withdrawn 2026-04"})
    assert gone.status_code == 200
    assert gone.json()["removed_by"] == "cust-ka"
    assert client.get("/api/v1/known-adults", headers=_h(custodian)).json() == []
    with session_scope() as session:
        log = entries_for(session=session, target_id=str(adult["id"]))
        assert [(e.action, e.actor) for e in log] == [("known_adult.enrol", "cust-ka"),
                                                      ("known_adult.remove", "cust-ka")]
        from bwc_custody.tags.models import KnownAdult

        row = session.get(KnownAdult, adult["id"])
        assert row is not None
        assert row.ciphertext == ""
        assert row.wrapped_key == ""


def test_photo_must_show_one_clear_face(client: TestClient,
                                        make_token: Callable[..., str]) -> None:
    r = _enrol(client, make_token(Role.custodian), IDS / "test" / "obama_and_biden.jpg")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_reference_photo"
    assert r.json()["error"]["details"]["photo"] == 1
    assert r.json()["error"]["details"]["faces"] >= 2


def test_encodings_are_stored_encrypted(sqlite_migrated: str, bwc_home: Path) -> None:
    from sqlalchemy import text

    from bwc_custody.db import get_engine, session_scope
    from bwc_custody.tags import service
    from bwc_custody.vault.service import get_keyring
    from redaction.keepface import load_reference
    from tests.support.actors import LOCAL_OPERATOR

    with session_scope() as session:
        service.enrol_known_adult(session=session, keyring=get_keyring(), name="SRO",
                                  photos=[ADULT_REF.read_bytes()], consent="form on file",
                                  actor=LOCAL_OPERATOR)
    with session_scope() as session:
        loaded = service.load_known_adults(session=session, keyring=get_keyring())
    assert len(loaded) == 1
    assert len(loaded[0].encodings) == 1
    encoding = loaded[0].encodings[0]  # exactly what was stored (jittered encodings vary)
    assert float(np.linalg.norm(encoding - load_reference(ADULT_REF).encoding)) < 0.25
    with get_engine().connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(FULL)"))
    raw = b"".join(p.read_bytes() for p in bwc_home.glob("test.db*"))
    plain = encoding.tobytes()
    for needle in (plain, plain[:64], plain[-64:], base64.b64encode(plain)[:40],
                   repr(float(encoding[0])).encode()):
        assert needle not in raw


def test_keys_rotate_rewraps_known_adults(sqlite_migrated: str) -> None:
    from bwc_custody.db import session_scope
    from bwc_custody.tags import service
    from bwc_custody.vault.service import get_keyring
    from tests.support.actors import LOCAL_OPERATOR

    keyring = get_keyring()
    with session_scope() as session:
        service.enrol_known_adult(session=session, keyring=keyring, name="Staff",
                                  photos=[KID_C.read_bytes()], consent="test consent record",
                                  actor=LOCAL_OPERATOR)
    new = keyring.add_kek()
    with session_scope() as session:
        assert service.rewrap_known_adults(session=session, keyring=keyring, kek_id=new) == 1
        row = service.list_known_adults(session=session)[0]
        assert row.kek_id == new
        assert len(service.load_known_adults(session=session, keyring=keyring)) == 1


@pytest.mark.parametrize("consent", ["", "ok"])
def test_enrolment_needs_a_consent_record(client: TestClient, make_token: Callable[..., str],
                                          consent: str) -> None:
    r = _enrol(client, make_token(Role.custodian), ADULT_REF, consent=consent)
    assert r.status_code == 422
