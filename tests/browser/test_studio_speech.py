"""Names heard, answered on the studio's timeline, in a real browser: a custodian searches a
recording's speech for two students' names, opens the studio, sees each suggestion under
the timeline with the words and how sure the search is, answers them with the keyboard and
the mouse (one muted with a second more after it, one kept audible), is stopped while one
is unanswered, and makes the copy: its job mutes exactly the accepted ranges, the widened
one widened, each with who accepted it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bwc_custody.roles import Role
from tests.browser.conftest import Walk, log_on, page_errors, staff
from tests.redaction.util import spoken_clip

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TEXT = ("Jayden, sit down please. Brianna Okafor, come with me. "
        "Her mother's number is five oh two, four four one, seven seven two nine.")


@pytest.fixture
def spoken(tmp_path: Path) -> Path:
    """A 320x240 clip over which espeak-ng says two students' names and a phone number."""
    return spoken_clip(TEXT, tmp_path)


def _job(evidence_id: str) -> Any:
    from bwc_custody.db import session_scope
    from bwc_custody.jobs.service import list_jobs

    with session_scope() as session:
        return list(list_jobs(session=session, kind="redaction", evidence_id=evidence_id))


def _search(evidence_id: str) -> Any:
    from bwc_custody.db import session_scope
    from bwc_custody.redactions.service import list_speech_searches

    with session_scope() as session:
        (row,) = list_speech_searches(session=session, evidence_id=evidence_id)
        return sorted(row.suggestions, key=lambda x: (x["start"], x["id"]))


def test_answer_the_names_heard_on_the_timeline_and_render(
        walk: Callable[[str], Walk], spoken: Path, ingest_clip: Callable[..., str]) -> None:
    evidence_id = ingest_clip(spoken)
    key = staff("cust-1", Role.custodian)
    me = walk("studio-speech")
    errors = page_errors(me)
    log_on(me, "cust-1", key)
    me.go(f"/console/evidence/{evidence_id}")
    me.fill("#speech_terms", "Jayden Okafor\nBrianna Okafor")
    me.click("button:has-text('Search the speech')")
    me.page.wait_for_selector("#jobs:not([hx-get])", timeout=300_000)  # reloads when done
    suggestions = _search(evidence_id)
    assert len(suggestions) >= 3, suggestions  # two names and the number

    me.click("text=Open the redaction studio")
    chips = me.page.locator("#speech-track button.sugg")
    chips.first.wait_for()
    assert chips.count() == len(suggestions)
    # each at its time, with the words and how sure in words; in time order for Tab
    labels = [chips.nth(k).inner_text() for k in range(chips.count())]
    for label, s in zip(labels, suggestions, strict=True):
        assert s["heard"].rstrip(".,!?;:")[:10] in label
        assert label.endswith(("likely", "possible", "unsure"))
    lefts = [float(chips.nth(k).evaluate("b => b.offsetLeft")) for k in range(chips.count())]
    assert lefts == sorted(lefts)
    assert "not answered yet" in (chips.first.get_attribute("aria-label") or "")

    # an unanswered one stops the render, nothing queued, and is put in front of the eye
    me.click("#render")
    me.page.wait_for_selector("#studio-error:not([hidden])")
    assert "no answer yet" in me.page.inner_text("#studio-error")
    assert _job(evidence_id) == []

    # keyboard: the first (chosen by the refusal) is muted with M; focus moves to the next
    first, second, *rest = suggestions
    assert me.page.evaluate("document.activeElement.dataset.suggestion") == str(first["id"])
    me.page.keyboard.press("m")
    me.actions.append("press M")
    assert me.page.evaluate("document.activeElement.dataset.suggestion") == str(second["id"])
    # the mouse: the second kept audible from its panel
    me.click(f"#speech-track [data-suggestion='{second['id']}']")
    assert "heard" in me.page.inner_text("#speech-what")
    me.click("#speech-reject")
    # the rest muted, the last with a second more before it
    for s in rest:
        me.click(f"#speech-track [data-suggestion='{s['id']}']")
        me.fill("#speech-before", "1" if s is rest[-1] else "0")
        me.click("#speech-accept")
    me.page.wait_for_selector("#speech-track button.sugg.reject")
    assert me.page.locator("#speech-track button.sugg.accept").count() == len(suggestions) - 1
    assert "0 not answered yet" in me.page.inner_text("#speech-tally")
    me.shot("answered")
    me.click("#render")
    me.page.wait_for_url("**/studio?done=copy+queued")

    (job,) = _job(evidence_id)
    mutes = job.params["regions"]["mute"]
    assert {m["suggestion"] for m in mutes} == {s["id"] for s in suggestions} - {second["id"]}
    assert {m["accepted_by"] for m in mutes} == {"cust-1"}
    last = next(m for m in mutes if m["suggestion"] == rest[-1]["id"])
    assert last["widened"] is True
    assert (last["start"], last["end"]) == pytest.approx(
        (rest[-1]["start"] - 1.0, rest[-1]["end"]), abs=0.001)
    assert not any(m.get("widened") for m in mutes if m is not last)  # (default: left out)
    assert errors == []
