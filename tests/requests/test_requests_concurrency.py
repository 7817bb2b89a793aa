"""Tag changes made at the same moment by several custodians: the decision in force is the
one for all of the tags, never one made on a view that missed another's change."""

from __future__ import annotations

import threading
from collections.abc import Callable

from bwc_custody.auth.service import Principal
from bwc_custody.roles import Role
from tests.concurrency import run_in_threads

TAGS = ["arrest", "investigation_open", "multi_student", "nudity"]


def test_simultaneous_tag_changes_leave_the_decision_of_every_tag(
        migrated: str, ingest_clip: Callable[..., str]) -> None:
    from bwc_custody.db import session_scope
    from bwc_custody.flows import tagging
    from bwc_custody.requests import service
    from bwc_custody.requests.models import RequestCreate
    from bwc_custody.tags import service as tags
    from policies.engine import evaluate

    evidence_id = ingest_clip(campus="Central High", involves_juvenile=True)
    custodian = Principal(user_id=None, username="cust", roles=frozenset({Role.custodian}))
    with session_scope() as session:
        request, _ = service.create_request(session=session, actor=custodian, body=RequestCreate(
            description="the whole recording", requester_name="WKYT", form="copy",
            requester_type="news_media", residency="resident", evidence_ids=[evidence_id]))
        request_id = request.id
        [item] = service.recordings(session=session, request_id=request_id)
    todo, lock = list(TAGS), threading.Lock()
    start = threading.Barrier(len(TAGS))

    def add_one() -> None:
        with lock:
            name = todo.pop()
        start.wait()
        with session_scope() as session:
            tagging.add_tag(session=session, evidence_id=evidence_id, name=name,
                            source="custodian", actor=custodian, reason="seen at review")

    assert run_in_threads(add_one, len(TAGS)) == []
    with session_scope() as session:
        effective = tags.effective_tags(session=session, evidence_id=evidence_id)
        current = service.current_decision(session=session, item_id=item.id)
        request = service.get_or_raise(session=session, request_id=request_id)
        made = service.decisions(session=session, request_id=request_id)
        assert current is not None
        assert set(TAGS) <= effective
        assert set(current.tags) == effective
        assert current.effect == evaluate(service.facts_of(request, effective)).effect
    assert len(made) == 1 + len(TAGS)
