"""The declared workflow table: who may take a transition, and from where."""

from __future__ import annotations

import pytest

from bwc_custody.errors import Forbidden
from review.workflow import (
    INITIAL,
    STATES,
    TRANSITIONS,
    TransitionNotAllowed,
    UnknownTransition,
    check_transition,
)


def test_the_table_names_only_known_states() -> None:
    assert INITIAL in STATES
    for t in TRANSITIONS.values():
        assert t.source <= set(STATES), t.name
        assert t.target in STATES, t.name
        assert t.roles, f"{t.name} must name who may take it"


def test_close_is_the_custodians_from_open_only() -> None:
    custodian = frozenset({"custodian"})
    assert check_transition("close", state="open", roles=custodian).target == "closed"
    with pytest.raises(TransitionNotAllowed):
        check_transition("close", state="closed", roles=custodian)
    for roles in (frozenset({"legal_reviewer"}), frozenset({"admin"}), frozenset()):
        with pytest.raises(Forbidden):
            check_transition("close", state="open", roles=roles)
    with pytest.raises(UnknownTransition):
        check_transition("release", state="open", roles=custodian)
