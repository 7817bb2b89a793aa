"""The auditor's custody log in the console: newest first, a page at a time, filtered by
action, actor, record and day (days in the agency's zone, UTC on hover), and a verify-now
button that queues `bwc verify`'s checks as a job, shows its progress, then says what they
found in words; the check is itself logged."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient

from bwc_custody.roles import Role
from tests.console.conftest import Browser
from tests.custody.conftest import dba
from tests.support.actors import LOCAL_OPERATOR

__all__ = ["dba"]
LOG = "/console/custody"


def _append(n: int, action: str = "test.event", target: str = "rec-1",
            actor: Any = LOCAL_OPERATOR) -> None:
    from bwc_custody.custody import service as custody
    from bwc_custody.db import session_scope

    with session_scope() as session:
        for _ in range(n):
            custody.append(session=session, actor=actor, action=action, target_type="test",
                           target_id=target)


def _seqs(page: Any) -> list[int]:
    return [int(s) for s in re.findall(r'<tr><td class="mono">(\d+)</td>', page.text)]


def _actions(page: Any) -> list[str]:
    return re.findall(r'<td class="mono action">([a-z_]+\.[a-z_.]+)</td>', page.text)


def _verified(auditor: Browser, form: dict[str, str]) -> Any:
    """Press "Verify now": the page shows the check waiting for the worker (polling its box);
    the worker runs it; the page then shows what it found."""
    from bwc_custody.config import get_settings
    from bwc_custody.db import get_engine
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.worker import run_now

    queued: Any = auditor.post(f"{LOG}/verify", form)
    assert queued.status_code == 303
    where = queued.headers["location"]
    job_id = re.fullmatch(r"/console/custody\?verification=([0-9a-f-]+)",
                          where)
    assert job_id is not None, where
    waiting: Any = auditor.get(where)
    assert "Waiting for the server" in waiting.text
    box = f'hx-get="/console/custody/verifications/{job_id.group(1)}"'
    assert box in waiting.text  # the box polls until the check is done
    run_now(job_id.group(1), engine=get_engine(), home=get_settings().home, handlers=HANDLERS)
    done: Any = auditor.get(f"/console/custody/verifications/{job_id.group(1)}")
    assert done.status_code == 200
    assert "hx-get" not in done.text  # finished: the polling stops
    page: Any = auditor.get(where)
    assert page.status_code == 200
    return page


@pytest.fixture
def auditor(client: TestClient, make_token: Callable[..., str],
            browser: Callable[..., Browser]) -> Browser:
    make_token(Role.auditor, username="aud-1")
    return browser("aud-1")


def test_the_log_is_paged_newest_first(auditor: Browser) -> None:
    _append(230)
    first: Any = auditor.get(LOG)
    assert first.status_code == 200
    newest = _seqs(first)
    assert len(newest) == 100
    assert newest == sorted(newest, reverse=True)
    assert newest[0] >= 230  # the newest entry heads the page
    older = re.search(r'href="(/console/custody\?before=\d+)">Older', first.text)
    assert older is not None
    assert "Newer" not in first.text
    second: Any = auditor.get(older.group(1))
    assert _seqs(second) == list(range(newest[-1] - 1, newest[-1] - 101, -1))
    newer = re.search(r'href="(/console/custody\?after=\d+)">&larr; Newer', second.text)
    assert newer is not None
    assert _seqs(auditor.get(newer.group(1))) == newest


def test_filters_by_action_family_actor_and_record(auditor: Browser) -> None:
    from bwc_custody.auth.service import Principal

    cara = Principal(user_id=None, username="cara", roles=frozenset({Role.custodian}))
    _append(3, action="test.seen", target="3f2a9c1b-aaaa")
    _append(2, action="test.moved", target="3f2a0000-bbbb", actor=cara)
    _append(1, action="other.thing", target="77777777")

    def shown(**filters: str) -> list[tuple[str, str]]:
        page: Any = auditor.get(LOG, params=filters)
        assert page.status_code == 200, page.text
        return re.findall(r'<td class="mono action">(\w+\.\w+)</td>\s*<td[^>]*>.*?'
                          r'<span class="mono words">([\w-]+)</span>', page.text, re.S)

    assert shown(action="test.seen") == [("test.seen", "3f2a9c1b-aaaa")] * 3
    assert {a for a, _ in shown(action="test.*")} == {"test.seen", "test.moved"}
    assert shown(actor="cara") == [("test.moved", "3f2a0000-bbbb")] * 2
    assert len(shown(record="3f2a")) == 5
    assert shown(record="3f2a9") == [("test.seen", "3f2a9c1b-aaaa")] * 3
    assert shown(record="3f2a", actor="cara", action="test.moved") == [
        ("test.moved", "3f2a0000-bbbb")] * 2
    page: Any = auditor.get(LOG, params={"record": "zzz"})
    assert "No entry matches these filters." in page.text
    # the choices offered are what the log holds
    assert '<option value="test.*"' in page.text
    assert '<option value="cara"' in page.text


def test_days_are_the_agencys_and_utc_is_on_hover(
        auditor: Browser, fixed_clock: time_machine.Traveller,
        browser: Callable[..., Browser]) -> None:
    # 21:30 on Wednesday 10 March in New York is already Thursday 11 March in UTC
    fixed_clock.move_to(dt.datetime(2027, 3, 11, 2, 30, tzinfo=dt.UTC))
    _append(1, action="test.late")
    fixed_clock.move_to(dt.datetime(2027, 3, 11, 15, 0, tzinfo=dt.UTC))
    _append(1, action="test.next_morning")
    me = browser("aud-1", logon="after the clock moved")
    wednesday: Any = me.get(LOG, params={"action": "test.*", "since": "2027-03-10",
                                          "until": "2027-03-10"})
    assert _actions(wednesday) == ["test.late"]
    assert 'title="UTC 2027-03-11T02:30' in wednesday.text
    assert "Wed 10 Mar 2027, 21:30 EST" in wednesday.text
    thursday: Any = me.get(LOG, params={"action": "test.*", "since": "2027-03-11"})
    assert _actions(thursday) == ["test.next_morning"]


@pytest.mark.parametrize("filters", [
    {"since": "2027-03-11", "until": "2027-03-10"}, {"since": "not a day"},
    {"action": "x'; drop table custody_entry"}, {"before": "0"},
    {"before": "9", "after": "3"}])
def test_bad_filters_are_refused_with_their_code(auditor: Browser,
                                                 filters: dict[str, str]) -> None:
    page: Any = auditor.get(LOG, params=filters)
    assert page.status_code == 422
    assert '<span class="mono">invalid_input</span>' in page.text
    assert "change the filters" in page.text


def test_verify_now_says_the_log_holds_and_is_logged(auditor: Browser,
                                                     ingest_clip: Callable[..., str]) -> None:
    from bwc_custody.custody.service import all_entries
    from bwc_custody.db import session_scope

    ingest_clip()
    _append(4)
    page = _verified(auditor, {"fixity": "yes"})
    assert "The log verifies: nothing is missing, altered or out of order." in page.text
    assert "decrypted and hashed again" in page.text
    assert re.search(r"1 stored file \(\d+\.\d KiB\) decrypted", page.text)  # not 0.0 MiB
    assert "Outside time (RFC 3161): no TSA configured (BWC_TSA_URL)" in page.text
    with session_scope() as session:
        last = [e for e in all_entries(session=session) if e.action == "custody.verify"][-1]
    assert last.details["requested_by"] == "aud-1"
    assert last.details["ok"] is True
    assert last.details["fixity"] is True
    assert last.details["objects"] >= 1
    quick = _verified(auditor, {})
    assert "Stored files were not re-checked this time." in quick.text
    assert "ok: yes; fixity: yes;" in quick.text  # the first check's entry, in words


def test_verify_now_names_an_altered_entry(auditor: Browser,
                                          dba: Callable[[], Any]) -> None:
    from sqlalchemy import text

    _append(5)
    with dba() as conn:  # someone with the database edits history
        conn.execute(text("UPDATE custody_entry SET reason = 'nothing to see' WHERE seq = 3"))
    page = _verified(auditor, {})
    assert "Verification found" in page.text
    assert "The log verifies" not in page.text
    row = re.search(r'<td>log entry</td>\s*<td class="mono">No. 3</td><td>([^<]+)</td>',
                    page.text)
    assert row is not None
    assert "does not match" in row.group(1)
    assert "each one's hash matches its content" not in page.text


def test_only_an_auditor_verifies_and_only_with_this_logons_token(
        client: TestClient, auditor: Browser, make_token: Callable[..., str],
        browser: Callable[..., Browser]) -> None:
    from bwc_custody.custody.service import log_size
    from bwc_custody.db import session_scope

    with session_scope() as session:
        before = log_size(session=session)
    refused: Any = auditor.post(f"{LOG}/verify", {}, csrf=False)
    assert refused.status_code == 403
    assert "csrf_failed" in refused.text
    make_token(Role.custodian, username="cust-1")
    assert browser("cust-1").post(f"{LOG}/verify", {}).status_code == 403
    with session_scope() as session:  # the two refusals are logged as such, nothing else
        assert log_size(session=session) == before + 2


def test_a_running_verification_names_the_stage_its_bar_counts(
        auditor: Browser, ingest_clip: Callable[..., str]) -> None:
    """The job counts each stage (entries, checkpoints, stored bytes, the database's kinds of
    record) from nought in turn: the box says which one, or an auditor sees one bar going
    back to the start three times."""
    from bwc_custody.config import get_settings
    from bwc_custody.custody import service as custody
    from bwc_custody.db import get_engine, session_scope
    from bwc_custody.flows.verify_state import run_verify_job
    from bwc_custody.jobs.worker import JobContext, run_now
    from bwc_custody.vault.service import get_signer, get_store

    ingest_clip()
    _append(4)
    with session_scope() as session:
        for _ in range(2):
            custody.create_checkpoint(session=session, signer=get_signer(), store=get_store())
            custody.append(session=session, actor=LOCAL_OPERATOR, action="test.event",
                           target_type="test", target_id="rec-2")
    queued: Any = auditor.post(f"{LOG}/verify", {"fixity": "yes"})
    job_id = queued.headers["location"].rsplit("=", 1)[1]
    seen: dict[str, str] = {}

    def watched(ctx: JobContext) -> None:
        """The real handler, with the box read as the heartbeat stores each stage's first
        step (the heartbeat's own thread beats only every two seconds)."""
        report = ctx.progress

        def progress(done: int, total: int | None, stage: str | None = None) -> None:
            report(done, total, stage)
            if stage is not None and done > 0 and stage not in seen:
                assert ctx.heartbeat.beat()
                box: Any = auditor.get(f"/console/custody/verifications/{job_id}")
                seen[stage] = re.sub(r"\s+", " ", box.text)

        ctx.progress = progress  # type: ignore[method-assign]
        run_verify_job(ctx)

    done = run_now(job_id, engine=get_engine(), home=get_settings().home,
                   handlers={"verify": watched})
    assert done.state == "succeeded", done.error_message
    assert set(seen) == {"entries", "checkpoints", "objects", "database"}
    assert "Step 1 of 4: Checking log entries: 1 of " in seen["entries"]
    assert "Step 2 of 4: Checking signed checkpoints: 1 of 2" in seen["checkpoints"]
    # the test clip is a few KiB: counted in KiB, not as "0.0 of 0.0 MiB"
    assert re.search(r"Step 3 of 4: Re-reading stored files: \d+\.\d KiB of \d+\.\d KiB",
                     seen["objects"])
    # the database's rows against the log run after the files: a stage of their own, not a
    # bar sitting full on the files while they run
    assert "Step 4 of 4: Comparing the database with the log: 1 of 7 kinds of record" \
        in seen["database"]
    for box in seen.values():  # still running: the box keeps polling
        assert f'hx-get="/console/custody/verifications/{job_id}"' in box


def test_a_finished_verification_has_the_log_table_read_again(auditor: Browser) -> None:
    """The table below the box was read when the page loaded, before the check was logged:
    the box that shows the result tells the page (an htmx event) to read the table again,
    with the filters the page shows, and the table then holds the `custody.verify` entry."""
    from bwc_custody.config import get_settings
    from bwc_custody.console.audit_pages import VERIFIED
    from bwc_custody.db import get_engine
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.worker import run_now

    _append(3)
    queued: Any = auditor.post(f"{LOG}/verify", {})
    job_id = queued.headers["location"].rsplit("=", 1)[1]
    box_url = f"/console/custody/verifications/{job_id}"
    loaded: Any = auditor.get(LOG, params={"action": "custody.*", "verification": job_id})
    table = re.search(r'<div id="custody-log" ([^>]*)>', loaded.text)
    assert table is not None
    listens = dict(re.findall(r'([\w-]+)="([^"]*)"', table.group(1)))
    assert listens["hx-trigger"] == f"{VERIFIED} from:body"
    assert listens["hx-select"] == "#custody-log"
    again = listens["hx-get"].replace("&amp;", "&")
    assert again == "/console/custody?action=custody.%2A"  # the filters the page shows
    assert "custody.verify" not in _actions(loaded)
    waiting: Any = auditor.get(box_url, headers={"HX-Request": "true"})
    assert "HX-Trigger" not in waiting.headers  # not yet: nothing new to read

    run_now(job_id, engine=get_engine(), home=get_settings().home, handlers=HANDLERS)
    done: Any = auditor.get(box_url, headers={"HX-Request": "true"})
    assert "The log verifies" in done.text
    assert done.headers["HX-Trigger"] == VERIFIED
    reread: Any = auditor.get(again, headers={"HX-Request": "true"})
    assert reread.status_code == 200
    part = reread.text[reread.text.index('<div id="custody-log"'):]
    assert re.findall(r'<td class="mono action">([a-z_.]+)</td>', part)[0] == "custody.verify"


def test_a_detail_stored_empty_is_left_off_the_line(auditor: Browser) -> None:
    """A job started with no earlier worker stores `reclaimed_from: null`: the log line reads
    "attempt: 1", not "attempt: 1; reclaimed from:" with nothing after it. The stored entry
    keeps the null; False and an empty list still say something. A detail repeating the
    id the entry is about is left off too."""
    from bwc_custody.config import get_settings
    from bwc_custody.custody import service as custody
    from bwc_custody.db import get_engine, session_scope
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.worker import run_now

    with session_scope() as session:
        custody.append(session=session, actor=LOCAL_OPERATOR, action="test.event",
                       target_type="test", target_id="rec-3",
                       details={"kept": False, "none_found": [], "blank": "", "gone": None,
                                "nested": {"a": 1, "b": None}, "hollow": {"summary": ""}})
    queued: Any = auditor.post(f"{LOG}/verify", {})
    job_id = queued.headers["location"].rsplit("=", 1)[1]
    run_now(job_id, engine=get_engine(), home=get_settings().home, handlers=HANDLERS)
    with session_scope() as session:  # the record as stored: the null is there
        started = [e for e in custody.all_entries(session=session)
                   if e.action == "verify.started"]
        assert started
        assert started[0].details["reclaimed_from"] is None
    page: Any = auditor.get(LOG)
    line = re.sub(r"\s+", " ", page.text)
    assert "attempt: 1" in line
    assert "reclaimed from" not in line
    # the job's own entries are about the job: its id once, in the About column
    assert f'<span class="mono words">{job_id}</span>' in line
    assert f"job id: {job_id}" not in line
    assert "kept: no; none found: none; nested: a: 1</span>" in line  # no "hollow:"
    assert "witnesses:" not in line  # a verification with no witness says nothing of them


def test_a_second_click_while_a_check_runs_joins_it(auditor: Browser) -> None:
    """"Verify now" pressed again while a check waits or runs shows that check, queues no
    second one (reading every stored file twice over for one answer); the page says why the
    button is off until it ends. A full check asked while a quick one waits is a new job."""
    from sqlmodel import select

    from bwc_custody.custody.service import all_entries
    from bwc_custody.db import session_scope
    from bwc_custody.jobs.models import Job

    _append(2)
    first: Any = auditor.post(f"{LOG}/verify", {})
    page: Any = auditor.get(first.headers["location"])
    assert 'id="verify-busy"' in page.text
    assert re.search(r'<button type="submit" disabled[^>]*>Verify now</button>', page.text)
    assert 'hx-trigger="custody-verified from:body" hx-select="#verify-form"' in page.text
    again: Any = auditor.post(f"{LOG}/verify", {})
    assert again.headers["location"] == first.headers["location"]
    full: Any = auditor.post(f"{LOG}/verify", {"fixity": "yes"})
    assert full.headers["location"] != first.headers["location"]
    quick: Any = auditor.post(f"{LOG}/verify", {})  # the full one waiting covers it
    assert quick.headers["location"] == full.headers["location"]
    with session_scope() as session:
        jobs = session.exec(select(Job).where(Job.kind == "verify")).all()
        queued = [e for e in all_entries(session=session) if e.action == "verify.queued"]
    assert sorted(j.params["fixity"] for j in jobs) == [False, True]
    assert len(queued) == 2
    plain: Any = auditor.get(LOG)  # no check named: the button is there to press
    assert 'id="verify-busy"' not in plain.text
    assert '<button type="submit">Verify now</button>' in plain.text
