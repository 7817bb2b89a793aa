"""Default deny: every route in the OpenAPI table, called by every role and by every kind of
bad credential, answers exactly as its declared rule says. A route missing from EXPECTED,
or declaring no rule, fails here."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from bwc_custody.roles import Role

R = Role
PUBLIC = frozenset({"public"})
ALL = frozenset(r.value for r in Role)
METADATA = frozenset({"officer", "custodian", "legal_reviewer", "auditor"})
UPLOADERS = frozenset({"dock", "officer"})
ADMIN = frozenset({"admin"})
AUDITOR = frozenset({"auditor"})
REQUEST_READERS = frozenset({"custodian", "legal_reviewer", "auditor", "requester"})

EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/v1/evidence"): METADATA,
    ("GET", "/api/v1/evidence/{evidence_id}"): METADATA,
    ("GET", "/api/v1/evidence/{evidence_id}/content"): frozenset({"custodian", "legal_reviewer"}),
    ("POST", "/api/v1/evidence/{evidence_id}/package"): frozenset({"custodian"}),
    ("GET", "/api/v1/keys/signing"): PUBLIC,
    ("GET", "/api/v1/keys/c2pa"): PUBLIC,
    ("GET", "/api/v1/keys/c2pa/roots.pem"): PUBLIC,
    ("GET", "/api/v1/evidence/{evidence_id}/tags"): METADATA,
    ("POST", "/api/v1/evidence/{evidence_id}/tags"): frozenset({"custodian"}),
    ("DELETE", "/api/v1/evidence/{evidence_id}/tags/{name}"): frozenset({"custodian"}),
    ("GET", "/api/v1/evidence/{evidence_id}/analysis"): frozenset({"custodian"}),
    ("POST", "/api/v1/evidence/{evidence_id}/analysis"): frozenset({"custodian"}),
    ("GET", "/api/v1/evidence/{evidence_id}/people"): frozenset({"custodian"}),
    ("POST", "/api/v1/evidence/{evidence_id}/redactions"): frozenset({"custodian"}),
    ("PATCH", "/api/v1/derivatives/{derivative_id}"): frozenset({"custodian"}),
    ("POST", "/api/v1/evidence/{evidence_id}/speech"): frozenset({"custodian"}),
    ("GET", "/api/v1/evidence/{evidence_id}/speech"): frozenset({"custodian"}),
    ("GET", "/api/v1/evidence/{evidence_id}/speech/{speech_id}/transcript"): frozenset(
        {"custodian"}),
    ("GET", "/api/v1/evidence/{evidence_id}/derivatives"): frozenset(
        {"custodian", "legal_reviewer", "auditor"}),
    ("GET", "/api/v1/derivatives/{derivative_id}"): frozenset(
        {"custodian", "legal_reviewer", "auditor"}),
    ("GET", "/api/v1/derivatives/{derivative_id}/content"): frozenset(
        {"custodian", "legal_reviewer"}),
    ("GET", "/api/v1/derivatives/{derivative_id}/manifest"): frozenset(
        {"custodian", "legal_reviewer"}),
    ("GET", "/api/v1/jobs"): frozenset({"custodian", "legal_reviewer", "auditor", "admin"}),
    ("GET", "/api/v1/jobs/{job_id}"): frozenset({"custodian", "legal_reviewer", "auditor",
                                                  "admin"}),
    ("POST", "/api/v1/jobs/{job_id}/cancel"): frozenset({"custodian", "auditor", "admin"}),
    ("GET", "/api/v1/known-adults"): frozenset({"custodian"}),
    ("POST", "/api/v1/known-adults"): frozenset({"custodian"}),
    ("DELETE", "/api/v1/known-adults/{adult_id}"): frozenset({"custodian"}),
    ("GET", "/api/v1/notifications"): frozenset({"custodian"}),
    ("POST", "/api/v1/notifications/{notification_id}/done"): frozenset({"custodian"}),
    ("POST", "/api/v1/requests"): frozenset({"custodian", "requester"}),
    ("GET", "/api/v1/requests"): REQUEST_READERS,
    ("GET", "/api/v1/requests/{request_id}"): REQUEST_READERS,
    ("GET", "/api/v1/requests/{request_id}/decisions"): frozenset(
        {"custodian", "legal_reviewer", "auditor"}),
    ("POST", "/api/v1/requests/{request_id}/recordings"): frozenset({"custodian"}),
    ("PATCH", "/api/v1/requests/{request_id}/facts"): frozenset({"custodian"}),
    ("POST", "/api/v1/requests/{request_id}/relationship"): frozenset({"custodian"}),
    ("POST", "/api/v1/requests/{request_id}/close"): frozenset({"custodian"}),
    ("POST", "/api/v1/requests/{request_id}/recordings/{item_id}/close"): frozenset(
        {"custodian"}),
    ("POST", "/api/v1/requests/{request_id}/recordings/{item_id}/review"): frozenset(
        {"custodian"}),
    ("POST", "/api/v1/requests/{request_id}/recordings/{item_id}/deny"): frozenset(
        {"custodian"}),
    ("POST", "/api/v1/requests/{request_id}/recordings/{item_id}/approve"): frozenset(
        {"legal_reviewer"}),
    ("POST", "/api/v1/requests/{request_id}/recordings/{item_id}/coverage"): frozenset(
        {"legal_reviewer"}),
    ("GET", "/api/v1/requests/{request_id}/recordings/{item_id}/coverage"): frozenset(
        {"legal_reviewer"}),
    ("POST", "/api/v1/requests/{request_id}/recordings/{item_id}/return"): frozenset(
        {"legal_reviewer"}),
    ("POST", "/api/v1/requests/{request_id}/recordings/{item_id}/release"): frozenset(
        {"custodian"}),
    ("GET", "/api/v1/requests/{request_id}/recordings/{item_id}/release/content"): frozenset(
        {"custodian", "requester"}),
    ("POST", "/api/v1/requests/{request_id}/delay-notice"): frozenset({"custodian"}),
    ("POST", "/api/v1/requests/{request_id}/residency-request"): frozenset({"custodian"}),
    ("POST", "/api/v1/requests/{request_id}/appeals"): frozenset(
        {"custodian", "legal_reviewer"}),
    ("POST", "/api/v1/requests/{request_id}/appeals/{appeal_id}/decision"): frozenset(
        {"custodian", "legal_reviewer"}),
    ("GET", "/api/v1/requests/{request_id}/appeals"): frozenset(
        {"custodian", "legal_reviewer", "auditor"}),
    ("GET", "/api/v1/requests/{request_id}/rounds"): frozenset(
        {"custodian", "legal_reviewer", "auditor"}),
    ("GET", "/api/v1/evidence/{evidence_id}/facts"): frozenset(
        {"custodian", "legal_reviewer", "auditor"}),
    ("PUT", "/api/v1/evidence/{evidence_id}/facts"): frozenset({"custodian"}),
    ("GET", "/api/v1/evidence/{evidence_id}/retention"): frozenset(
        {"custodian", "legal_reviewer", "auditor"}),
    ("GET", "/api/v1/retention/due"): frozenset({"custodian", "legal_reviewer", "auditor"}),
    ("POST", "/api/v1/evidence/{evidence_id}/holds"): frozenset({"custodian", "legal_reviewer"}),
    ("POST", "/api/v1/evidence/{evidence_id}/holds/{hold_id}/lift"): frozenset(
        {"custodian", "legal_reviewer"}),
    ("POST", "/api/v1/evidence/{evidence_id}/dispose"): frozenset({"custodian"}),
    ("POST", "/api/v1/retention/cases"): frozenset({"custodian", "legal_reviewer"}),
    ("OPTIONS", "/api/v1/uploads"): PUBLIC,
    ("POST", "/api/v1/uploads"): UPLOADERS,
    ("HEAD", "/api/v1/uploads/{upload_id}"): UPLOADERS,
    ("PATCH", "/api/v1/uploads/{upload_id}"): UPLOADERS,
    ("DELETE", "/api/v1/uploads/{upload_id}"): UPLOADERS,
    ("POST", "/api/v1/uploads/{upload_id}/finalize"): UPLOADERS,
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): PUBLIC,
    ("GET", "/api/v1/auth/me"): ALL,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users/{username}/disable"): ADMIN,
    ("POST", "/api/v1/users/{username}/enable"): ADMIN,
    ("POST", "/api/v1/users/{username}/reset"): ADMIN,
    ("POST", "/api/v1/users/{username}/mfa"): ADMIN,
    ("PUT", "/api/v1/users/{username}/roles"): ADMIN,
    ("GET", "/api/v1/users/{username}/tokens"): ADMIN,
    ("POST", "/api/v1/users/{username}/tokens"): ADMIN,
    ("DELETE", "/api/v1/users/{username}/tokens/{token_id}"): ADMIN,
    ("GET", "/api/v1/custody/entries"): AUDITOR,
    ("GET", "/api/v1/custody/entries/{seq}/inclusion"): AUDITOR,
    ("GET", "/api/v1/custody/consistency"): AUDITOR,
    ("GET", "/api/v1/custody/checkpoints"): AUDITOR,
    ("POST", "/api/v1/custody/checkpoints"): frozenset({"auditor", "admin"}),
    ("POST", "/api/v1/custody/verify"): AUDITOR,
}


def _operations(client: TestClient) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in client.app.openapi()["paths"].items()
            for method in item}


def test_every_route_declares_exactly_the_expected_rule(client: TestClient) -> None:
    from bwc_custody.deps import declared_rules

    # the API's routes; the console's pages have their own table (tests/console)
    declared = {op: rules for op, rules in declared_rules(client.app).items()  # type: ignore[arg-type]
                if op[1].startswith("/api/")}
    operations = _operations(client)
    assert operations == set(declared), "the OpenAPI table and the route table disagree"
    missing = sorted(operations - set(EXPECTED))
    assert not missing, f"routes without an expected rule in this test: {missing}"
    assert not sorted(set(EXPECTED) - operations), "EXPECTED names routes that do not exist"
    for op, rules in declared.items():
        assert len(rules) == 1, f"{op} must declare exactly one allow(...) rule, has {rules}"
        assert rules[0] == EXPECTED[op], f"{op} declares {sorted(rules[0])}"


def _url(path: str) -> str:
    ints = {"token_id", "seq", "adult_id", "notification_id", "hold_id"}
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1) in ints
                  else "00000000-0000-4000-8000-000000000000", path)


def test_allow_deny_matrix(client: TestClient, make_token: Callable[..., str],
                           make_user: Callable[..., int], make_jwt: Callable[..., str],
                           disable: Callable[[str], None]) -> None:
    callers: dict[str, tuple[str | None, frozenset[str] | None]] = {}
    for role in Role:
        callers[f"token:{role.value}"] = (make_token(role), frozenset({role.value}))
    uid = make_user("jwt-custodian", Role.custodian)
    callers["jwt:custodian"] = (make_jwt(uid, "jwt-custodian"), frozenset({"custodian"}))
    callers["no token"] = (None, None)
    callers["expired jwt"] = (make_jwt(uid, expired=True), None)
    callers["foreign-key jwt"] = (make_jwt(uid, foreign=True), None)
    callers["garbage"] = ("not-a-token", None)
    gone = make_user("gone", *Role)
    gone_api = make_token(Role.admin, username="gone-dock")
    gone_jwt = make_jwt(gone, "gone")
    disable("gone")
    disable("gone-dock")
    callers["disabled user's jwt"] = (gone_jwt, None)
    callers["disabled user's api token"] = (gone_api, None)

    wrong: list[str] = []
    for method, path in sorted(_operations(client)):
        rule = EXPECTED[(method, path)]
        for name, (token, roles) in callers.items():
            headers = {"Tus-Resumable": "1.0.0"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            status = client.request(method, _url(path), headers=headers).status_code
            if rule == PUBLIC or (roles is not None and roles & rule):
                ok = status not in (401, 403) and status < 500
                want = "admitted"
            elif roles is None:
                ok, want = status == 401, "401"
            else:
                ok, want = status == 403, "403"
            if not ok:
                wrong.append(f"{method} {path} as {name}: got {status}, want {want}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", [Role.officer, Role.admin, Role.requester, Role.dock])
def test_roles_without_footage_access_never_get_content(
    client: TestClient, make_token: Callable[..., str], role: Role
) -> None:
    """Officers, admins, requesters (school staff, parents) and docks have no path to footage."""
    token = make_token(role)
    r = client.get(_url("/api/v1/evidence/{evidence_id}/content"), params={"reason": "curious"},
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
