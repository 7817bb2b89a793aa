"""The OpenAPI schema tells an integrator what they may send and what can come back: each
route's refusals with their codes (read from the code that runs the route), and the closed
vocabularies as enums."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bwc_custody.errors import BwcError
from policies.vocabulary import EFFECTS, FORMS, REQUESTER_TYPES, TAGS
from review.workflow import REQUEST_STATES, STATES


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    from bwc_custody.app import create_app

    return create_app(check_schema=False).openapi()


def _codes(operation: dict[str, Any], status: str) -> set[str]:
    found = operation["responses"].get(status, {}).get("description", "")
    return set(re.findall(r"`([a-z_0-9]+)`", found))


def _all_error_codes() -> set[str]:
    todo, codes = [BwcError], set()
    while todo:
        cls = todo.pop()
        codes.add(cls.code)
        todo.extend(cls.__subclasses__())
    return codes


def test_each_route_names_the_refusals_its_code_can_raise(spec: dict[str, Any]) -> None:
    review = spec["paths"]["/api/v1/requests/{request_id}/recordings/{item_id}/review"]["post"]
    assert {"decision_withholds", "analysis_pending", "transition_not_allowed",
            "derivative_mismatch", "action_required", "heads_required"} <= _codes(review, "409")
    assert {"request_not_found", "recording_not_in_request",
            "derivative_not_found"} <= _codes(review, "404")
    dispose = spec["paths"]["/api/v1/evidence/{evidence_id}/dispose"]["post"]
    assert {"retention_not_due", "object_locked"} <= _codes(dispose, "409")
    assert "evidence_disposed" in _codes(dispose, "410")


def test_access_refusals_follow_the_declared_roles(spec: dict[str, Any]) -> None:
    from bwc_custody.app import create_app
    from bwc_custody.deps import PUBLIC, declared_rules

    checked = 0
    for (method, path), rules in declared_rules(create_app(check_schema=False)).items():
        operation = spec["paths"].get(path, {}).get(method.lower())
        if operation is None:
            continue  # not in the schema (the console's pages)
        checked += 1
        if any(PUBLIC in r for r in rules):
            assert "forbidden" not in _codes(operation, "403"), (method, path)
        else:
            assert "unauthenticated" in _codes(operation, "401"), (method, path)
            assert "forbidden" in _codes(operation, "403"), (method, path)
    assert checked > 60


def test_every_documented_code_is_a_real_error_in_the_error_shape(
        spec: dict[str, Any]) -> None:
    known = _all_error_codes()
    documented: set[str] = set()
    for operations in spec["paths"].values():
        for operation in operations.values():
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    assert answer["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorResponse"}
                    documented |= _codes(operation, status)
    assert documented
    assert documented <= known, documented - known
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert set(spec["components"]["schemas"]["ErrorDetail"]["required"]) == {
        "code", "message", "details"}


def test_closed_vocabularies_are_enums(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    create = schemas["RequestCreate"]["properties"]
    assert create["requester_type"]["enum"] == list(REQUESTER_TYPES)
    assert create["form"]["enum"] == list(FORMS)
    assert schemas["TagCreate"]["properties"]["name"]["enum"] == list(TAGS)
    assert schemas["DecisionRead"]["properties"]["effect"]["enum"] == list(EFFECTS)
    assert schemas["RecordingView"]["properties"]["state"]["enum"] == list(STATES)
    assert schemas["RequestView"]["properties"]["state"]["enum"] == list(REQUEST_STATES)
