"""Legal review and release: one exact redacted file per request, signed off, then released.

The custodian submits a derivative of the linked recording (`submit`); the review round binds
it by SHA-256 to the decision in force. A legal reviewer who is not the submitter, and who
has watched that file since it was submitted, signs it off (`approve`): the server signs a
statement of exactly what was approved, on which rules, by whom. The custodian then releases
it (`release`) after re-hashing the stored bytes; a requester who asked for a copy downloads
exactly those bytes. A changed decision voids a round in review or approved
(`void_signoff`, called where decisions are made). Every step lands in the custody log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlmodel import Session, col, select

from bwc_custody.auth.service import Principal
from bwc_custody.custody import service as custody
from bwc_custody.custody.models import CustodyEntry
from bwc_custody.evidence.service import get_or_raise as get_evidence_or_raise
from bwc_custody.reasons import require_reason
from bwc_custody.redactions.service import get_derivative
from bwc_custody.releases.errors import (
    AnalysisPending,
    ApprovalInvalid,
    DecisionAllows,
    DecisionWithholds,
    DerivativeMismatch,
    FixityFailed,
    InspectionOnly,
    NotDecided,
    NotReleased,
    NotViewed,
    SeparationOfDuties,
)
from bwc_custody.releases.models import (
    APPEAL_NOTICE,
    APPROVAL_FORMAT,
    DENIAL_FORMAT,
    INVESTIGATION_NOTICE,
    ReleaseRead,
    ReviewRound,
    SubmitBody,
)
from bwc_custody.requests import service as requests
from bwc_custody.requests.models import RecordsRequest, RequestDecision
from bwc_custody.timeutil import as_utc, utcnow
from bwc_custody.vault import service as vault
from bwc_custody.vault.models import StoredObject
from policies.calendar import kentucky_today
from policies.vocabulary import effect_rank
from review.workflow import automatic_transition, check_transition
from storage.errors import IntegrityError
from storage.keys import Keyring, Signer
from storage.objectstore import ObjectStore

# Effects at or above this rank withhold the recording: nothing to review or release.
_WITHHOLDING_RANK = effect_rank("deny_during_investigation")
_COPY_EFFECTS = frozenset({"release", "release_redacted"})


def _roles(actor: Principal) -> frozenset[str]:
    return frozenset(str(r) for r in actor.roles)


def rounds(*, session: Session, request_id: str) -> list[ReviewRound]:
    """Every review round of the request, oldest first."""
    return list(session.exec(select(ReviewRound).where(ReviewRound.request_id == request_id)
                             .order_by(col(ReviewRound.id))))


def active_round(*, session: Session, request_id: str) -> ReviewRound | None:
    """The round under review (no outcome) or approved, if any: at most one at a time."""
    return session.exec(
        select(ReviewRound).where(ReviewRound.request_id == request_id)
        .where(col(ReviewRound.outcome).is_(None) | (ReviewRound.outcome == "approved"))
        .order_by(col(ReviewRound.id).desc()).limit(1)).first()


def _active_or_raise(session: Session, request: RecordsRequest) -> ReviewRound:
    found = active_round(session=session, request_id=request.id)
    if found is None:  # the workflow state says there is one; the table disagrees
        raise IntegrityError(f"request {request.id} is {request.state} with no review round",
                             request_id=request.id)
    return found


def _citations(decision: RequestDecision) -> list[str]:
    return [r["citation"] for r in decision.decision.get("rules", []) if r.get("decisive")]


def delivery_of(*, effect: str, form: str) -> str:
    """`copy` when the decision lets a copy go and a copy was asked for, else `inspection`."""
    return "copy" if effect in _COPY_EFFECTS and form == "copy" else "inspection"


def submit(*, session: Session, request_id: str, body: SubmitBody, actor: Principal,
           client_addr: str = "") -> ReviewRound:
    """Put one redacted file of the linked recording before legal review."""
    request = requests.get_for_transition(session=session, request_id=request_id)
    transition = check_transition("submit", state=request.state, roles=_roles(actor))
    decision = requests.current_decision(session=session, request_id=request.id)
    if request.evidence_id is None or decision is None:
        raise NotDecided(f"request {request.id} names no recording yet: link it first",
                         request_id=request.id)
    if effect_rank(decision.effect) >= _WITHHOLDING_RANK:
        raise DecisionWithholds(
            f"the decision in force is {decision.effect}: nothing is released",
            effect=decision.effect, rule_ids=decision.rule_ids,
            citations=_citations(decision))
    if requests.NOT_ANALYSED in decision.decision.get("warnings", []):
        raise AnalysisPending(
            "the person count has not run on this recording, so the juvenile and "
            "multi-student tags may be missing; submit once it has",
            evidence_id=request.evidence_id)
    derivative = get_derivative(session=session, derivative_id=body.derivative_id)
    evidence = get_evidence_or_raise(session=session, evidence_id=request.evidence_id)
    if derivative.evidence_id != evidence.id or derivative.source_sha256 != evidence.sha256:
        raise DerivativeMismatch(
            f"derivative {derivative.id} was not made from the recording this request is "
            "about", derivative_id=derivative.id, evidence_id=evidence.id)
    assert decision.id is not None
    note = body.note.strip() or None
    submitted = requests.move(session=session, request=request, transition=transition, actor=actor,
                  client_addr=client_addr, reason=note or "",
                  details={"derivative_id": derivative.id, "sha256": derivative.sha256,
                           "decision_id": decision.id, "effect": decision.effect})
    row = ReviewRound(request_id=request.id, derivative_id=derivative.id,
                      sha256=derivative.sha256, size=derivative.size, decision_id=decision.id,
                      submitted_by=actor.username, submit_seq=submitted.seq, note=note)
    session.add(row)
    session.flush()
    return row


def _viewed(session: Session, *, reviewer: str, evidence_id: str, round_: ReviewRound) -> bool:
    """Whether `reviewer` streamed the round's file after it was submitted (the log says)."""
    seen = session.exec(select(CustodyEntry).where(
        CustodyEntry.action == "derivative.stream", CustodyEntry.actor == reviewer,
        CustodyEntry.target_id == evidence_id, col(CustodyEntry.seq) > round_.submit_seq))
    return any(e.details.get("derivative_id") == round_.derivative_id
               and e.details.get("sha256") == round_.sha256 for e in seen)


