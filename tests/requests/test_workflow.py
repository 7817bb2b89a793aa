"""The declared workflow table: who may take a transition, and from where."""

from __future__ import annotations

import pytest

from bwc_custody.errors import Forbidden
from review.workflow import (
    INITIAL,
    LIVE_STATES,
    SIGNOFF_STATES,
    STATES,
    TRANSITIONS,
    TransitionNotAllowed,
    UnknownTransition,
    automatic_transition,
    check_transition,
)

CUSTODIAN = frozenset({"custodian"})
REVIEWER = frozenset({"legal_reviewer"})


def test_the_table_names_only_known_states() -> None:
    assert INITIAL in STATES
    for t in TRANSITIONS.values():
        assert t.source <= set(STATES), t.name
        assert t.target in STATES, t.name
        assert bool(t.roles) != t.automatic, f"{t.name}: roles, or automatic, not both"


def test_every_state_is_reached_and_only_the_ends_are_left_by_nothing() -> None:
    assert {t.target for t in TRANSITIONS.values()} == set(STATES)  # open: by return, void
    left = set().union(*(t.source for t in TRANSITIONS.values()))
    assert set(STATES) - left == {"released", "denied", "closed"}
    assert SIGNOFF_STATES <= LIVE_STATES  # a decision that can void a sign-off is remade


def test_the_path_to_a_release_needs_the_custodian_then_the_reviewer_then_the_custodian() -> None:
    state = INITIAL
    for name, roles in (("submit", CUSTODIAN), ("approve", REVIEWER), ("release", CUSTODIAN)):
        other = REVIEWER if roles == CUSTODIAN else CUSTODIAN
        with pytest.raises(Forbidden):
            check_transition(name, state=state, roles=other)
        state = check_transition(name, state=state, roles=roles).target
    assert state == "released"
    with pytest.raises(TransitionNotAllowed):  # nothing is released twice, or unreviewed
        check_transition("release", state="released", roles=CUSTODIAN)
    with pytest.raises(TransitionNotAllowed):
        check_transition("release", state="in_review", roles=CUSTODIAN)
    with pytest.raises(TransitionNotAllowed):
        check_transition("approve", state="open", roles=REVIEWER)


def test_close_is_the_custodians_and_not_after_a_release() -> None:
    for state in ("open", "in_review", "approved"):
        assert check_transition("close", state=state, roles=CUSTODIAN).target == "closed"
    for state in ("closed", "released", "denied"):
        with pytest.raises(TransitionNotAllowed):
            check_transition("close", state=state, roles=CUSTODIAN)
    for roles in (REVIEWER, frozenset({"admin"}), frozenset()):
        with pytest.raises(Forbidden):
            check_transition("close", state="open", roles=roles)
    with pytest.raises(UnknownTransition):
        check_transition("publish", state="open", roles=CUSTODIAN)


def test_void_is_taken_only_by_the_system_and_only_from_review_or_approval() -> None:
    with pytest.raises(UnknownTransition):  # nobody asks for it
        check_transition("void", state="approved", roles=CUSTODIAN | REVIEWER)
    for state in STATES:
        found = automatic_transition("void", state=state)
        assert (found is not None) == (state in SIGNOFF_STATES), state
        if found:
            assert found.target == "open"


def test_only_an_open_request_is_denied_by_the_custodian_and_the_console_offers_what_may_be_done(
) -> None:
    from review.workflow import available

    assert check_transition("deny", state="open", roles=CUSTODIAN).target == "denied"
    for state in ("in_review", "approved", "released", "closed", "denied"):
        with pytest.raises(TransitionNotAllowed):  # a file in review is withdrawn first
            check_transition("deny", state=state, roles=CUSTODIAN)
    with pytest.raises(Forbidden):
        check_transition("deny", state="open", roles=REVIEWER)
    assert {t.name for t in available(state="open", roles=CUSTODIAN)} == {
        "submit", "deny", "close"}
    assert {t.name for t in available(state="in_review", roles=REVIEWER)} == {
        "approve", "return"}
    assert available(state="released", roles=CUSTODIAN | REVIEWER) == []
