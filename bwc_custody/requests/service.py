"""Records requests: received, linked to the recordings they ask for, each recording decided
by the policy engine, the requester's facts confirmed, closed.

A request names one or more recordings (an incident is usually several, from several
officers and segments). Each recording is decided on its own: the request's facts (who asks,
in what form, what the custodian has confirmed) plus that recording's tags and facts. The
decision in force for a recording is always the engine's answer as things are now: made when
the custodian links it, made again, in the same transaction, whenever a tag or fact of that
recording, or a fact of the request, changes while the recording is live
(`reevaluate_open_requests`, `redecide_request`, called by the flows). Every decision lands in
the custody log with its rule ids and citations; what a changed decision does to a file under
review is the flow's (`flows.requests.settle`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, func, select

from bwc_custody.auth.service import Principal
from bwc_custody.custody import service as custody
from bwc_custody.custody.models import CustodyEntry
from bwc_custody.errors import Forbidden
from bwc_custody.evidence.service import get_or_raise as get_evidence_or_raise
from bwc_custody.evidence.service import require_not_disposed
from bwc_custody.reasons import require_reason
from bwc_custody.requests.errors import (
    ReceivedOnInFuture,
    RecordingNotInRequest,
    RequestNotFound,
)
from bwc_custody.requests.models import (
    FactsUpdate,
    RecordsRequest,
    RequestCreate,
    RequestDecision,
    RequestLetter,
    RequestRecording,
)
from bwc_custody.roles import Role
from bwc_custody.tags.models import AnalysisResult
from bwc_custody.tags.service import effective_tags, recording_facts
from bwc_custody.timeutil import utcnow
from policies.calendar import kentucky_today, response_deadline
from policies.engine import evaluate, parse_facts, whole_heads_rules
from policies.models import Decision, Facts
from review.workflow import (
    FINAL_STATES,
    LIVE_STATES,
    SIGNOFF_STATES,
    Transition,
    TransitionNotAllowed,
)

# Before the person count has run, `juvenile` and `multi_student` may be missing from the
# tags, so a decision made then may be too open; the reviewer is told (it is made again
# when the analysis tags the recording).
NOT_ANALYSED = ("No person-count analysis has finished on this recording: the juvenile and "
                "multi-student tags may be missing. The decision is made again when the "
                "analysis tags it; do not rely on it before then.")


def _is_custodian(actor: Principal) -> bool:
    return actor.has_any({Role.custodian})


def sees_all(actor: Principal) -> bool:
    """Whether `actor` is staff who read every request and its decisions (a requester sees
    only their own, without the provisional decisions or which recordings they are)."""
    return actor.has_any({Role.custodian, Role.legal_reviewer, Role.auditor})


def facts_of(request: RecordsRequest, tags: frozenset[str], *,
             tried_as_adult: bool = False, harm: str | None = None) -> Facts:
    """The policy engine's facts for `request` on a recording with `tags` and facts."""
    return parse_facts({
        "requester_type": request.requester_type, "residency": request.residency,
        "parent_of_depicted": request.parent_of_depicted,
        "relationship_confirmed": request.relationship_confirmed,
        "custodial_parent": request.custodial_parent, "person_tested": request.person_tested,
        "attorney_affidavit": request.attorney_affidavit, "form": request.form,
        "received_on": request.received_on.isoformat(), "tags": sorted(tags),
        "juvenile_tried_as_adult": tried_as_adult, "articulated_harm": harm})


