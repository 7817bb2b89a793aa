"""Text with a NUL character is refused with a code on both databases. PostgreSQL cannot
store one: psycopg raised DataError and API callers got a 500; SQLite stored it."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from bwc_custody.roles import Role


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_text_with_nul_is_invalid_input_and_changes_nothing(
        client: TestClient, make_token: Callable[..., str],
        ingest_clip: Callable[..., str]) -> None:
    custodian = _h(make_token(Role.custodian))
    evidence_id = ingest_clip(data=b"clip" * 2000)
    before = client.get(f"/api/v1/evidence/{evidence_id}/tags", headers=custodian).json()

    refused = [
        client.post(f"/api/v1/evidence/{evidence_id}/tags", headers=custodian,
                    json={"name": "juvenile", "reason": "seen\x00on camera"}),
        client.get(f"/api/v1/evidence/{evidence_id}/content", headers=custodian,
                   params={"reason": "court\x00copy"}),
        client.get("/api/v1/evidence/abc%00def", headers=custodian),
    ]
    assert [r.status_code for r in refused] == [422, 422, 422]
    assert {r.json()["error"]["code"] for r in refused} == {"invalid_input"}
    assert [r.json()["error"]["details"]["parameter"] for r in refused[:2]] == [
        "reason", "reason"]
    after = client.get(f"/api/v1/evidence/{evidence_id}/tags", headers=custodian).json()
    assert after == before


def test_a_refusal_with_nul_in_its_path_is_still_logged(
        client: TestClient, make_token: Callable[..., str]) -> None:
    requester = _h(make_token(Role.requester, username="rita"))
    assert client.get("/api/v1/evidence/abc%00def", headers=requester).status_code == 403
    entries = client.get("/api/v1/custody/entries", headers=_h(make_token(Role.auditor)),
                         params={"target_id": "GET /api/v1/evidence/abc\\x00def"}).json()
    assert [(e["action"], e["actor"]) for e in entries] == [("access.denied", "rita")]
