"""The states of each recording a records request asks for, and the transitions between
them, declared once; and the states of the request around them.

A request asks for one or more recordings (an incident is usually several, from several
officers). Each recording of a request is decided on its own tags, redacted, reviewed and
released, or denied, on its own; this table is the workflow of one such recording. One
table says, for each transition, the states it leaves, the state it enters, the roles that
may take it and whether it needs a written reason (django-fsm's habit: the workflow is data,
applied by one function). `bwc_custody.requests.service` and `bwc_custody.releases.service`
apply it and write the custody entry of every move.

The path to a release: the custodian links the recording (the policy engine decides), has it
redacted and submits one exact redacted file for legal review (`submit`); a legal reviewer
who is not the submitter watches that file and signs off on its SHA-256 (`approve`) or
sends it back with reasons (`return`); the custodian then releases exactly that file
(`release`). Whenever the decision in force changes while a file is in review or approved
(a tag changed), the sign-off no longer matches what the engine says and the recording goes
back to `open` by itself (`void`): nobody can release on a decision that is no longer true.

The request is `open` while any of its recordings is live (or none is linked yet),
`answered` once every recording is released, denied or withdrawn and the written response
has gone out, `closed` when the custodian closed it unanswered (withdrawn, a duplicate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from bwc_custody.errors import BwcError, Forbidden

State = Literal["open", "in_review", "approved", "released", "denied", "closed"]
STATES: Final[tuple[str, ...]] = get_args(State)
INITIAL: Final[str] = "open"
# A decision is re-evaluated (tags changed, evidence linked) only while the request is here.
LIVE_STATES: Final[frozenset[str]] = frozenset({"open", "in_review", "approved"})
# A file is under review or signed off here: a changed decision voids that.
SIGNOFF_STATES: Final[frozenset[str]] = frozenset({"in_review", "approved"})
# Where a recording's part of the answer is settled.
FINAL_STATES: Final[frozenset[str]] = frozenset({"released", "denied", "closed"})

RequestState = Literal["open", "answered", "closed"]
REQUEST_STATES: Final[tuple[str, ...]] = get_args(RequestState)


@dataclass(frozen=True)
class Transition:
    """One move of the workflow: from any of `source` to `target`, by one of `roles`."""

    name: str
    source: frozenset[str]
    target: str
    roles: frozenset[str]
    needs_reason: bool
    description: str
    # Taken by the system when its condition holds, whoever's action caused it; no role.
    automatic: bool = False


TRANSITIONS: Final[dict[str, Transition]] = {
    t.name: t for t in (
        Transition(
            name="submit", source=frozenset({"open"}), target="in_review",
            roles=frozenset({"custodian"}), needs_reason=False,
            description="The custodian submits one redacted file of the linked recording "
                        "for legal review; only a decision that lets something out can be "
                        "submitted, and only once the person count has run."),
        Transition(
            name="approve", source=frozenset({"in_review"}), target="approved",
            roles=frozenset({"legal_reviewer"}), needs_reason=True,
            description="A legal reviewer who did not submit it, and who has watched the "
                        "exact file (all of it, or all but what they attest need not be "
                        "watched, and every flagged range at normal speed: "
                        "review/coverage.py), signs off on its SHA-256 with a written "
                        "basis."),
        Transition(
            name="return", source=frozenset({"in_review"}), target="open",
            roles=frozenset({"legal_reviewer"}), needs_reason=True,
            description="The legal reviewer sends the file back (more to redact, a wrong "
                        "file, facts to check) with written reasons."),
        Transition(
            name="release", source=frozenset({"approved"}), target="released",
            roles=frozenset({"custodian"}), needs_reason=False,
            description="The custodian releases exactly the approved file, after checking "
                        "that the stored bytes still hash to what was signed off."),
        Transition(
            name="deny", source=frozenset({"open"}), target="denied",
            roles=frozenset({"custodian"}), needs_reason=True,
            description="The custodian answers in writing that the record is withheld: the "
                        "exceptions (the decisive rules and their citations), how they "
                        "apply, and the right to appeal to the Attorney General (KRS "
                        "61.880(1)-(2)); only when the decision in force withholds it."),
        Transition(
            name="void", source=SIGNOFF_STATES, target="open",
            roles=frozenset(), needs_reason=True, automatic=True,
            description="The decision in force changed while a file was in review or "
                        "approved: the review or sign-off is void and the request is open."),
        Transition(
            name="close", source=frozenset({"open", "in_review", "approved"}),
            target="closed", roles=frozenset({"custodian"}), needs_reason=True,
            description="The custodian withdraws the recording from the request (not what "
                        "was asked for, a duplicate, the request withdrawn), with a written "
                        "reason; its decisions stay on record."),
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
    if transition is None or transition.automatic:
        raise UnknownTransition(f"no transition {name!r}", allowed=sorted(
            t.name for t in TRANSITIONS.values() if not t.automatic))
    if not roles & transition.roles:
        raise Forbidden(f"only {', '.join(sorted(transition.roles))} may {name} a recording "
                        "of a request", required=sorted(transition.roles))
    if state not in transition.source:
        raise TransitionNotAllowed(
            f"cannot {name} a recording that is {state} in its request",
            state=state, allowed_from=sorted(transition.source))
    return transition


def automatic_transition(name: str, *, state: str) -> Transition | None:
    """The automatic transition `name` if it leaves `state`, else None (nothing to do)."""
    transition = TRANSITIONS[name]
    assert transition.automatic, name
    return transition if state in transition.source else None


def available(*, state: str, roles: frozenset[str]) -> list[Transition]:
    """The transitions a holder of `roles` may take from `state` (what the console offers)."""
    return [t for t in TRANSITIONS.values()
            if not t.automatic and state in t.source and roles & t.roles]
