"""Generated requests against every operation of the OpenAPI schema, on PostgreSQL, with a
real token of a role each operation admits: no answer may be a server error (5xx).

schemathesis draws each operation's cases from the schema (valid ones, and ones the schema
forbids); some path ids are swapped for those of a recording and a request stored first, so
that cases reach past "not found". Bounded (a few cases per operation, drawn the same way
each run: derandomized) to stay well under two minutes; BWC_SCHEMATHESIS_EXAMPLES raises
the count for a longer hunt (the run of #22 sent 16,551 cases and found one 5xx)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from bwc_custody.roles import Role

pytestmark = [pytest.mark.slow, pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)]
schemathesis = pytest.importorskip("schemathesis")

EXAMPLES = int(os.environ.get("BWC_SCHEMATHESIS_EXAMPLES", "3"))  # per operation and mode


def _role_for(rules: list[frozenset[str]]) -> Role | None:
    """A role every rule of the operation admits (None: a public operation)."""
    if not rules or any("public" in r for r in rules):
        return None
    common = frozenset.intersection(*rules)
    return Role(sorted(common)[0])


def _hunt(operation: Any, mode: Any, headers: dict[str, str], known: dict[str, str],
          sent: list[int], server_errors: list[str]) -> None:
    """Send `operation`'s generated cases of `mode` with `headers`; count them, keep every
    server error."""

    @given(case=operation.as_strategy(generation_mode=mode), use_known=st.booleans())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(case: Any, use_known: bool) -> None:
        if use_known:
            for name, value in known.items():
                if name in (case.path_parameters or {}):
                    case.path_parameters[name] = value
        response = case.call(headers=headers)
        sent.append(response.status_code)
        if response.status_code >= 500:
            server_errors.append(f"{case.method} {case.formatted_path}: "
                                 f"{response.status_code} {response.text[:300]}")

    try:
        check()
    except Unsatisfiable:
        # an operation with nothing the schema constrains has no invalid case to send
        assert mode == "negative", operation.path


def test_generated_requests_get_no_server_error(
        migrated: str, make_token: Callable[..., str], ingest_clip: Callable[..., str]) -> None:
    from schemathesis.generation.modes import GenerationMode

    from bwc_custody.app import create_app
    from bwc_custody.deps import declared_rules

    app = create_app()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    tokens = {role: make_token(role) for role in Role}
    known = {"evidence_id": ingest_clip(data=b"generated " * 4000)}
    rules = declared_rules(app)
    sent: list[int] = []
    server_errors: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        role = _role_for(rules[(operation.method.upper(), operation.path)])
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _hunt(operation, mode, headers, known, sent, server_errors)
    print(f"\nschemathesis: {len(sent)} cases over {len(operations)} operations, "
          f"{sum(s >= 500 for s in sent)} server errors; by status: "
          f"{dict(sorted(Counter(sent).items()))}")
    assert len(sent) >= 200
    assert server_errors == []