def create_request(*, session: Session, body: RequestCreate, actor: Principal,
                   client_addr: str = "") -> tuple[RecordsRequest, list[Decided]]:
    """Record a request; each recording the custodian names is linked and decided at once."""
    today = kentucky_today()
    if body.received_on is not None and not _is_custodian(actor):
        raise Forbidden("a request is received the day it is submitted; only the custodian "
                        "records an earlier day", field="received_on")
    if body.evidence_ids and not _is_custodian(actor):
        raise Forbidden("only the custodian links a request to recordings",
                        field="evidence_ids")
    received = body.received_on or today
    if received > today:
        raise ReceivedOnInFuture(f"received_on {received} is after today ({today})",
                                 received_on=received.isoformat(), today=today.isoformat())
    request = RecordsRequest(
        description=body.description.strip(), requester_name=body.requester_name.strip(),
        requester_type=body.requester_type, residency=body.residency,
        parent_of_depicted=body.parent_of_depicted, attorney_affidavit=body.attorney_affidavit,
        form=body.form, received_on=received, deadline=response_deadline(received),
        submitted_by=actor.username)
    facts_of(request, frozenset())  # unknown requester types or forms refused before storing
    for evidence_id in body.evidence_ids:  # each refused before anything is stored
        require_not_disposed(get_evidence_or_raise(session=session, evidence_id=evidence_id))
    session.add(request)
    session.flush()
    custody.append(session=session, actor=actor, action="request.create",
                   target_type="records_request", target_id=request.id,
                   client_addr=client_addr,
                   details={"requester_type": request.requester_type, "form": request.form,
                            "residency": request.residency,
                            "received_on": received.isoformat(),
                            "deadline": request.deadline.isoformat()})
    decided = (link_recordings(session=session, request_id=request.id,
                               evidence_ids=body.evidence_ids, actor=actor,
                               client_addr=client_addr) if body.evidence_ids else [])
    return request, decided


def get_or_raise(*, session: Session, request_id: str) -> RecordsRequest:
    """The request with id `request_id`, or RequestNotFound."""
    request = session.get(RecordsRequest, request_id)
    if request is None:
        raise RequestNotFound(f"no records request {request_id}", request_id=request_id)
    return request


def get_visible_or_raise(*, session: Session, request_id: str,
                         actor: Principal) -> RecordsRequest:
    """The request if `actor` may see it: staff see all, a requester only their own (others
    answer not found, so ids reveal nothing)."""
    request = get_or_raise(session=session, request_id=request_id)
    if not sees_all(actor) and request.submitted_by != actor.username:
        raise RequestNotFound(f"no records request {request_id}", request_id=request_id)
    return request


def list_requests(*, session: Session, actor: Principal, state: str | None = None,
                  evidence_id: str | None = None) -> list[RecordsRequest]:
    """Requests `actor` may see, oldest deadline first (staff may ask for those naming one
    recording)."""
    stmt = select(RecordsRequest).order_by(col(RecordsRequest.deadline),
                                           col(RecordsRequest.created_at))
    if not sees_all(actor):
        if evidence_id is not None:  # would tell a requester which recording is theirs
            raise Forbidden("only staff filter requests by evidence", field="evidence_id")
        stmt = stmt.where(RecordsRequest.submitted_by == actor.username)
    if state is not None:
        stmt = stmt.where(RecordsRequest.state == state)
    if evidence_id is not None:
        stmt = stmt.where(col(RecordsRequest.id).in_(
            select(RequestRecording.request_id).where(
                RequestRecording.evidence_id == evidence_id)))
    return list(session.exec(stmt))


def recordings_of(*, session: Session, request_ids: Sequence[str]
                  ) -> dict[str, list[RequestRecording]]:
    """Each request's recordings in the order linked (one query for all)."""
    found: dict[str, list[RequestRecording]] = {i: [] for i in request_ids}
    if request_ids:
        for item in session.exec(select(RequestRecording).where(
                col(RequestRecording.request_id).in_(list(request_ids)))
                .order_by(col(RequestRecording.position))):
            found[item.request_id].append(item)
    return found


def recordings(*, session: Session, request_id: str) -> list[RequestRecording]:
    """The request's recordings in the order linked."""
    return recordings_of(session=session, request_ids=[request_id])[request_id]


