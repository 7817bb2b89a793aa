"""An auditor's verification in real Chromium, the worker's part run by the test so each
moment can be seen: the box names the stage its bar counts while the check runs, and when
the result shows, the log table below reads itself again (no reload) and holds the check's
own `custody.verify` entry. And the request page's badge for a rule that decides nothing but
adds whole heads. Screenshots kept when BWC_SCREENSHOTS names a folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bwc_custody.roles import Role
from tests.browser.conftest import Walk, log_on, page_errors, people, staff
from tests.requests.test_review import Desk
from tests.support.actors import LOCAL_OPERATOR
from tests.tags.conftest import KID_A, KID_B, make_clip

__all__ = ["make_clip"]
pytestmark = [pytest.mark.browser]
# read at import: the bwc_home fixture clears every BWC_* variable before the test runs
SHOTS = os.environ.get("BWC_SCREENSHOTS")


@pytest.fixture
def quiet_server(sqlite_migrated: str, bwc_home: Path, tmp_path: Path) -> Iterator[str]:
    """`bwc serve` without a worker (the test runs the verification itself)."""
    from tests.support.server import running_server

    env = {"BWC_HOME": str(bwc_home), "BWC_DATABASE_URL": sqlite_migrated,
           "BWC_AUTO_ANALYZE": "false", "BWC_COOKIE_SECURE": "false"}
    with running_server(env, tmp_path / "serve.log") as (_proc, url):
        yield url


@pytest.fixture
def person(chromium: Any, quiet_server: str) -> Iterator[Callable[[str], Walk]]:
    """Factory: one person's browser on the quiet server."""
    with people(chromium, quiet_server) as open_:
        yield open_


def test_the_verification_box_names_its_stage_and_the_table_reads_itself_again(
        ingest_clip: Callable[..., str], person: Callable[[str], Walk]) -> None:
    from bwc_custody.config import get_settings
    from bwc_custody.custody import service as custody
    from bwc_custody.db import get_engine, session_scope
    from bwc_custody.flows.verify_state import run_verify_job
    from bwc_custody.jobs.worker import JobContext, run_now
    from bwc_custody.vault.service import get_signer, get_store

    ingest_clip()
    with session_scope() as session:  # two signed checkpoints, for a stage with a count
        for n in range(2):
            custody.append(session=session, actor=LOCAL_OPERATOR, action="test.event",
                           target_type="test", target_id=f"rec-{n}")
            custody.create_checkpoint(session=session, signer=get_signer(), store=get_store())
    key = staff("aud-1", Role.auditor)
    w = person("auditor-verify")
    errors = page_errors(w)
    log_on(w, "aud-1", key)
    w.go("/console/custody")
    w.click("button:has-text('Verify now')")
    w.page.wait_for_url("**/console/custody?verification=*")
    w.page.wait_for_selector("text=Waiting for the server's worker")
    job_id = w.page.url.rsplit("=", 1)[1]
    # one check at a time: the button is off while this one waits, and says why
    assert w.page.locator("#verify-form button").is_disabled()
    assert "comes back when it ends" in w.page.locator("#verify-busy").inner_text()
    table = w.page.locator("#custody-log td.action")
    assert "custody.verify" not in table.all_inner_texts()
    # the ingest entry's sha256 is one long word: the log still fits a 1280-pixel window and
    # ends inside the page's header bar, not past it
    assert w.page.evaluate("document.documentElement.scrollWidth") <= 1280
    header = w.page.locator("header").bounding_box()
    log = w.page.locator("#custody-log table").bounding_box()
    assert header is not None
    assert log is not None
    assert log["x"] + log["width"] <= header["x"] + header["width"]
    # and it fits its own box at this width: no column (the hash) hidden behind a scrollbar
    assert w.page.evaluate("(b => b.scrollWidth <= b.clientWidth)"
                           "(document.querySelector('#custody-log .table-scroll'))")
    # a reload would drop this: the table must be read again in place
    w.page.evaluate("window.bwcNotReloaded = true")

    seen: list[str] = []

    def watched(ctx: JobContext) -> None:
        """The real handler; at the checkpoints stage's first step the heartbeat stores the
        progress at once and the test waits for the polling box to show it."""
        report = ctx.progress

        def progress(done: int, total: int | None, stage: str | None = None) -> None:
            report(done, total, stage)
            if stage == "checkpoints" and done == 1:
                assert ctx.heartbeat.beat()
                w.page.wait_for_selector("#verification-stage:has-text('Checking signed')")
                seen.append(" ".join(w.page.locator("#verification-stage").inner_text().split()))
                w.shot("1-verifying-checkpoints")
            if stage == "database" and done == 1:  # after the files: its own step, last
                assert ctx.heartbeat.beat()
                w.page.wait_for_selector("#verification-stage:has-text('Comparing the database')")
                seen.append(" ".join(w.page.locator("#verification-stage").inner_text().split()))
                w.shot("1-verifying-database")

        ctx.progress = progress  # type: ignore[method-assign]
        run_verify_job(ctx)

    done = run_now(job_id, engine=get_engine(), home=get_settings().home,
                   handlers={"verify": watched})
    assert done.state == "succeeded", done.error_message
    assert seen == ["Step 2 of 4: Checking signed checkpoints: 1 of 2",
                    "Step 4 of 4: Comparing the database with the log: 1 of 7 kinds of record"]
    w.page.wait_for_selector("text=The log verifies")
    w.page.wait_for_selector("#custody-log td.action:has-text('custody.verify')")
    assert table.first.inner_text() == "verify.finished"  # the job's end, newest of all
    w.page.wait_for_selector("#verify-form button:not([disabled])")  # back, in place
    assert w.page.locator("#verify-busy").count() == 0
    assert w.page.evaluate("window.bwcNotReloaded") is True
    w.shot("2-verified-log-read-again")
    assert errors == []


@pytest.mark.slow
def test_the_whole_heads_rule_says_what_it_adds(
        sqlite_migrated: str, bwc_home: Path, make_token: Callable[..., str],
        ingest_clip: Callable[..., str], make_clip: Callable[..., Path],
        person: Callable[[str], Walk]) -> None:
    from bwc_custody.app import create_app

    with TestClient(create_app()) as client:  # the recording and the parent's request
        desk = Desk(client, make_token, bwc_home, ingest_clip, None)
        request_id = desk.request(desk.recording(make_clip([KID_A, KID_B], per_image=2.0)))
    key = staff("cust-web", Role.custodian)
    w = person("request-whole-heads")
    errors = page_errors(w)
    log_on(w, "cust-web", key)
    w.go(f"/console/requests/{request_id}")
    rule = w.page.locator(".rule", has_text="school-students-whole-heads-involved")
    badge = rule.locator(".badge.effect-adds")
    assert badge.inner_text() == "adds: whole heads (non-subject students)"
    assert badge.is_visible()
    assert badge.get_attribute("title").startswith("Decides nothing; adds to the redactions:")
    rule.scroll_into_view_if_needed()
    w.shot("1-request-rules")
    assert errors == []
