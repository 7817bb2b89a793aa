"""Legal review, release and the written answer: one exact redacted file per recording of a
request, signed off, then released; or the recording denied; and, once every recording of
the request is answered, the written response the server signs.

The custodian submits a derivative of the recording (`submit`); the review round binds it by
SHA-256 to the decision in force. A legal reviewer who is not the submitter, and who has
watched that file since it was submitted (all of it, or all but what they attest need not
be watched, and every flagged range at normal speed: `coverage`), signs it off (`approve`):
the server signs a statement of exactly what was approved, on which rules, by whom, and
what they watched. The custodian then releases
it (`release`) after checking the stored bytes against that signed statement; a requester who
asked for a copy downloads exactly those bytes. Or the custodian denies the recording, saying
how the exceptions apply (`deny`). A changed decision voids a round in review or approved
(`void_signoff`, called by the flow that made it). When the last recording is answered, the
response (KRS 61.880(1)) is composed from every recording's outcome and signed
(`answer_if_done`): what is released and how, each part withheld with its exception, its
citation and how it applies, and the appeal notice. A delay notice (KRS 61.872(5)) and the
request for a statement of residency (61.872(2)(a)) are letters too. Every step lands in the
custody log.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from bwc_custody.auth.service import Principal
from bwc_custody.config import get_settings
from bwc_custody.custody import service as custody
from bwc_custody.evidence.service import get_or_raise as get_evidence_or_raise
from bwc_custody.reasons import require_reason
from bwc_custody.redactions.models import Derivative
from bwc_custody.redactions.service import get_derivative
from bwc_custody.redactions.signing import describe, sign_copy
from bwc_custody.releases import coverage
from bwc_custody.releases.errors import (
    ActionRequired,
    AnalysisPending,
    ApprovalInvalid,
    DecisionAllows,
    DecisionWithholds,
    DerivativeMismatch,
    FixityFailed,
    HeadsRequired,
    InspectionOnly,
    NotDecided,
    NotReleased,
    NotViewed,
    ResidencyStatementDue,
    SeparationOfDuties,
)
from bwc_custody.releases.models import (
    APPEAL_NOTICE,
    APPROVAL_FORMAT,
    APPROVAL_FORMATS,
    DELAY_FORMAT,
    INVESTIGATION_NOTICE,
    RESIDENCY_FORMAT,
    RESPONSE_FORMAT,
    DelayNoticeBody,
    ReleaseRead,
    ReviewRound,
    SubmitBody,
)
from bwc_custody.requests import service as requests
from bwc_custody.requests.models import (
    RecordsRequest,
    RequestDecision,
    RequestLetter,
    RequestRecording,
)
from bwc_custody.timeutil import as_utc, utcnow
from bwc_custody.vault import service as vault
from bwc_custody.vault.models import StoredObject
from policies.calendar import kentucky_today
from policies.engine import whole_heads_rules
from policies.notices import DelayNotice, check_delay_notice
from policies.vocabulary import effect_rank
from provenance.assertion import ReleaseAssertion
from provenance.ca import AgencyCA
from review.workflow import automatic_transition, check_transition
from storage.crypto import RangeReader
from storage.errors import IntegrityError
from storage.keys import Keyring, Signer
from storage.objectstore import ObjectStore

# Effects at or above this rank withhold the recording: nothing to review or release.
_WITHHOLDING_RANK = effect_rank("deny_during_investigation")
_COPY_EFFECTS = frozenset({"release", "release_redacted"})


def _roles(actor: Principal) -> frozenset[str]:
    return frozenset(str(r) for r in actor.roles)


def canonical(statement: dict[str, Any]) -> bytes:
    """The bytes a signed statement's signature covers: sorted keys, no spaces, UTF-8."""
    return json.dumps(statement, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def rounds(*, session: Session, request_id: str,
           item_id: str | None = None) -> list[ReviewRound]:
    """Every review round of the request (or of one recording of it), oldest first."""
    stmt = select(ReviewRound).where(ReviewRound.request_id == request_id)
    if item_id is not None:
        stmt = stmt.where(ReviewRound.item_id == item_id)
    return list(session.exec(stmt.order_by(col(ReviewRound.id))))


def active_round(*, session: Session, item_id: str) -> ReviewRound | None:
    """The round under review (no outcome) or approved, if any: at most one at a time."""
    return session.exec(
        select(ReviewRound).where(ReviewRound.item_id == item_id)
        .where(col(ReviewRound.outcome).is_(None) | (ReviewRound.outcome == "approved"))
        .order_by(col(ReviewRound.id).desc()).limit(1)).first()


def active_rounds(*, session: Session, item_ids: Sequence[str]) -> dict[str, ReviewRound]:
    """`active_round` of each recording in one query (a list of requests shows them)."""
    if not item_ids:
        return {}
    found = session.exec(
        select(ReviewRound).where(col(ReviewRound.item_id).in_(list(item_ids)))
        .where(col(ReviewRound.outcome).is_(None) | (ReviewRound.outcome == "approved"))
        .order_by(col(ReviewRound.id)))
    return {r.item_id: r for r in found}


def latest_rounds(*, session: Session, item_ids: Sequence[str]) -> dict[str, ReviewRound]:
    """The newest review round of each recording, whatever its outcome (a file sent back
    shows here with its reasons), in one query."""
    if not item_ids:
        return {}
    found = session.exec(select(ReviewRound).where(col(ReviewRound.item_id).in_(list(item_ids)))
                         .order_by(col(ReviewRound.id)))
    return {r.item_id: r for r in found}


def _active_or_raise(session: Session, item: RequestRecording) -> ReviewRound:
    found = active_round(session=session, item_id=item.id)
    if found is None:  # the workflow state says there is one; the table disagrees
        raise IntegrityError(f"recording {item.id} of request {item.request_id} is "
                             f"{item.state} with no review round", item_id=item.id)
    return found


def _citations(decision: RequestDecision) -> list[str]:
    return [r["citation"] for r in decision.decision.get("rules", []) if r.get("decisive")]


def delivery_of(*, effect: str, form: str) -> str:
    """`copy` when the decision lets a copy go and a copy was asked for, else `inspection`."""
    return "copy" if effect in _COPY_EFFECTS and form == "copy" else "inspection"


def _decided_or_raise(session: Session, item: RequestRecording) -> RequestDecision:
    decision = requests.current_decision(session=session, item_id=item.id)
    if decision is None:
        raise NotDecided(f"recording {item.id} of request {item.request_id} is not decided",
                         item_id=item.id)
    return decision


def _no_action_left(decision: RequestDecision, item: RequestRecording) -> None:
    """The answer does not go out while the engine lists something still to do (confirm a
    relationship, articulate the harm, ask for the residency statement)."""
    actions = decision.decision.get("required_actions") or []
    if actions:
        raise ActionRequired(
            "before this recording is answered: " + "; ".join(a["text"] for a in actions),
            item_id=item.id, actions=[{"code": a["code"], "citation": a["citation"]}
                                      for a in actions])


def _release_assertion(session: Session, request: RecordsRequest, item: RequestRecording,
                       decision: RequestDecision, evidence_sha256: str,
                       copy: Derivative) -> ReleaseAssertion:
    """What the released file's manifest says of itself: the original by its SHA-256, the
    request, what was redacted and on which rules, the custody checkpoint current now. The
    reviewer's signed statement is not in it: it is made after, over this file's SHA-256
    (provenance/README.md), and travels in the written response."""
    withheld = [w for w in decision.decision.get("withheld", []) if w.get("what") == "redaction"]
    redaction = describe(copy)
    if withheld:
        redaction += " Withheld under the law: " + "; ".join(
            f"{w['description']} ({', '.join(w.get('citations') or [])})" for w in withheld) + "."
    latest = custody.latest_checkpoint(session=session)
    return ReleaseAssertion(
        original_sha256=evidence_sha256, request_id=request.id, redaction=redaction,
        agency=get_settings().agency_name,
        checkpoint=custody.checkpoint_document(latest) if latest is not None else None,
        reviewer_statement=None,
        fields={"recording": item.position, "item_id": item.id,
                "evidence_id": item.evidence_id,
                "redacted_copy": {"derivative_id": copy.id, "sha256": copy.sha256},
                "decision": {"id": decision.id, "effect": decision.effect,
                             "rule_ids": decision.rule_ids,
                             "citations": _citations(decision)},
                "review": f"the legal reviewer's signed statement ({APPROVAL_FORMAT}) names "
                          "this file's SHA-256; the written response carries it"})


def submit(*, session: Session, store: ObjectStore, keyring: Keyring, ca: AgencyCA,
           request_id: str, item_id: str, body: SubmitBody, actor: Principal,
           client_addr: str = "") -> ReviewRound:
    """Put one redacted file of the recording before legal review: the server signs a copy
    of it with the release's C2PA manifest, and that signed copy is the file under review
    (what the reviewer watches and signs off, and the requester gets)."""
    request, item = requests.get_for_transition(session=session, request_id=request_id,
                                                item_id=item_id)
    assert item is not None
    transition = check_transition("submit", state=item.state, roles=_roles(actor))
    decision = _decided_or_raise(session, item)
    if effect_rank(decision.effect) >= _WITHHOLDING_RANK:
        raise DecisionWithholds(
            f"the decision in force is {decision.effect}: nothing is released",
            effect=decision.effect, rule_ids=decision.rule_ids,
            citations=_citations(decision))
    if requests.NOT_ANALYSED in decision.decision.get("warnings", []):
        raise AnalysisPending(
            "the person count has not run on this recording, so the juvenile and "
            "multi-student tags may be missing; submit once it has",
            evidence_id=item.evidence_id)
    _no_action_left(decision, item)
    derivative = get_derivative(session=session, derivative_id=body.derivative_id)
    evidence = get_evidence_or_raise(session=session, evidence_id=item.evidence_id)
    if derivative.evidence_id != evidence.id or derivative.source_sha256 != evidence.sha256:
        raise DerivativeMismatch(
            f"derivative {derivative.id} was not made from this recording",
            derivative_id=derivative.id, evidence_id=evidence.id)
    _heads_or_raise(decision, derivative)
    assert decision.id is not None
    note = body.note.strip() or None
    signed = sign_copy(
        session=session, store=store, keyring=keyring, ca=ca, source=derivative,
        release=_release_assertion(session, request, item, decision, evidence.sha256,
                                   derivative),
        title=release_filename(request.id, item.id), actor=actor,
        tsa_urls=get_settings().tsa_urls, client_addr=client_addr)
    c2pa = signed.c2pa or {}
    submitted = requests.move(
        session=session, request=request, item=item, transition=transition, actor=actor,
        client_addr=client_addr, reason=note or "",
        details={"derivative_id": signed.id, "sha256": signed.sha256,
                 "signed_from": derivative.id, "redacted_sha256": derivative.sha256,
                 "c2pa_signer_id": c2pa.get("signer_id"), "c2pa_root_id": c2pa.get("root_id"),
                 "decision_id": decision.id, "effect": decision.effect})
    row = ReviewRound(request_id=request.id, item_id=item.id, derivative_id=signed.id,
                      sha256=signed.sha256, size=signed.size,
                      decision_id=decision.id, submitted_by=actor.username,
                      submit_seq=submitted.seq, note=note)
    session.add(row)
    session.flush()
    return row


def _heads_or_raise(decision: RequestDecision, copy: Derivative) -> None:
    """Refuse a copy made without heads mode where the decision asks for whole heads, naming
    each rule that asks and its citation (nothing is signed, stored or moved)."""
    asked = whole_heads_rules(decision.decision)
    if not asked or copy.kind != "redacted" or (copy.request or {}).get("heads"):
        return  # a signed copy is refused as such by sign_copy (not_a_redacted_copy)
    rules = "; ".join(f"rule {r['id']} ({r['citation']})" for r in asked)
    raise HeadsRequired(
        f"the decision in force asks for every whole head to be blurred, not only the faces: "
        f"{rules}. Copy {copy.label or copy.id[:8]} was made without whole heads; make a copy "
        f"with whole heads blurred (the box comes ticked on the recording's page) and submit "
        f"that one", derivative_id=copy.id, decision_id=decision.id,
        rule_ids=[r["id"] for r in asked], citations=[r["citation"] for r in asked])


def release_filename(request_id: str, item_id: str) -> str:
    """The released file's name: the download's and the one in its C2PA manifest."""
    return f"request-{request_id}-{item_id}.mp4"


def approve(*, session: Session, store: ObjectStore, keyring: Keyring, signer: Signer,
            request_id: str, item_id: str, reason: str, actor: Principal,
            attestation: str = "", client_addr: str = "") -> ReviewRound:
    """A legal reviewer signs off on the file under review, once they have watched it (the
    whole file, or all but what `attestation` says need not be watched, and every flagged
    range at normal speed: `coverage.signoff_coverage`); the server signs what they approved
    and how they watched it."""
    request, item = requests.get_for_transition(session=session, request_id=request_id,
                                                item_id=item_id)
    assert item is not None
    transition = check_transition("approve", state=item.state, roles=_roles(actor))
    basis = require_reason(reason, "a legal sign-off")
    round_ = _active_or_raise(session, item)
    if round_.submitted_by == actor.username:
        raise SeparationOfDuties("the person who submitted a file for review may not sign "
                                 "it off", submitted_by=round_.submitted_by)
    if coverage.first_stream_at(session, reviewer=actor.username,
                                evidence_id=item.evidence_id, round_=round_) is None:
        raise NotViewed(
            f"watch the file under review (GET /api/v1/derivatives/{round_.derivative_id}"
            "/content) before signing it off", derivative_id=round_.derivative_id)
    watched = coverage.signoff_coverage(session=session, round_=round_,
                                        reviewer=actor.username, attestation=attestation)
    decision = _decided_or_raise(session, item)
    derivative = get_derivative(session=session, derivative_id=round_.derivative_id)
    # what is signed is what is stored: the file is hashed now, not taken from the rows
    _approved_object(session, store, keyring, {
        "derivative_id": round_.derivative_id, "sha256": round_.sha256, "size": round_.size})
    now = utcnow()
    statement = {
        "format": APPROVAL_FORMAT, "request_id": request.id, "item_id": item.id,
        "evidence_id": item.evidence_id, "derivative_id": round_.derivative_id,
        "sha256": round_.sha256, "size": round_.size,
        "source_sha256": derivative.source_sha256, "decision_id": decision.id,
        "effect": decision.effect, "rule_ids": decision.rule_ids,
        "citations": _citations(decision),
        "delivery": delivery_of(effect=decision.effect, form=request.form),
        "reviewer": actor.username, "approved_at": now.isoformat(), "basis": basis,
        "coverage": watched,
    }
    if derivative.c2pa is not None:  # the file approved carries the agency's C2PA manifest
        statement["content_credentials"] = _content_credentials(derivative.c2pa)
    round_.statement, round_.key_id = statement, signer.key_id
    round_.signature = signer.sign(canonical(statement))
    round_.outcome, round_.outcome_by, round_.outcome_at, round_.outcome_reason = (
        "approved", actor.username, now, basis)
    session.add(round_)
    requests.move(session=session, request=request, item=item, transition=transition,
                  actor=actor, reason=basis, client_addr=client_addr,
                  details={"round_id": round_.id, "sha256": round_.sha256,
                           "decision_id": decision.id, "signature": round_.signature,
                           "key_id": round_.key_id})
    return round_


def _content_credentials(record: dict[str, Any]) -> dict[str, Any]:
    """What a signed copy's approval and the written response say of its C2PA manifest."""
    return {"signer_id": record.get("signer_id"), "root_id": record.get("root_id"),
            "manifest_bytes": record.get("manifest_bytes"),
            "signed_from": record.get("signed_from"),
            "roots": "/api/v1/keys/c2pa"}


def send_back(*, session: Session, request_id: str, item_id: str, reason: str,
              actor: Principal, client_addr: str = "") -> ReviewRound:
    """The legal reviewer returns the file under review to the custodian, with reasons."""
    request, item = requests.get_for_transition(session=session, request_id=request_id,
                                                item_id=item_id)
    assert item is not None
    transition = check_transition("return", state=item.state, roles=_roles(actor))
    text = require_reason(reason, "returning a file")
    round_ = _active_or_raise(session, item)
    round_.outcome, round_.outcome_by, round_.outcome_at, round_.outcome_reason = (
        "returned", actor.username, utcnow(), text)
    session.add(round_)
    requests.move(session=session, request=request, item=item, transition=transition,
                  actor=actor, reason=text, client_addr=client_addr,
                  details={"round_id": round_.id, "sha256": round_.sha256})
    return round_


def signed_approval(*, signer: Signer, item: RequestRecording,
                    round_: ReviewRound) -> dict[str, Any]:
    """The approval statement of `round_`, once its signature verifies with the server's key
    and it names this recording of this request: what is released is read from here, never
    from rows an insider could edit (the round's hash, the derivative's object key)."""
    statement = round_.statement
    if (statement is None or not round_.signature or not round_.key_id
            or not signer.verify(canonical(statement), round_.signature, round_.key_id)):
        raise ApprovalInvalid(f"the approval of recording {item.id} does not verify with "
                              "the server's signing key: nothing is released on it",
                              request_id=item.request_id, round_id=round_.id)
    if (statement.get("request_id"), statement.get("item_id")) != (
            item.request_id, item.id) or statement.get("format") not in APPROVAL_FORMATS:
        raise ApprovalInvalid(f"the signed approval on record is not one of recording "
                              f"{item.id}", request_id=item.request_id, round_id=round_.id)
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


def _explanation(decision: RequestDecision, given: str, what: str) -> str | None:
    """The custodian's words on how the exceptions apply, required when something is
    withheld (KRS 61.880(1); 25-ORD-072: redacting without saying why violates the Act)."""
    if decision.decision.get("letter") in ("partial_denial", "denial"):
        return require_reason(given, what)
    return given.strip() or None


def release(*, session: Session, store: ObjectStore, keyring: Keyring, signer: Signer,
            request_id: str, item_id: str, actor: Principal, explanation: str = "",
            client_addr: str = "") -> ReviewRound:
    """The custodian releases the approved file of one recording, once the approval's
    signature verifies and the stored bytes re-hash to the SHA-256 it signed."""
    request, item = requests.get_for_transition(session=session, request_id=request_id,
                                                item_id=item_id)
    assert item is not None
    transition = check_transition("release", state=item.state, roles=_roles(actor))
    round_ = _active_or_raise(session, item)
    statement = signed_approval(signer=signer, item=item, round_=round_)
    item.explanation = _explanation(
        _decided_or_raise(session, item), explanation,
        "a release that withholds a part (how the exceptions apply, for the letter)")
    _approved_object(session, store, keyring, statement)
    round_.released_by, round_.released_at = actor.username, utcnow()
    session.add(round_)
    requests.move(session=session, request=request, item=item, transition=transition,
                  actor=actor, client_addr=client_addr, reason=item.explanation or "",
                  details={"round_id": round_.id, "sha256": statement["sha256"],
                           "delivery": statement.get("delivery"),
                           "effect": statement.get("effect"),
                           "rule_ids": statement.get("rule_ids"),
                           "citations": statement.get("citations")})
    answer_if_done(session=session, signer=signer, request=request, actor=actor,
                   client_addr=client_addr)
    return round_


def deny(*, session: Session, signer: Signer, request_id: str, item_id: str,
         explanation: str, actor: Principal, client_addr: str = "") -> RecordsRequest:
    """The custodian denies one recording when the decision in force withholds it, saying
    how the exceptions apply; the written response goes out once every recording of the
    request is answered (KRS 61.880(1))."""
    request, item = requests.get_for_transition(session=session, request_id=request_id,
                                                item_id=item_id)
    assert item is not None
    transition = check_transition("deny", state=item.state, roles=_roles(actor))
    text = require_reason(explanation, "a written denial (how the exceptions apply)")
    decision = requests.current_decision(session=session, item_id=item.id)
    if decision is None:
        raise NotDecided("the recording is not decided: a denial names the exceptions the "
                         "decision on it rests on", item_id=item.id)
    if decision.effect == "residency_statement":
        raise ResidencyStatementDue(
            "the decision asks for the requester's statement of residency (KRS "
            "61.872(2)(a)), not a denial: send the residency request",
            request_id=request.id)
    if effect_rank(decision.effect) < _WITHHOLDING_RANK:
        raise DecisionAllows(
            f"the decision in force is {decision.effect}: submit a redacted file for legal "
            "review, or withdraw the recording with a reason", effect=decision.effect)
    _no_action_left(decision, item)
    item.explanation = text
    requests.move(session=session, request=request, item=item, transition=transition,
                  actor=actor, reason=text, client_addr=client_addr,
                  details={"decision_id": decision.id, "effect": decision.effect,
                           "citations": _citations(decision)})
    answer_if_done(session=session, signer=signer, request=request, actor=actor,
                   client_addr=client_addr)
    return request


def void_signoff(*, session: Session, request: RecordsRequest, item: RequestRecording,
                 decision: RequestDecision, previous: RequestDecision, actor: Principal,
                 client_addr: str = "") -> None:
    """The decision changed under a file in review or approved: the round is void and the
    recording open again (whoever changed the tag is named in the log; the reason says why)."""
    transition = automatic_transition("void", state=item.state)
    if transition is None:
        return
    reason = (f"the decision in force changed from {previous.effect} to {decision.effect} "
              f"({decision.trigger}): the file must be reviewed again")
    round_ = _active_or_raise(session, item)
    round_.outcome, round_.outcome_by, round_.outcome_at, round_.outcome_reason = (
        "voided", actor.username, utcnow(), reason)
    session.add(round_)
    requests.move(session=session, request=request, item=item, transition=transition,
                  actor=actor, reason=reason, client_addr=client_addr,
                  details={"round_id": round_.id, "sha256": round_.sha256,
                           "decision_id": decision.id, "previous_decision_id": previous.id})


def withdraw_round(*, session: Session, item: RequestRecording, actor: Principal,
                   reason: str) -> None:
    """A recording withdrawn with a file in review or approved: that round ends withdrawn."""
    round_ = active_round(session=session, item_id=item.id)
    if round_ is None:
        return
    round_.outcome, round_.outcome_by, round_.outcome_at, round_.outcome_reason = (
        "withdrawn", actor.username, utcnow(), reason)
    session.add(round_)


def released_round(*, session: Session, item: RequestRecording) -> ReviewRound | None:
    """The round that was released, if the recording is released."""
    if item.state != "released":
        return None
    return _active_or_raise(session, item)


def release_view(*, round_: ReviewRound) -> ReleaseRead | None:
    """What the requester is told of a released round, or None before its release."""
    if round_.statement is None or round_.released_at is None:
        return None
    s = round_.statement
    return ReleaseRead(released_at=as_utc(round_.released_at), sha256=s["sha256"],
                       size=s["size"], delivery=s["delivery"], effect=s["effect"],
                       citations=list(s["citations"]), statement=s,
                       signature=round_.signature or "", key_id=round_.key_id or "")


# (object key, version, approved SHA-256) -> when its whole file last re-hashed to the
# signed approval, in this process: a player or a resumed download asks for many ranges,
# and re-hashing a long video for each would make seeking wait minutes. A request for the
# whole file, or from its first byte, always checks afresh; a later range within this many
# seconds of a check reads the same recorded version (AES-GCM authenticates every segment
# it decrypts), so a row pointed at another object still fails: the key differs.
CHECKED_FOR_S = 600.0
_checked: dict[tuple[str, str | None, str], float] = {}
_checked_lock = threading.Lock()


def _recently_checked(key: tuple[str, str | None, str]) -> bool:
    with _checked_lock:
        at = _checked.get(key)
        return at is not None and time.monotonic() - at < CHECKED_FOR_S


def _mark_checked(key: tuple[str, str | None, str]) -> None:
    with _checked_lock:
        now = time.monotonic()
        for old in [k for k, at in _checked.items() if now - at >= CHECKED_FOR_S]:
            del _checked[old]
        _checked[key] = now


def open_release(*, session: Session, store: ObjectStore, keyring: Keyring, signer: Signer,
                 request_id: str, item_id: str, actor: Principal, wanted: str = "",
                 client_addr: str = "") -> tuple[dict[str, Any], StoredObject, RangeReader]:
    """One released copy for its requester (or staff), logged as `release.download` with
    the bytes asked for (`wanted`, an HTTP Range: a resumed download or a player's seek):
    the signed approval, the stored file (checked whole against it before a byte leaves,
    since rows may have been edited since the release; see CHECKED_FOR_S for later ranges),
    and a reader of its plaintext."""
    request = requests.get_visible_or_raise(session=session, request_id=request_id,
                                            actor=actor)
    item = requests.get_recording_or_raise(session=session, request_id=request.id,
                                           item_id=item_id)
    round_ = released_round(session=session, item=item)
    if round_ is None:
        raise NotReleased(f"recording {item.position} of request {request.id} is "
                          f"{item.state}: nothing is released", state=item.state)
    statement = signed_approval(signer=signer, item=item, round_=round_)
    if statement.get("delivery") != "copy":
        raise InspectionOnly("this release is an inspection at the agency; no copy is "
                             "handed out", delivery=statement.get("delivery"))
    derivative = get_derivative(session=session, derivative_id=str(statement["derivative_id"]))
    obj = session.get(StoredObject, derivative.object_key)
    key = (derivative.object_key, obj.version if obj else None, str(statement["sha256"]))
    from_start = not re.match(r"^bytes=0*[1-9]", wanted.strip())
    if from_start or not _recently_checked(key):
        obj = _approved_object(session, store, keyring, statement)
        _mark_checked(key)
    assert obj is not None  # _approved_object raised otherwise
    reader = vault.open_reader(store=store, keyring=keyring, obj=obj)
    custody.append(session=session, actor=actor, action="release.download",
                   target_type="records_request", target_id=request.id,
                   client_addr=client_addr,
                   details={"round_id": round_.id, "item_id": item.id,
                            "derivative_id": statement["derivative_id"],
                            "sha256": statement["sha256"], "range": wanted or "all"})
    return statement, obj, reader


# ---- letters -----------------------------------------------------------------------------


def _signed_letter(session: Session, signer: Signer, request: RecordsRequest, kind: str,
                   statement: dict[str, Any], actor: Principal,
                   client_addr: str) -> RequestLetter:
    signature = signer.sign(canonical(statement))
    letter = requests.add_letter(session=session, request=request, kind=kind,
                                 statement=statement, signature=signature,
                                 key_id=signer.key_id, actor=actor)
    custody.append(session=session, actor=actor, action=f"request.letter_{kind}",
                   target_type="records_request", target_id=request.id,
                   client_addr=client_addr,
                   details={"letter_id": letter.id, "format": statement["format"],
                            "signature": signature, "key_id": signer.key_id})
    return letter


def _header(request: RecordsRequest, fmt: str, today: Any) -> dict[str, Any]:
    settings = get_settings()
    return {"format": fmt, "agency": settings.agency_name,
            "custodian_title": settings.custodian_title, "request_id": request.id,
            "requester_name": request.requester_name, "description": request.description,
            "received_on": request.received_on.isoformat(),
            "deadline": request.deadline.isoformat(), "sent_on": today.isoformat()}


def _part(session: Session, item: RequestRecording,
          decision: RequestDecision | None) -> dict[str, Any]:
    """One recording's part of the response."""
    made = decision.decision if decision else {}
    part: dict[str, Any] = {"recording": item.position, "item_id": item.id,
                            "outcome": {"released": "released", "denied": "denied",
                                        "closed": "withdrawn"}[item.state]}
    if item.state == "closed":
        part["reason"] = item.close_reason
        return part
    part |= {"effect": made.get("effect"), "letter": made.get("letter"),
             "explanation": item.explanation,
             "withheld": [{k: w.get(k) for k in ("what", "redaction", "description",
                                                   "citations", "explanations", "harm")}
                          for w in made.get("withheld", [])]}
    if item.state == "released":
        round_ = released_round(session=session, item=item)
        statement = (round_.statement if round_ else None) or {}
        part |= {"released": made.get("released"), "delivery": statement.get("delivery"),
                 "sha256": statement.get("sha256"), "size": statement.get("size")}
        if statement.get("content_credentials"):
            # A re-encode strips the manifest; the SHA-256 above still names the file, and
            # these say how to check the manifest of an unaltered copy.
            part["content_credentials"] = statement["content_credentials"]
    return part


def answer_if_done(*, session: Session, signer: Signer, request: RecordsRequest,
                   actor: Principal, client_addr: str = "") -> RequestLetter | None:
    """Once every recording of the request is answered, the written response (KRS
    61.880(1)): what is released and how, each part withheld with its exception, its
    citation and how it applies, and, when anything is withheld, the appeal notice; signed
    by the server, and the request answered. Nothing while a recording is still live."""
    if request.state != "open" or not requests.all_answered(session=session, request=request):
        return None
    items = requests.recordings(session=session, request_id=request.id)
    in_force = requests.current_decisions(session=session, item_ids=[i.id for i in items])
    parts = [_part(session, item, in_force.get(item.id)) for item in items]
    answered = [p for p in parts if p["outcome"] != "withdrawn"]
    if not answered:  # every recording withdrawn: nothing to answer, the request closes
        requests.mark(session=session, request=request, state="closed", actor=actor,
                      reason="every recording was withdrawn", client_addr=client_addr)
        return None
    kinds = {p.get("letter") for p in answered}
    overall = ("denial" if all(p["outcome"] == "denied" for p in answered)
               else "grant" if kinds == {"grant"} else "partial_denial")
    today = kentucky_today()
    notices = []
    if any(p.get("effect") == "deny_during_investigation" for p in answered):
        notices.append(INVESTIGATION_NOTICE)
    if overall != "grant":
        notices.append(APPEAL_NOTICE)
    statement = {**_header(request, RESPONSE_FORMAT, today), "letter": overall,
                 "within_deadline": today <= request.deadline, "recordings": parts,
                 "notices": notices}
    letter = _signed_letter(session, signer, request, "response", statement, actor,
                            client_addr)
    requests.mark(session=session, request=request, state="answered", actor=actor,
                  client_addr=client_addr, details={"letter_id": letter.id,
                                                    "letter": overall})
    return letter


def send_delay_notice(*, session: Session, signer: Signer, request_id: str,
                      body: DelayNoticeBody, actor: Principal,
                      client_addr: str = "") -> RequestLetter:
    """The KRS 61.872(5) notice that the records are not ready within the five days: the
    place, time and earliest date they will be, and the detailed reason."""
    request, _ = requests.get_for_transition(session=session, request_id=request_id)
    if request.state != "open":
        raise NotDecided(f"request {request.id} is {request.state}: it is answered",
                         state=request.state)
    today = kentucky_today()
    notice = check_delay_notice(DelayNotice(sent_on=today, place=body.place, time=body.time,
                                            earliest_date=body.earliest_date,
                                            reason=body.reason),
                                received_on=request.received_on)
    statement = {**_header(request, DELAY_FORMAT, today), "citation": "KRS 61.872(5)",
                 "place": notice.place, "time": notice.time,
                 "earliest_date": notice.earliest_date.isoformat(), "reason": notice.reason}
    return _signed_letter(session, signer, request, "delay", statement, actor, client_addr)


def request_residency_statement(*, session: Session, signer: Signer, request_id: str,
                                actor: Principal, client_addr: str = "") -> RequestLetter:
    """Ask the requester for the statement of residency (KRS 61.872(2)(a)) the decision
    needs before the request can be answered."""
    request, _ = requests.get_for_transition(session=session, request_id=request_id)
    items = [i for i in requests.recordings(session=session, request_id=request.id)
             if i.state == "open"]
    in_force = requests.current_decisions(session=session, item_ids=[i.id for i in items])
    asked = next((d.decision.get("residency_request") for d in in_force.values()
                  if d.effect == "residency_statement"), None)
    if request.state != "open" or asked is None:
        raise NotDecided("no decision in force asks for the statement of residency",
                         request_id=request.id)
    statement = {**_header(request, RESIDENCY_FORMAT, kentucky_today()),
                 "citation": asked["citation"], "text": asked["text"],
                 "send_by": asked["send_by"], "clock": asked["clock"]}
    return _signed_letter(session, signer, request, "residency", statement, actor,
                          client_addr)