def get_recording_or_raise(*, session: Session, request_id: str,
                           item_id: str) -> RequestRecording:
    """One recording of the request (by its id within the request), or not found."""
    item = session.get(RequestRecording, item_id)
    if item is None or item.request_id != request_id:
        raise RecordingNotInRequest(f"request {request_id} has no recording {item_id}",
                                    request_id=request_id, item_id=item_id)
    return item


def find_recording(*, session: Session, request_id: str, ref: str) -> RequestRecording:
    """One recording of the request named as a person would: its position ("2"), its id, or
    its recording's evidence id (or an unambiguous start of either)."""
    items = recordings(session=session, request_id=request_id)
    ref = ref.strip()
    if ref.isdigit() and len(ref) <= 3:  # a position; an id's start may be digits too
        found = [i for i in items if i.position == int(ref)]
    else:
        found = [i for i in items if ref in (i.id, i.evidence_id)] or [
            i for i in items if len(ref) >= 4
            and (i.id.startswith(ref) or i.evidence_id.startswith(ref))]
    if len(found) != 1:
        raise RecordingNotInRequest(
            f"request {request_id} has {'no' if not found else 'more than one'} recording "
            f"{ref!r}", request_id=request_id, ref=ref,
            recordings=[{"position": i.position, "item_id": i.id,
                         "evidence_id": i.evidence_id} for i in items])
    return found[0]


def letters_of(*, session: Session, request_ids: Sequence[str]
               ) -> dict[str, list[RequestLetter]]:
    """Each request's letters, oldest first (one query for all)."""
    found: dict[str, list[RequestLetter]] = {i: [] for i in request_ids}
    if request_ids:
        for letter in session.exec(select(RequestLetter).where(
                col(RequestLetter.request_id).in_(list(request_ids)))
                .order_by(col(RequestLetter.id))):
            found[letter.request_id].append(letter)
    return found


def decisions(*, session: Session, request_id: str,
              item_id: str | None = None) -> list[RequestDecision]:
    """Every decision made on the request (or one of its recordings), oldest first."""
    stmt = select(RequestDecision).where(RequestDecision.request_id == request_id)
    if item_id is not None:
        stmt = stmt.where(RequestDecision.item_id == item_id)
    return list(session.exec(stmt.order_by(col(RequestDecision.id))))


def current_decision(*, session: Session, item_id: str) -> RequestDecision | None:
    """The decision in force on one recording of a request (the newest)."""
    return session.exec(select(RequestDecision)
                        .where(RequestDecision.item_id == item_id)
                        .order_by(col(RequestDecision.id).desc()).limit(1)).first()


def current_decisions(*, session: Session, item_ids: Sequence[str]
                      ) -> dict[str, RequestDecision]:
    """`current_decision` of each recording, in one query."""
    if not item_ids:
        return {}
    newest = (select(func.max(RequestDecision.id))
              .where(col(RequestDecision.item_id).in_(list(item_ids)))
              .group_by(col(RequestDecision.item_id)))
    return {d.item_id: d for d in session.exec(
        select(RequestDecision).where(col(RequestDecision.id).in_(newest)))}


@dataclass(frozen=True)
class Decided:
    """A decision just made on one recording of `request`, and the one it replaced (None for
    the first)."""

    request: RecordsRequest
    item: RequestRecording
    decision: RequestDecision
    previous: RequestDecision | None

    @property
    def contradicts_signoff(self) -> bool:
        """The outcome changed under a file in review or signed off (it must be voided)."""
        return (self.decision.changed and self.previous is not None
                and self.item.state in SIGNOFF_STATES)


def _live_or_raise(request: RecordsRequest, what: str) -> None:
    if request.state != "open":
        raise TransitionNotAllowed(f"request {request.id} is {request.state}: {what}",
                                   state=request.state)


