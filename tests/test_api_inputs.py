"""Integer inputs are bounded to what the database holds: past it the driver overflowed and
the caller got a 500 (found by schemathesis: on SQLite past 2**63 - 1, on PostgreSQL past
2**31 - 1, its INTEGER, the type of every id and sequence column)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bwc_custody.db import BIGINT_MAX, INTEGER_MAX
from bwc_custody.roles import Role

TOO_BIG = INTEGER_MAX + 1
# Byte counts of an upload: BIGINT columns (an upload may be 64 GiB).
BIGINT_INPUTS = {"header:upload-length", "header:upload-offset"}


def _integers(schema: dict[str, Any], spec: dict[str, Any], at: str,
              seen: frozenset[str] = frozenset()) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every integer schema reachable from `schema`, with where it is."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name not in seen:
            yield from _integers(spec["components"]["schemas"][name], spec, f"{at}>{name}",
                                 seen | {name})
        return
    if schema.get("type") == "integer":
        yield at, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _integers(sub, spec, f"{at}.{name}", seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _integers(schema[key], spec, f"{at}[]", seen)
    for key in ("anyOf", "allOf", "oneOf"):
        for sub in schema.get(key, []):
            yield from _integers(sub, spec, at, seen)


def test_every_integer_input_has_a_maximum_the_database_holds(client: TestClient) -> None:
    spec = client.app.openapi()  # type: ignore[attr-defined]
    found, unbounded = [], []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            schemas = [(f"{p['in']}:{p['name']}", p.get("schema", {}))
                       for p in op.get("parameters", [])]
            schemas += [("body", c.get("schema", {}))
                        for c in op.get("requestBody", {}).get("content", {}).values()]
            for at, schema in schemas:
                for inner, integer in _integers(schema, spec, at):
                    found.append(f"{where} {inner}")
                    limit = BIGINT_MAX if inner in BIGINT_INPUTS else INTEGER_MAX
                    # FastAPI writes a body field's bound as a float (2**63 - 1 rounds up).
                    if float(integer.get("maximum", float("inf"))) > float(limit):
                        unbounded.append(f"{where} {inner}")
    assert len(found) >= 10  # the walk sees the table's integers
    assert unbounded == []


@pytest.mark.parametrize(("role", "method", "path", "body"), [
    (Role.custodian, "GET", f"/api/v1/evidence?offset={TOO_BIG}", None),
    (Role.custodian, "POST", f"/api/v1/notifications/{TOO_BIG}/done", {"note": "x"}),
    (Role.custodian, "DELETE", f"/api/v1/known-adults/{TOO_BIG}", None),
    (Role.custodian, "POST", "/api/v1/evidence/{evidence}/redactions",
     {"keep_adults": [TOO_BIG]}),
    (Role.auditor, "GET", f"/api/v1/custody/entries?after_seq={TOO_BIG}", None),
    (Role.auditor, "GET", f"/api/v1/custody/entries/{TOO_BIG}/inclusion", None),
    (Role.admin, "DELETE", f"/api/v1/users/admin/tokens/{TOO_BIG}", None),
])
def test_an_integer_too_big_for_the_database_is_invalid_input(
        client: TestClient, make_token: Callable[..., str], ingest_clip: Callable[..., str],
        role: Role, method: str, path: str, body: dict[str, Any] | None) -> None:
    if "{evidence}" in path:
        path = path.format(evidence=ingest_clip(data=b"clip" * 1000))
    headers = {"Authorization": f"Bearer {make_token(role)}"}
    resp = client.request(method, path, headers=headers, json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "invalid_input"


# ---- #22, finding 15: inputs that gave a 500 are refused with their code ----------------


def test_a_keep_face_photo_that_is_not_base64_is_refused(
        client: TestClient, make_token: Callable[..., str],
        ingest_clip: Callable[..., str]) -> None:
    url = f"/api/v1/evidence/{ingest_clip()}/redactions"
    headers = {"Authorization": f"Bearer {make_token(Role.custodian)}"}
    for data in ("ÿÿÿÿÿÿÿÿ", "日本語の写真", "%%%%"):
        r = client.post(url, headers=headers,
                        json={"keep_photos": [{"name": "child.jpg", "data": data}]})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_reference_photo"


@pytest.mark.parametrize("username", ["a" * 81, "b" * 300, "nul\x00name", "space name"])
def test_a_logon_with_a_name_no_user_can_have_is_refused_and_logged(
        client: TestClient, make_token: Callable[..., str], username: str) -> None:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": "x" * 12,
                                                "grant_type": "password"})
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "invalid_credentials"
    auditor = {"Authorization": f"Bearer {make_token(Role.auditor)}"}
    entries = [e for e in client.get("/api/v1/custody/entries", headers=auditor).json()
               if e["action"] == "auth.login_failed"]
    assert len(entries) == 1
    assert entries[0]["target_id"] == username.replace("\x00", "\\x00")[:80]
    assert entries[0]["details"]["username_length"] == len(username)


@pytest.mark.parametrize("display_name", ["\ud800", "a\udfffb", "d" * 201])
def test_a_display_name_that_cannot_be_stored_is_invalid_input(
        client: TestClient, make_token: Callable[..., str], display_name: str) -> None:
    admin = {"Authorization": f"Bearer {make_token(Role.admin)}"}
    # json.dumps writes a lone surrogate as the escape "\ud800", as a client would send it
    body = json.dumps({"username": "new-user", "roles": ["auditor"],
                       "display_name": display_name})
    r = client.post("/api/v1/users", content=body,
                    headers={**admin, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_input"
    assert client.get("/api/v1/users", headers=admin).json()[-1]["username"] != "new-user"
