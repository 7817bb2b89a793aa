"""Requests across domains: decisions made (and the sign-offs they void), recordings and
requests withdrawn with their files under review (and the answer that may then be due), and
the views that join a request with its recordings' rounds and releases and its appeals."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from bwc_custody.appeals import service as appeals
from bwc_custody.auth.service import Principal
from bwc_custody.errors import Forbidden
from bwc_custody.flows.models import RecordingView, RequestView
from bwc_custody.reasons import require_reason
from bwc_custody.releases import service as releases
from bwc_custody.releases.models import RoundRead
from bwc_custody.requests import service as requests
from bwc_custody.requests.models import (
    DecisionRead,
    FactsUpdate,
    LetterRead,
    RecordsRequest,
    RequestCreate,
    RequestDecision,
)
from review.workflow import (
    LIVE_STATES,
    SIGNOFF_STATES,
    TRANSITIONS,
    TransitionNotAllowed,
    check_transition,
)
from storage.keys import Signer


def settle(*, session: Session, decided: Sequence[requests.Decided], actor: Principal,
           client_addr: str = "") -> list[RequestDecision]:
    """After decisions are made: a recording whose outcome changed under a file in review or
    signed off has that round voided and is open again, in the same transaction (nobody can
    release on a decision that is no longer true). Returns the decisions."""
    for made in decided:
        if made.contradicts_signoff:
            assert made.previous is not None
            releases.void_signoff(session=session, request=made.request, item=made.item,
                                  decision=made.decision, previous=made.previous,
                                  actor=actor, client_addr=client_addr)
    return [made.decision for made in decided]


def redecide(*, session: Session, evidence_id: str, actor: Principal,
             client_addr: str = "") -> list[RequestDecision]:
    """Decide every live request for the recording again on its tags and facts as they are
    now (after any change to them), voiding the sign-offs the new decisions contradict."""
    return settle(session=session, actor=actor, client_addr=client_addr,
                  decided=requests.reevaluate_open_requests(
                      session=session, evidence_id=evidence_id, actor=actor,
                      client_addr=client_addr))


def create_request(*, session: Session, body: RequestCreate, actor: Principal,
                   client_addr: str = "") -> RecordsRequest:
    """Record a request, its named recordings decided (`requests.service.create_request`)."""
    request, _decided = requests.create_request(session=session, body=body, actor=actor,
                                                client_addr=client_addr)
    return request


def link_recordings(*, session: Session, request_id: str, evidence_ids: Sequence[str],
                    actor: Principal, client_addr: str = "") -> list[RequestDecision]:
    """The custodian names recordings the request asks for; each is decided on its tags."""
    return settle(session=session, actor=actor, client_addr=client_addr,
                  decided=requests.link_recordings(
                      session=session, request_id=request_id, evidence_ids=evidence_ids,
                      actor=actor, client_addr=client_addr))


def update_facts(*, session: Session, request_id: str, body: FactsUpdate, actor: Principal,
                 client_addr: str = "") -> list[RequestDecision]:
    """The custodian records the requester's facts; the live recordings are decided again
    and a sign-off the new decision contradicts is voided."""
    return settle(session=session, actor=actor, client_addr=client_addr,
                  decided=requests.update_facts(session=session, request_id=request_id,
                                                body=body, actor=actor,
                                                client_addr=client_addr))


def confirm_relationship(*, session: Session, request_id: str, note: str, actor: Principal,
                         client_addr: str = "") -> list[RequestDecision]:
    """The custodian confirms the requester's claimed relationship from a document; the
    live recordings are decided again."""
    return settle(session=session, actor=actor, client_addr=client_addr,
                  decided=requests.confirm_relationship(
                      session=session, request_id=request_id, note=note, actor=actor,
                      client_addr=client_addr))


def close_recording(*, session: Session, signer: Signer, request_id: str, item_id: str,
                    actor: Principal, reason: str, client_addr: str = "") -> RecordsRequest:
    """The custodian withdraws one recording from the request with a written reason (its
    file under review or approved is withdrawn); the response goes out if it was the last
    recording waiting."""
    request, item = requests.get_for_transition(session=session, request_id=request_id,
                                                item_id=item_id)
    assert item is not None
    transition = check_transition("close", state=item.state,
                                  roles=frozenset(str(r) for r in actor.roles))
    text = require_reason(reason, "withdrawing a recording from a request")
    releases.withdraw_round(session=session, item=item, actor=actor, reason=text)
    requests.move(session=session, request=request, item=item, transition=transition,
                  actor=actor, reason=text, client_addr=client_addr)
    releases.answer_if_done(session=session, signer=signer, request=request, actor=actor,
                            client_addr=client_addr)
    return request


def close_request(*, session: Session, signer: Signer, request_id: str, actor: Principal,
                  reason: str, client_addr: str = "") -> RecordsRequest:
    """The custodian closes a request with a written reason: every recording still live is
    withdrawn (with its file under review); if some were already answered, the response
    goes out for them, else the request is closed unanswered (withdrawn, a duplicate)."""
    request, _ = requests.get_for_transition(session=session, request_id=request_id)
    close = TRANSITIONS["close"]
    roles = frozenset(str(r) for r in actor.roles)
    if not roles & close.roles:
        raise Forbidden("only a custodian closes a request", required=sorted(close.roles))
    text = require_reason(reason, "closing a request")
    if request.state != "open":
        raise TransitionNotAllowed(f"cannot close a request that is {request.state}",
                                   state=request.state)
    for item in requests.recordings(session=session, request_id=request.id):
        if item.state in LIVE_STATES:
            releases.withdraw_round(session=session, item=item, actor=actor, reason=text)
            requests.move(session=session, request=request, item=item, transition=close,
                          actor=actor, reason=text, client_addr=client_addr)
    if releases.answer_if_done(session=session, signer=signer, request=request, actor=actor,
                               client_addr=client_addr) is None and request.state == "open":
        requests.mark(session=session, request=request, state="closed", actor=actor,
                      reason=text, client_addr=client_addr)
    return request


def view_of(*, session: Session, row: RecordsRequest, actor: Principal) -> RequestView:
    """The request as `actor` may read it: staff with each recording and its decision in
    force; a requester without the decisions and without which recordings they are (the
    engine's answer is provisional until the custodian and legal review decide)."""
    return views_of(session=session, rows=[row], actor=actor)[0]


def view_by_id(*, session: Session, request_id: str, actor: Principal) -> RequestView:
    """`view_of` the request `request_id` (not found for a requester who did not make it)."""
    return view_of(session=session, actor=actor, row=requests.get_visible_or_raise(
        session=session, request_id=request_id, actor=actor))


def views_of(*, session: Session, rows: Sequence[RecordsRequest],
             actor: Principal) -> list[RequestView]:
    """`view_of` for each row, each part read in one query for all of them (a list of
    requests would otherwise cost queries per row)."""
    ids = [r.id for r in rows]
    staff = requests.sees_all(actor)
    items = requests.recordings_of(session=session, request_ids=ids)
    item_ids = [i.id for group in items.values() for i in group]
    active = releases.active_rounds(session=session, item_ids=item_ids)
    latest = releases.latest_rounds(session=session, item_ids=item_ids) if staff else {}
    current = requests.current_decisions(session=session, item_ids=item_ids) if staff else {}
    letters = requests.letters_of(session=session, request_ids=ids)
    appealed = appeals.appeals_of(session=session, request_ids=ids) if staff else {}
    views = []
    for row in rows:
        view = RequestView.model_validate(row)
        view.letters = [LetterRead.model_validate(x) for x in letters[row.id]]
        for item in items[row.id]:
            shown = RecordingView.model_validate(item)
            found_round = active.get(item.id)
            if found_round is not None and item.state == "released":
                shown.release = releases.release_view(round_=found_round)
            if staff:
                found = current.get(item.id)
                shown.decision = DecisionRead.model_validate(found) if found else None
                if found_round is not None and item.state in SIGNOFF_STATES | {"released"}:
                    shown.review = RoundRead.model_validate(found_round)
                newest = latest.get(item.id)
                if newest is not None and item.state == "open" \
                        and newest.outcome == "returned":
                    shown.returned = RoundRead.model_validate(newest)
            else:
                shown.evidence_id = None
            view.recordings.append(shown)
        view.appeals = [appeals.read(a) for a in appealed.get(row.id, [])]
        views.append(view)
    return views
