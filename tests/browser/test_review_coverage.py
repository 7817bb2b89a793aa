"""A review that means watched, in real Chromium: the legal reviewer plays part of the file
under review and the sign-off is refused (even with an attestation: the flagged ranges were
not played); the rest played at 2x still leaves the flagged ranges; played again at normal
speed from the page's own link, the file is covered and the sign-off goes through, its
signed statement recording what was watched."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bwc_custody.roles import Role
from tests.browser.conftest import Walk, log_on, page_errors, staff
from tests.requests.test_review import Desk
from tests.tags.conftest import KID_A, KID_B, make_clip

__all__ = ["make_clip"]
pytestmark = [pytest.mark.browser, pytest.mark.slow]
PLAYER = "video[data-coverage-url]"
# read at import: the bwc_home fixture clears every BWC_* variable before the test runs
SHOTS = os.environ.get("BWC_SCREENSHOTS")


@pytest.fixture
def review_server(sqlite_migrated: str, bwc_home: Path, tmp_path: Path) -> Iterator[str]:
    """`bwc serve` without a worker (the test runs the jobs itself, in order)."""
    from tests.support.server import running_server

    env = {"BWC_HOME": str(bwc_home), "BWC_DATABASE_URL": sqlite_migrated,
           "BWC_SEGMENT_SIZE": os.environ.get("BWC_SEGMENT_SIZE", "65536"),
           "BWC_AUTO_ANALYZE": "false", "BWC_COOKIE_SECURE": "false"}
    with running_server(env, tmp_path / "serve.log") as (_proc, url):
        yield url


@pytest.fixture
def reviewer_page(chromium: Any, review_server: str) -> Iterator[Walk]:
    """The legal reviewer's browser."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield Walk(page=page, base=review_server, name="coverage",
               shots=Path(SHOTS) if SHOTS else None)
    context.close()


def test_a_reviewer_who_skips_part_signs_only_once_it_is_watched(
        sqlite_migrated: str, bwc_home: Path, make_token: Callable[..., str],
        ingest_clip: Callable[..., str], make_clip: Callable[..., Path],
        reviewer_page: Walk) -> None:
    from bwc_custody.app import create_app

    with TestClient(create_app()) as client:  # the custodian's part, through the API
        # the real clock here (tests/browser/conftest.py): nothing is shifted
        desk = Desk(client, make_token, bwc_home, ingest_clip, None)
        evidence_id = desk.recording(make_clip([KID_A, KID_B], per_image=2.0))
        # decided first: it asks for whole heads, which the copy then has by default
        request_id = desk.request(evidence_id)
        derivative = desk.redacted(evidence_id)
        assert derivative["flags"], "the clip's weak detections are flagged for the reviewer"
        assert desk.post(request_id, "review", desk.custodian,
                         {"derivative_id": derivative["id"]}).status_code == 200
        length = desk.duration(evidence_id)
    key = staff("counsel-web", Role.legal_reviewer)
    w = reviewer_page
    errors = page_errors(w, provoked=("/approve",))
    log_on(w, "counsel-web", key)
    w.go(f"/console/requests/{request_id}")
    panel = w.page.locator(".coverage")
    assert "nothing yet" in panel.inner_text()
    assert w.page.locator("textarea[name=attestation]").is_visible()

    # the first 1.5 s at normal speed, then paused (the reviewer's hand, scripted: a waiting
    # function would be an eval the console's CSP refuses); the page says what is left
    w.page.evaluate(f"""(() => {{ const v = document.querySelector('{PLAYER}');
        v.addEventListener('timeupdate', () => {{ if (v.currentTime >= 1.5) v.pause(); }});
        v.play(); }})()""")
    w.page.wait_for_selector(".coverage .badge")  # redrawn by the server's answer
    assert "Still unwatched" in panel.inner_text()
    w.shot("1-part-watched")

    # signing now is refused, attestation or not: the flagged ranges were never played
    w.fill("textarea[name=reason]", "Every student's face is blurred (KRS 610.320(3))")
    w.fill("textarea[name=attestation]", "The rest shows the same hallway, nobody new")
    w.click("button:has-text('Approve for release')")
    w.page.wait_for_selector("text=That was not done")
    refused = w.page.inner_text("main")
    assert "flagged_not_covered" in refused
    # in words, with the player's clock; the ranges as data are folded away
    assert "faces found only faintly" in refused
    assert "weak_detection" not in refused
    assert "'start'" not in refused
    w.shot("2-refused")

    # the rest, from the page's jump link, at 2x: the whole file, but not the flagged ranges
    w.go(f"/console/requests/{request_id}")
    w.click(".coverage a[data-seek]:not([data-rate])")
    w.page.evaluate(f"document.querySelector('{PLAYER}').playbackRate = 2")
    w.page.wait_for_selector(".coverage[data-whole=true]")  # reported when it ended
    assert w.page.locator(".coverage[data-complete=false]").count() == 1
    assert not w.page.locator("textarea[name=attestation]").is_visible()
    assert "at normal speed" in panel.inner_text()

    # the flagged range's own link plays it at normal speed; now it can be signed
    w.click(".coverage a[data-rate='1']")
    w.page.wait_for_selector(".coverage[data-complete=true]")
    w.shot("3-covered")
    w.fill("textarea[name=reason]", "Every student's face is blurred (KRS 610.320(3))")
    w.click("button:has-text('Approve for release')")
    w.page.wait_for_selector("text=The file is signed off for release.")
    assert errors == []  # nothing the CSP refused, no script error

    from sqlmodel import select

    from bwc_custody.custody.models import CustodyEntry
    from bwc_custody.db import session_scope
    from bwc_custody.releases.models import ReviewRound

    with session_scope() as session:
        [round_] = session.exec(select(ReviewRound)
                                .where(ReviewRound.request_id == request_id)).all()
        reports = session.exec(select(CustodyEntry).where(
            CustodyEntry.action == "review.coverage",
            CustodyEntry.target_id == request_id)).all()
        statement = round_.statement
    assert statement is not None
    watched = statement["coverage"]
    assert (statement["reviewer"], watched["complete"], watched["attestation"]) == (
        "counsel-web", True, None)
    assert watched["duration_s"] == length
    assert all(f["watched"] for f in watched["flagged"])
    assert {c for e in reports for c in e.details["added"]} >= {"full", "skim"}
    assert all(e.actor == "counsel-web" for e in reports)
