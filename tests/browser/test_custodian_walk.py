"""A custodian and a legal reviewer take a request that came by mail from recording it to
releasing the redacted copy, in a real browser, without a terminal, an id typed or a JSON
body: the page actions and the wall time are counted (the closing note's figures)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from bwc_custody.roles import Role
from tests.browser.conftest import Walk, log_on, page_errors, staff
from tests.tags.conftest import KID_A, KID_B, make_clip

__all__ = ["make_clip"]
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _count_people(evidence_id: str) -> None:
    """The person count the ingest queues on a real server (turned off in tests), run here
    before the walk starts: it tags the clip multi-student."""
    from bwc_custody.config import get_settings
    from bwc_custody.db import get_engine, session_scope
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.worker import run_now
    from bwc_custody.tags import analysis
    from tests.support.actors import LOCAL_OPERATOR

    with session_scope() as session:
        job = analysis.request_analysis(session=session, evidence_id=evidence_id,
                                        actor=LOCAL_OPERATOR)
    done = run_now(job.id, engine=get_engine(), home=get_settings().home, handlers=HANDLERS)
    assert done.state == "succeeded", (done.error_code, done.error_message)


def test_mail_in_to_release_in_the_browser(
        walk: Callable[[str], Walk], make_clip: Callable[..., Path],
        ingest_clip: Callable[..., str], record_property: Callable[[str, Any], None]) -> None:
    evidence_id = ingest_clip(make_clip([KID_A, KID_B], per_image=1.0), campus="Central High",
                              officer_id="off-7", case_number="26-0412")
    ingest_clip(campus="East Middle", officer_id="off-2")  # one that must not be picked
    _count_people(evidence_id)
    custodian_key = staff("cust-1", Role.custodian)
    counsel_key = staff("counsel-1", Role.legal_reviewer)
    custodian, counsel = walk("custodian"), walk("counsel")
    # each list fills as its page reports; a sum made now would stay empty for ever
    custodian_errors, counsel_errors = page_errors(custodian), page_errors(counsel)
    started = time.monotonic()

    # the letter arrives: the custodian records it
    log_on(custodian, "cust-1", custodian_key)
    custodian.fill("#description", "Body camera video of the 2 March hallway incident")
    custodian.fill("#requester_name", "Lexington Herald")
    custodian.pick("#requester_type", "news_media")
    custodian.pick("#residency", "resident")
    custodian.click("button:has-text('Record the request')")
    custodian.page.wait_for_selector("text=The request is recorded.")
    request_url = custodian.page.url.split("?")[0]
    custodian.shot("1-request-recorded")

    # ...finds the recording in the list by its campus, and links it
    custodian.click("text=pick them from the recordings list")
    custodian.fill("#campus", "central")
    # the list narrows as the custodian types (htmx swaps the table in)
    # (Playwright's expect: a wait_for_function string would need the eval the CSP forbids)
    expect(custodian.page.locator("input[name=pick]")).to_have_count(1)
    assert custodian.page.locator(f"input[name=pick][value='{evidence_id}']").count() == 1
    custodian.shot("2-pick")
    custodian.tick(f"input[name=pick][value='{evidence_id}']")
    custodian.click("button:has-text('Link the ticked recordings')")
    custodian.page.wait_for_selector("text=The recordings are linked")
    assert "release redacted" in custodian.page.inner_text("main")
    custodian.shot("3-linked")

    # ...asks for a redacted copy and watches it being made
    custodian.click(f"a[href='/console/evidence/{evidence_id}']")
    custodian.click("button:has-text('Request a redaction')")
    custodian.page.wait_for_selector("#jobs")
    custodian.shot("4-redacting")
    custodian.page.wait_for_selector("section[id^=copy-]", timeout=240_000)  # reloads itself
    custodian.shot("5-copy")

    # ...and puts it before legal review
    custodian.click(f"a[href='{request_url.removeprefix(custodian.base)}']")
    custodian.fill("textarea[name=note]", "Every face blurred; nothing else identifies a student")
    custodian.page.locator("input[name=derivative_id]").first.scroll_into_view_if_needed()
    custodian.shot("5b-submit")
    custodian.click("button:has-text('Submit for legal review')")
    custodian.page.wait_for_selector("text=The file is before legal review.")

    # the legal reviewer finds it waiting, watches it through, signs off
    log_on(counsel, "counsel-1", counsel_key)
    counsel.shot("6-queue")
    counsel.click(f"a[href='{request_url.removeprefix(counsel.base)}']")
    counsel.click("video")  # play
    counsel.page.evaluate("document.querySelector('video').play()")
    expect(counsel.page.locator("video").first).to_have_js_property("ended", True,
                                                                     timeout=60_000)
    counsel.fill("textarea[name=reason]", "Watched in full: every student's face is blurred")
    counsel.click("button:has-text('Approve for release')")
    counsel.page.wait_for_selector("text=The file is signed off for release.")

    # the custodian releases it from the "approved" queue, confirming
    custodian.go("/console/")
    custodian.click("a:has-text('Approved: release now')")
    custodian.click(f"a[href='{request_url.removeprefix(custodian.base)}']")
    custodian.click("button:has-text('Release')")  # refused by the browser: box not ticked
    assert "?done=released" not in custodian.page.url
    custodian.fill("textarea[name=explanation]",
                   "The students shown are juveniles; their faces are blurred under KRS 610.320(3)")
    custodian.tick("input[name=confirm]")
    custodian.click("button:has-text('Release')")
    custodian.page.wait_for_selector("text=The file is released")
    seconds = time.monotonic() - started
    assert "Every recording is answered" in custodian.page.inner_text("main")
    assert "Written response" in custodian.page.inner_text("main")
    custodian.shot("7-released")

    actions = len(custodian.actions) + len(counsel.actions)
    record_property("page_actions", actions)
    record_property("wall_seconds", round(seconds, 1))
    print(f"\nmail-in to release: {actions} page actions "
          f"({len(custodian.actions)} custodian, {len(counsel.actions)} reviewer), "
          f"{seconds:.1f} s wall (the redaction included)")
    # nothing the CSP refused, no script error
    assert custodian_errors + counsel_errors == []
