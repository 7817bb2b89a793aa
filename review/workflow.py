"""The states of a records request and the transitions between them, declared once.

One table says, for each transition, the states it leaves, the state it enters, the roles
that may take it and whether it needs a written reason (django-fsm's habit: the workflow is
data, applied by one function). `bwc_custody.requests.service` applies it and writes the
custody entry of every move. Triage, legal sign-off and release add rows here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from bwc_custody.errors import BwcError, Forbidden

State = Literal["open", "closed"]
STATES: Final[tuple[str, ...]] = get_args(State)
INITIAL: Final[str] = "open"
# A decision is re-evaluated (tags changed, evidence linked) only while the request is here.
LIVE_STATES: Final[frozenset[str]] = frozenset({"open"})


@dataclass(frozen=True)
class Transition:
    """One move of the workflow: from any of `source` to `target`, by one of `roles`."""

    name: str
    source: frozenset[str]
    target: str
    roles: frozenset[str]
    needs_reason: bool
    description: str


TRANSITIONS: Final[dict[str, Transition]] = {
    t.name: t for t in (
        Transition(
            name="close", source=frozenset({"open"}), target="closed",
            roles=frozenset({"custodian"}), needs_reason=True,
            description="The custodian closes the request (withdrawn, duplicate, answered), "
                        "with a written reason; its decisions stay on record."),
    )
}


class TransitionNotAllowed(BwcError):
    """The request is not in a state this transition leaves."""

    code = "transition_not_allowed"
    status = 409


class UnknownTransition(BwcError):
    code = "unknown_transition"
    status = 422


def check_transition(name: str, *, state: str, roles: frozenset[str]) -> Transition:
    """The transition `name` if a holder of `roles` may take it from `state`, else raise."""
    transition = TRANSITIONS.get(name)
    if transition is None:
        raise UnknownTransition(f"no transition {name!r}", allowed=sorted(TRANSITIONS))
    if not roles & transition.roles:
        raise Forbidden(f"only {', '.join(sorted(transition.roles))} may {name} a request",
                        required=sorted(transition.roles))
    if state not in transition.source:
        raise TransitionNotAllowed(
            f"cannot {name} a request that is {state}",
            state=state, allowed_from=sorted(transition.source))
    return transition
