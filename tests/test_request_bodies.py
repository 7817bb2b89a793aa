"""Request bodies (#22, findings 6 and 17): a body is refused by its declared size, and a
caller who is not admitted is refused, before the server reads a byte of it; a body sent
without a length is cut off at the route's limit; a body that cannot be read, a method a
path lacks and a path that does not exist are answered in the documented error shape.

The body is fed to the real app one piece at a time (tests/support/asgi.py) and the test
counts the pieces the server asked for: before, FastAPI read the whole body (three 400 MB
bodies took a server from 448 MB to 3.57 GB) and only then answered 401."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bwc_custody.roles import Role
from tests.support.asgi import Answer, send

MIB = 1024 * 1024
BIG = 400  # pieces of 1 MiB: the size of the bodies that exhausted the server's memory
NEW_USER = json.dumps({"username": "x", "roles": ["auditor"]}).encode()


def _pieces(count: int = BIG, size: int = MIB) -> Iterator[bytes]:
    """`count` pieces of `size` bytes of a JSON-ish body (one buffer, sent again and again)."""
    piece = b" " * size
    for _ in range(count):
        yield piece


@pytest.fixture
def app(sqlite_migrated: str) -> Any:
    from bwc_custody.app import create_app

    return create_app()


def _code(answer: Answer) -> str:
    return str(answer.json()["error"]["code"])


def test_a_large_body_is_refused_by_its_declared_length_before_anything_is_read(
        app: Any, make_token: Callable[..., str]) -> None:
    length = {"Content-Type": "application/json", "Content-Length": str(BIG * MIB)}
    for who in ({}, {"Authorization": f"Bearer {make_token(Role.admin)}"}):
        answer = send(app, "POST", "/api/v1/users", pieces=_pieces(),
                      headers={**length, **who})
        assert (answer.status, _code(answer), answer.pieces_read) == (413, "body_too_large", 0)
        assert answer.json()["error"]["details"] == {"limit": MIB}


def test_an_unauthenticated_body_without_a_length_is_refused_unread(app: Any) -> None:
    from bwc_custody.auth.tokens import issue_access_token

    expired, _ttl = issue_access_token(user_id=1, username="x", ttl=timedelta(seconds=-120))
    chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    for who in ({}, {"Authorization": "Bearer bwc_not-a-token"},
                {"Authorization": f"Bearer {expired}"}):
        answer = send(app, "POST", "/api/v1/users", pieces=_pieces(), headers={**chunked, **who})
        assert answer.status == 401, answer.body[:300]
        assert _code(answer) in ("unauthenticated", "token_expired")
        assert answer.pieces_read == 0
    # a console form is refused the same way (401 there is the way back to the logon page)
    answer = send(app, "POST", "/console/requests", pieces=_pieces(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"})
    assert (answer.status, answer.headers["location"], answer.pieces_read) == (
        303, "/console/login", 0)


def test_an_admitted_callers_body_is_cut_off_at_the_routes_limit(
        app: Any, make_token: Callable[..., str]) -> None:
    chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked",
               "Authorization": f"Bearer {make_token(Role.admin)}"}
    answer = send(app, "POST", "/api/v1/users", pieces=_pieces(), headers=chunked)
    assert (answer.status, _code(answer)) == (413, "body_too_large")
    assert answer.pieces_read == 2  # the piece that passed 1 MiB, not the 398 after it
    # a public route (the logon) has its limit too
    answer = send(app, "POST", "/api/v1/auth/token", pieces=_pieces(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"})
    assert (answer.status, _code(answer), answer.pieces_read) == (413, "body_too_large", 2)
    # and a body within the limit is taken as before
    answer = send(app, "POST", "/api/v1/users", pieces=iter([NEW_USER]),
                  headers={**chunked, "Content-Length": str(len(NEW_USER))})
    assert answer.status == 201, answer.body


def test_routes_that_take_photos_take_more_and_the_upload_patch_streams(
        client: TestClient, make_token: Callable[..., str],
        ingest_clip: Callable[..., str]) -> None:
    custodian = {"Authorization": f"Bearer {make_token(Role.custodian)}"}
    evidence_id = ingest_clip()
    not_a_photo = base64.b64encode(b"\x00" * (2 * MIB)).decode()  # over the default limit
    r = client.post(f"/api/v1/evidence/{evidence_id}/redactions", headers=custodian,
                    json={"keep_photos": [{"name": "child.jpg", "data": not_a_photo}]})
    assert r.status_code == 422, r.text[:300]
    assert r.json()["error"]["code"] == "invalid_reference_photo"

    dock = {"Authorization": f"Bearer {make_token(Role.dock)}", "Tus-Resumable": "1.0.0"}
    data = b"\x00\x01" * (3 * MIB // 2)
    made = client.post("/api/v1/uploads", headers={**dock, "Upload-Length": str(len(data))})
    r = client.patch(made.headers["Location"], content=data, headers={
        **dock, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert (r.status_code, r.headers["Upload-Offset"]) == (204, str(len(data)))


@pytest.mark.parametrize(("body", "content_type"), [
    (b'{"username": "x", "roles": [', "application/json"),
    (b'{"username": "\xff\xfe"}', "application/json"),
    (b"\xff\xfe\x00", "application/json"),
])
def test_a_body_that_is_not_json_is_malformed_body(
        client: TestClient, make_token: Callable[..., str], body: bytes,
        content_type: str) -> None:
    r = client.post("/api/v1/users", content=body, headers={
        "Authorization": f"Bearer {make_token(Role.admin)}", "Content-Type": content_type})
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"error"}
    assert r.json()["error"]["code"] == "malformed_body"
    assert set(r.json()["error"]) == {"code", "message", "details"}


def test_a_method_a_path_lacks_and_a_path_that_does_not_exist(client: TestClient) -> None:
    r = client.put("/api/v1/keys/signing")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert r.json()["error"]["details"] == {"allowed": ["GET"]}
    assert r.headers["allow"] == "GET"
    r = client.get("/api/v1/no/such/route")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")


def test_the_schema_names_each_bodys_limit_and_refusals(client: TestClient) -> None:
    spec = client.app.openapi()  # type: ignore[attr-defined]
    users = spec["paths"]["/api/v1/users"]["post"]
    assert users["x-body-limit"] == MIB
    assert "`body_too_large`" in users["responses"]["413"]["description"]
    assert "`malformed_body`" in users["responses"]["400"]["description"]
    redactions = spec["paths"]["/api/v1/evidence/{evidence_id}/redactions"]["post"]
    assert redactions["x-body-limit"] == 5 * 14_000_000 + MIB  # five photos inline
    assert spec["paths"]["/api/v1/uploads/{upload_id}"]["patch"]["x-body-limit"] == "streamed"
    assert "413" not in spec["paths"]["/api/v1/auth/me"]["get"]["responses"]