def link_recordings(*, session: Session, request_id: str, evidence_ids: Sequence[str],
                    actor: Principal, client_addr: str = "") -> list[Decided]:
    """The custodian names recordings the request asks for; each is decided on its tags
    (one already linked is left as it is)."""
    custody.lock_log(session)  # as in reevaluate_open_requests: no tag change slips between
    request = get_or_raise(session=session, request_id=request_id)
    _live_or_raise(request, "recordings are linked to an open request only")
    linked = recordings(session=session, request_id=request_id)
    have = {item.evidence_id for item in linked}
    decided: list[Decided] = []
    for evidence_id in dict.fromkeys(evidence_ids):  # each once, in the order given
        # a destroyed recording is answered as no longer existing, not decided on its tags
        require_not_disposed(get_evidence_or_raise(session=session, evidence_id=evidence_id))
        if evidence_id in have:
            continue
        item = RequestRecording(request_id=request.id, evidence_id=evidence_id,
                                position=len(linked) + len(decided) + 1,
                                linked_by=actor.username)
        session.add(item)
        session.flush()
        custody.append(session=session, actor=actor, action="request.link",
                       target_type="records_request", target_id=request.id,
                       client_addr=client_addr,
                       details={"evidence_id": evidence_id, "item_id": item.id,
                                "position": item.position})
        decided.append(_decide(session, request, item, trigger="evidence_linked",
                               actor=actor, client_addr=client_addr))
    return decided


def _live_items(session: Session, *, evidence_id: str | None = None,
                request_id: str | None = None) -> list[RequestRecording]:
    stmt = select(RequestRecording).where(col(RequestRecording.state).in_(sorted(LIVE_STATES)))
    if evidence_id is not None:
        stmt = stmt.where(RequestRecording.evidence_id == evidence_id)
    if request_id is not None:
        stmt = stmt.where(RequestRecording.request_id == request_id)
    return list(session.exec(stmt.order_by(col(RequestRecording.linked_at),
                                           col(RequestRecording.position))))


def whole_heads_asked(*, session: Session, evidence_id: str) -> list[dict[str, Any]]:
    """The live requests for a recording whose decision in force asks for whole heads (issue
    23): each as `request_id`, `item_id`, `position` and the `rules` that ask (id, title,
    citation). Empty when none does."""
    items = _live_items(session, evidence_id=evidence_id)
    current = current_decisions(session=session, item_ids=[i.id for i in items])
    asked = []
    for item in items:
        decision = current.get(item.id)
        rules = whole_heads_rules(decision.decision) if decision is not None else []
        if rules:
            asked.append({"request_id": item.request_id, "item_id": item.id,
                          "position": item.position, "rules": rules})
    return asked


def reevaluate_open_requests(*, session: Session, evidence_id: str, actor: Principal,
                             client_addr: str = "") -> list[Decided]:
    """Decide again every live request for `evidence_id` on its tags as they are now.

    The custody log's lock is taken before the tags are read: two tag changes committed at
    once are then decided one after the other, the second on both changes (read committed
    sees the first once its lock is released), so the newest decision is never made on a
    view missing a tag that is in force.
    """
    custody.lock_log(session)
    return [_decide(session, get_or_raise(session=session, request_id=item.request_id), item,
                    trigger="tags_changed", actor=actor, client_addr=client_addr)
            for item in _live_items(session, evidence_id=evidence_id)]


def redecide_request(*, session: Session, request: RecordsRequest, actor: Principal,
                     trigger: str, client_addr: str = "") -> list[Decided]:
    """Decide every live recording of the request again (its facts changed)."""
    return [_decide(session, request, item, trigger=trigger, actor=actor,
                    client_addr=client_addr)
            for item in _live_items(session, request_id=request.id)]