def canonical(statement: dict[str, Any]) -> bytes:
    """The bytes an approval's signature covers: sorted keys, no spaces, UTF-8."""
    return json.dumps(statement, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def approve(*, session: Session, store: ObjectStore, keyring: Keyring, signer: Signer,
            request_id: str, reason: str, actor: Principal,
            client_addr: str = "") -> ReviewRound:
    """A legal reviewer signs off on the file under review; the server signs what they
    approved."""
    request = requests.get_for_transition(session=session, request_id=request_id)
    transition = check_transition("approve", state=request.state, roles=_roles(actor))
    basis = require_reason(reason, "a legal sign-off")
    round_ = _active_or_raise(session, request)
    if round_.submitted_by == actor.username:
        raise SeparationOfDuties("the person who submitted a file for review may not sign "
                                 "it off", submitted_by=round_.submitted_by)
    assert request.evidence_id is not None  # a round exists only on a linked request
    if not _viewed(session, reviewer=actor.username, evidence_id=request.evidence_id,
                   round_=round_):
        raise NotViewed(
            f"watch the file under review (GET /api/v1/derivatives/{round_.derivative_id}"
            "/content) before signing it off", derivative_id=round_.derivative_id)
    decision = requests.current_decision(session=session, request_id=request.id)
    assert decision is not None
    derivative = get_derivative(session=session, derivative_id=round_.derivative_id)
    # what is signed is what is stored: the file is hashed now, not taken from the rows
    _approved_object(session, store, keyring, {
        "derivative_id": round_.derivative_id, "sha256": round_.sha256, "size": round_.size})
    now = utcnow()
    statement = {
        "format": APPROVAL_FORMAT, "request_id": request.id,
        "derivative_id": round_.derivative_id, "sha256": round_.sha256, "size": round_.size,
        "source_sha256": derivative.source_sha256, "decision_id": decision.id,
        "effect": decision.effect, "rule_ids": decision.rule_ids,
        "citations": _citations(decision),
        "delivery": delivery_of(effect=decision.effect, form=request.form),
        "reviewer": actor.username, "approved_at": now.isoformat(), "basis": basis,
    }
    round_.statement, round_.key_id = statement, signer.key_id
    round_.signature = signer.sign(canonical(statement))
    round_.outcome, round_.outcome_by, round_.outcome_at, round_.outcome_reason = (
        "approved", actor.username, now, basis)
    session.add(round_)
    requests.move(session=session, request=request, transition=transition, actor=actor,
                  reason=basis, client_addr=client_addr,
                  details={"round_id": round_.id, "sha256": round_.sha256,
                           "decision_id": decision.id, "signature": round_.signature,
                           "key_id": round_.key_id})
    return round_


def deny(*, session: Session, signer: Signer, request_id: str, explanation: str,
         actor: Principal, client_addr: str = "") -> RecordsRequest:
    """The custodian's written denial (KRS 61.880(1)): the exceptions the decision rests on
    (its decisive rules and their citations), how they apply (the custodian's explanation),
    and the appeal notice, signed by the server; the request is then denied."""
    request = requests.get_for_transition(session=session, request_id=request_id)
    transition = check_transition("deny", state=request.state, roles=_roles(actor))
    text = require_reason(explanation, "a written denial (how the exceptions apply)")
    decision = requests.current_decision(session=session, request_id=request.id)
    if decision is None:
        raise NotDecided("link the recording asked for first: a denial names the exceptions "
                         "the decision on it rests on")
    if effect_rank(decision.effect) < _WITHHOLDING_RANK:
        raise DecisionAllows(
            f"the decision in force is {decision.effect}: submit a redacted file for legal "
            "review, or close the request with a reason", effect=decision.effect)
    today = kentucky_today()
    exceptions = [{"rule": r["id"], "title": r["title"], "citation": r["citation"]}
                  for r in decision.decision.get("rules", []) if r.get("decisive")]
    statement = {
        "format": DENIAL_FORMAT, "request_id": request.id,
        "requester_name": request.requester_name, "description": request.description,
        "received_on": request.received_on.isoformat(),
        "deadline": request.deadline.isoformat(), "responded_on": today.isoformat(),
        "within_deadline": today <= request.deadline, "effect": decision.effect,
        "decision_id": decision.id, "exceptions": exceptions, "explanation": text,
        "notices": ([INVESTIGATION_NOTICE] if decision.effect == "deny_during_investigation"
                    else []) + [APPEAL_NOTICE],
        "custodian": actor.username,
    }
    request.response, request.response_key_id = statement, signer.key_id
    request.response_signature = signer.sign(canonical(statement))
    requests.move(session=session, request=request, transition=transition, actor=actor,
                  reason=text, client_addr=client_addr,
                  details={"decision_id": decision.id, "effect": decision.effect,
                           "citations": [e["citation"] for e in exceptions],
                           "signature": request.response_signature,
                           "key_id": request.response_key_id})
    return request


def send_back(*, session: Session, request_id: str, reason: str, actor: Principal,
              client_addr: str = "") -> ReviewRound:
    """The legal reviewer returns the file under review to the custodian, with reasons."""
    request = requests.get_for_transition(session=session, request_id=request_id)
    transition = check_transition("return", state=request.state, roles=_roles(actor))
    text = require_reason(reason, "returning a file")
    round_ = _active_or_raise(session, request)
    round_.outcome, round_.outcome_by, round_.outcome_at, round_.outcome_reason = (
        "returned", actor.username, utcnow(), text)
    session.add(round_)
    requests.move(session=session, request=request, transition=transition, actor=actor,
                  reason=text, client_addr=client_addr,
                  details={"round_id": round_.id, "sha256": round_.sha256})
    return round_


def signed_approval(*, signer: Signer, request: RecordsRequest,
                    round_: ReviewRound) -> dict[str, Any]:
    """The approval statement of `round_`, once its signature verifies with the server's key
    and it names this request: what is released is read from here, never from rows an
    insider could edit (the round's hash, the derivative's object key)."""
    statement = round_.statement
    if (statement is None or not round_.signature or not round_.key_id
            or not signer.verify(canonical(statement), round_.signature, round_.key_id)):
        raise ApprovalInvalid(f"the approval of request {request.id} does not verify with the "
                              "server's signing key: nothing is released on it",
                              request_id=request.id, round_id=round_.id)
    if statement.get("request_id") != request.id or \
            statement.get("format") != APPROVAL_FORMAT:
        raise ApprovalInvalid(f"the signed approval on record is not one of request "
                              f"{request.id}", request_id=request.id, round_id=round_.id)
    return statement


def _approved_object(session: Session, store: ObjectStore, keyring: Keyring,
                     statement: dict[str, Any]) -> StoredObject:
    """The stored file the signed `statement` approved, once its bytes decrypt and hash to
    the statement's SHA-256 and size (a row pointed at another object, the original say,
    fails here)."""
    derivative = get_derivative(session=session, derivative_id=str(statement["derivative_id"]))
    obj = session.get(StoredObject, derivative.object_key)
    problem = ("the derivative has no stored file" if obj is None else vault.check_fixity(
        store=store, keyring=keyring, obj=obj, expected_sha256=str(statement["sha256"]),
        expected_size=int(statement["size"])))
    if problem is not None or obj is None:
        raise FixityFailed(f"the stored file is not the one signed off: {problem}",
                           derivative_id=derivative.id, approved=statement["sha256"])
    return obj


def release(*, session: Session, store: ObjectStore, keyring: Keyring, signer: Signer,
            request_id: str, actor: Principal, client_addr: str = "") -> ReviewRound:
    """The custodian releases the approved file, once the approval's signature verifies and
    the stored bytes re-hash to the SHA-256 it signed."""
    request = requests.get_for_transition(session=session, request_id=request_id)
    transition = check_transition("release", state=request.state, roles=_roles(actor))
    round_ = _active_or_raise(session, request)
    statement = signed_approval(signer=signer, request=request, round_=round_)
    _approved_object(session, store, keyring, statement)
    round_.released_by, round_.released_at = actor.username, utcnow()
    session.add(round_)
    requests.move(session=session, request=request, transition=transition, actor=actor,
                  client_addr=client_addr,
                  details={"round_id": round_.id, "sha256": statement["sha256"],
                           "delivery": statement.get("delivery"),
                           "effect": statement.get("effect"),
                           "rule_ids": statement.get("rule_ids"),
                           "citations": statement.get("citations")})
    return round_


def void_signoff(*, session: Session, request: RecordsRequest, decision: RequestDecision,
                 previous: RequestDecision, actor: Principal, client_addr: str = "") -> None:
    """The decision changed under a file in review or approved: the round is void and the
    request open again (whoever changed the tag is named in the log; the reason says why)."""
    transition = automatic_transition("void", state=request.state)
    if transition is None:
        return
    reason = (f"the decision in force changed from {previous.effect} to {decision.effect} "
              f"({decision.trigger}): the file must be reviewed again")
    round_ = _active_or_raise(session, request)
    round_.outcome, round_.outcome_by, round_.outcome_at, round_.outcome_reason = (
        "voided", actor.username, utcnow(), reason)
    session.add(round_)
    requests.move(session=session, request=request, transition=transition, actor=actor,
                  reason=reason, client_addr=client_addr,
                  details={"round_id": round_.id, "sha256": round_.sha256,
                           "decision_id": decision.id, "previous_decision_id": previous.id})


def withdraw_round(*, session: Session, request: RecordsRequest, actor: Principal,
                   reason: str) -> None:
    """A request closed with a file in review or approved: that round ends withdrawn."""
    round_ = active_round(session=session, request_id=request.id)
    if round_ is None:
        return
    round_.outcome, round_.outcome_by, round_.outcome_at, round_.outcome_reason = (
        "withdrawn", actor.username, utcnow(), reason)
    session.add(round_)


def active_rounds(*, session: Session, request_ids: list[str]) -> dict[str, ReviewRound]:
    """`active_round` of each request in one query (a list of requests shows them)."""
    found = session.exec(
        select(ReviewRound).where(col(ReviewRound.request_id).in_(request_ids))
        .where(col(ReviewRound.outcome).is_(None) | (ReviewRound.outcome == "approved"))
        .order_by(col(ReviewRound.id)))
    return {r.request_id: r for r in found}


def released_round(*, session: Session, request: RecordsRequest) -> ReviewRound | None:
    """The round that was released, if the request is released."""
    if request.state != "released":
        return None
    return _active_or_raise(session, request)


def release_view(*, round_: ReviewRound) -> ReleaseRead | None:
    """What the requester is told of a released round, or None before its release."""
    if round_.statement is None or round_.released_at is None:
        return None
    s = round_.statement
    return ReleaseRead(released_at=as_utc(round_.released_at), sha256=s["sha256"],
                       size=s["size"], delivery=s["delivery"], effect=s["effect"],
                       citations=list(s["citations"]), statement=s,
                       signature=round_.signature or "", key_id=round_.key_id or "")


def open_release(*, session: Session, store: ObjectStore, keyring: Keyring, signer: Signer,
                 request_id: str, actor: Principal, client_addr: str = ""
                 ) -> tuple[dict[str, Any], StoredObject, Iterator[bytes]]:
    """The released copy for its requester (or staff), logged as `release.download`: the
    signed approval, the stored file (checked whole against it before a byte leaves, since
    rows may have been edited since the release), and its plaintext."""
    request = requests.get_visible_or_raise(session=session, request_id=request_id,
                                            actor=actor)
    round_ = released_round(session=session, request=request)
    if round_ is None:
        raise NotReleased(f"request {request.id} is {request.state}: nothing is released",
                          state=request.state)
    statement = signed_approval(signer=signer, request=request, round_=round_)
    if statement.get("delivery") != "copy":
        raise InspectionOnly("this release is an inspection at the agency; no copy is "
                             "handed out", delivery=statement.get("delivery"))
    obj = _approved_object(session, store, keyring, statement)
    chunks = vault.iter_plaintext(store=store, keyring=keyring, obj=obj)
    custody.append(session=session, actor=actor, action="release.download",
                   target_type="records_request", target_id=request.id,
                   client_addr=client_addr,
                   details={"round_id": round_.id, "derivative_id": statement["derivative_id"],
                            "sha256": statement["sha256"]})
    return statement, obj, chunks
