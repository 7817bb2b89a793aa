"""Every response is sent only after its transaction committed."""

from __future__ import annotations

import typing

from bwc_custody.deps import SessionDep, get_session


def test_session_commits_before_the_response_is_sent() -> None:
    depends = typing.get_args(SessionDep)[1]
    assert depends.dependency is get_session
    assert depends.scope == "function"