def update_facts(*, session: Session, request_id: str, body: FactsUpdate, actor: Principal,
                 client_addr: str = "") -> list[Decided]:
    """The custodian records what they learned or checked about the requester; the live
    recordings are decided again. A residency stated after the request for the statement
    restarts the KRS 61.880(1) clock from today (the request is complete only then)."""
    custody.lock_log(session)
    request = get_or_raise(session=session, request_id=request_id)
    _live_or_raise(request, "facts are changed on an open request only")
    changed = {k: v for k, v in body.model_dump(exclude_none=True).items()
               if getattr(request, k) != v}
    if not changed:
        return []
    details: dict[str, Any] = {"changed": changed}
    if changed.get("residency") in ("resident", "nonresident") and request.residency == "unknown":
        today = kentucky_today()
        details |= {"received_on": today.isoformat(), "was_received_on":
                    request.received_on.isoformat(),
                    "clock": "KRS 61.872(2)(a): the request is complete when the statement "
                             "of residency arrives; the five days run from then "
                             "(needs_counsel_review)"}
        request.received_on, request.deadline = today, response_deadline(today)
    for name, value in changed.items():
        setattr(request, name, value)
    session.add(request)
    session.flush()
    custody.append(session=session, actor=actor, action="request.facts",
                   target_type="records_request", target_id=request.id,
                   client_addr=client_addr, details=details)
    return redecide_request(session=session, request=request, actor=actor,
                            trigger="facts_changed", client_addr=client_addr)


def confirm_relationship(*, session: Session, request_id: str, note: str, actor: Principal,
                         client_addr: str = "") -> list[Decided]:
    """The custodian confirms, from a document seen, the relationship the requester claims
    (parent or guardian of a child shown, victim, personal representative); only then does
    the claim count. The live recordings are decided again."""
    if not _is_custodian(actor):
        raise Forbidden("only the custodian confirms a requester's relationship",
                        required=["custodian"])
    text = require_reason(note, "confirming a relationship (the document seen)")
    custody.lock_log(session)
    request = get_or_raise(session=session, request_id=request_id)
    _live_or_raise(request, "a relationship is confirmed on an open request only")
    request.relationship_confirmed = True
    request.relationship_confirmed_by, request.relationship_confirmed_at = (
        actor.username, utcnow())
    request.relationship_note = text
    session.add(request)
    session.flush()
    custody.append(session=session, actor=actor, action="request.relationship_confirmed",
                   target_type="records_request", target_id=request.id,
                   client_addr=client_addr, reason=text,
                   details={"requester_type": request.requester_type,
                            "parent_of_depicted": request.parent_of_depicted})
    return redecide_request(session=session, request=request, actor=actor,
                            trigger="relationship_confirmed", client_addr=client_addr)


def _analysed(session: Session, evidence_id: str) -> bool:
    return session.exec(select(AnalysisResult.id)
                        .where(AnalysisResult.evidence_id == evidence_id).limit(1)
                        ).first() is not None


def _outcome(decision: dict[str, Any]) -> tuple[Any, ...]:
    """What a requester or reviewer would notice: effect, rules, redactions, sign-off."""
    return (decision.get("effect"), [r["id"] for r in decision.get("rules", [])],
            decision.get("redact"), decision.get("requires_legal_signoff"),
            NOT_ANALYSED in decision.get("warnings", []))


def _decide(session: Session, request: RecordsRequest, item: RequestRecording, *,
            trigger: str, actor: Principal, client_addr: str) -> Decided:
    tags = effective_tags(session=session, evidence_id=item.evidence_id)
    known = recording_facts(session=session, evidence_id=item.evidence_id)
    decision: Decision = evaluate(facts_of(request, tags,
                                           tried_as_adult=known.juvenile_tried_as_adult,
                                           harm=known.articulated_harm))
    made = decision.model_dump(mode="json")
    if not _analysed(session, item.evidence_id):
        made["warnings"].append(NOT_ANALYSED)
    before = current_decision(session=session, item_id=item.id)
    changed = before is None or _outcome(before.decision) != _outcome(made)
    rule_ids = [r.id for r in decision.rules]
    entry = custody.append(
        session=session, actor=actor, action="request.decision",
        target_type="records_request", target_id=request.id, client_addr=client_addr,
        details={"evidence_id": item.evidence_id, "item_id": item.id, "trigger": trigger,
                 "effect": decision.effect, "previous_effect": before.effect if before else None,
                 "changed": changed, "tags": sorted(tags), "rule_ids": rule_ids,
                 "citations": [r.citation for r in decision.rules if r.decisive],
                 "requires_legal_signoff": decision.requires_legal_signoff,
                 "redact": decision.redact,
                 "required_actions": [a.code for a in decision.required_actions]})
    row = RequestDecision(request_id=request.id, item_id=item.id, actor=actor.username,
                          trigger=trigger, tags=sorted(tags), effect=decision.effect,
                          rule_ids=rule_ids, decision=made, changed=changed,
                          custody_seq=entry.seq)
    session.add(row)
    session.flush()
    return Decided(request=request, item=item, decision=row, previous=before)


