"""A redaction request that follows the decisions on the recording: while a live request's
decision asks for whole heads (policies: `whole_heads`), heads mode is on unless the custodian
says otherwise. It reads the requests (above the redactions domain), so it is a flow; the API,
the CLI, the console and the studio queue redactions through it."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bwc_custody.auth.service import Principal
from bwc_custody.jobs.models import Job
from bwc_custody.redactions import service as redactions
from bwc_custody.redactions.models import RedactionRequest
from bwc_custody.requests import service as requests


def heads_asked(*, session: Session, evidence_id: str) -> list[dict[str, Any]]:
    """The live requests for the recording whose decision asks for whole heads, with the
    rules that ask (for the form's pre-ticked box and the line saying why)."""
    return requests.whole_heads_asked(session=session, evidence_id=evidence_id)


def request_redaction(*, session: Session, evidence_id: str, body: RedactionRequest,
                      actor: Principal, client_addr: str = "") -> Job:
    """Queue a redaction; heads mode defaults on while a decision on the recording asks for
    whole heads (`heads: false` in the body still turns it off, and is recorded)."""
    return redactions.request_redaction(
        session=session, evidence_id=evidence_id, body=body, actor=actor,
        client_addr=client_addr,
        heads_asked=heads_asked(session=session, evidence_id=evidence_id))