def move(*, session: Session, request: RecordsRequest, item: RequestRecording,
         transition: Transition, actor: Principal, reason: str = "", client_addr: str = "",
         details: dict[str, Any] | None = None) -> CustodyEntry:
    """Put one recording of `request` in `transition`'s target state and log it as
    `request.<name>` (the one place a recording changes state; the caller has checked the
    transition may be taken). Returns the custody entry."""
    before = item.state
    item.state = transition.target
    if transition.target in FINAL_STATES:
        item.answered_at = utcnow()
    if transition.target == "closed":
        item.close_reason = reason
    session.add(item)
    session.flush()
    return custody.append(session=session, actor=actor, action=f"request.{transition.name}",
                          target_type="records_request", target_id=request.id,
                          client_addr=client_addr, reason=reason,
                          details={"transition": transition.name, "item_id": item.id,
                                   "evidence_id": item.evidence_id, "from": before,
                                   "to": transition.target, **(details or {})})


def all_answered(*, session: Session, request: RecordsRequest) -> bool:
    """Whether every recording of the request is released, denied or withdrawn (and at
    least one is linked)."""
    items = recordings(session=session, request_id=request.id)
    return bool(items) and all(item.state in FINAL_STATES for item in items)


def mark(*, session: Session, request: RecordsRequest, state: str, actor: Principal,
         reason: str = "", client_addr: str = "",
         details: dict[str, Any] | None = None) -> CustodyEntry:
    """Put the request itself in `state` (`answered` or `closed`), logged as
    `request.answered` / `request.closed`."""
    before = request.state
    request.state = state
    if state == "answered":
        request.answered_at = utcnow()
    elif state == "closed":
        request.closed_at, request.closed_by, request.close_reason = (
            utcnow(), actor.username, reason)
    session.add(request)
    session.flush()
    return custody.append(session=session, actor=actor, action=f"request.{state}",
                          target_type="records_request", target_id=request.id,
                          client_addr=client_addr, reason=reason,
                          details={"from": before, "to": state, **(details or {})})


def get_for_transition(*, session: Session, request_id: str,
                       item_id: str | None = None
                       ) -> tuple[RecordsRequest, RequestRecording | None]:
    """The request (and one of its recordings) read afresh under the custody log's lock, so
    that two moves (or a move and a tag change) are taken one after the other, each on the
    state the other left."""
    custody.lock_log(session)
    request = session.get(RecordsRequest, request_id, populate_existing=True)
    if request is None:
        raise RequestNotFound(f"no records request {request_id}", request_id=request_id)
    if item_id is None:
        return request, None
    item = session.get(RequestRecording, item_id, populate_existing=True)
    if item is None or item.request_id != request.id:
        raise RecordingNotInRequest(f"request {request_id} has no recording {item_id}",
                                    request_id=request_id, item_id=item_id)
    return request, item


def add_letter(*, session: Session, request: RecordsRequest, kind: str,
               statement: dict[str, Any], signature: str, key_id: str,
               actor: Principal) -> RequestLetter:
    """Keep a letter the server signed (the caller logs its sending)."""
    letter = RequestLetter(request_id=request.id, kind=kind, statement=statement,
                           signature=signature, key_id=key_id, sent_by=actor.username)
    session.add(letter)
    session.flush()
    return letter
