"""An administrator and an auditor at work in a real browser: the administrator adds a
person (who then logs on with what the page showed, the QR code's key in an authenticator),
disables them, adds a dock; the auditor filters the custody log and verifies it. Nothing the
CSP refuses, no console error; screenshots kept when BWC_SCREENSHOTS names a folder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bwc_custody.roles import Role
from tests.browser.conftest import Walk, log_on, page_errors, staff

pytestmark = [pytest.mark.browser]


def test_an_administrator_and_an_auditor_in_the_browser(walk: Callable[[str], Walk]) -> None:
    admin_key = staff("ada", Role.admin)
    auditor_key = staff("aud-1", Role.auditor)
    admin, auditor, newcomer = walk("admin"), walk("auditor"), walk("newcomer")
    errors = [page_errors(w) for w in (admin, auditor, newcomer)]

    # the administrator lands on the people page, not on a refusal
    log_on(admin, "ada", admin_key, lands="/console/admin/users")
    admin.shot("1-people")
    admin.fill("#username", "lee")
    admin.fill("#display_name", "Lee Park")
    admin.tick("input[name=roles][value=legal_reviewer]")
    admin.click("button:has-text('Add the person')")
    admin.page.wait_for_selector("text=lee is added")
    qr: Any = admin.page.locator("figure.qr-figure svg")
    assert qr.is_visible()
    assert qr.bounding_box()["width"] >= 150  # big enough for a phone to read
    password, key = (t.strip() for t in admin.page.locator(".secret").all_inner_texts())
    admin.shot("2-person-added")

    # lee logs on with what the page showed
    log_on(newcomer, "lee", key.replace(" ", ""), password=password)
    newcomer.shot("3-newcomer-queue")

    admin.click("text=Done: to lee's page")
    admin.page.wait_for_selector("text=in use")  # the key has been used
    admin.shot("4-account")
    admin.fill("#disable_reason", "left the district")
    admin.tick("form[action$='/disable'] input[name=confirm]")
    admin.click("button:has-text('Disable')")
    admin.page.wait_for_selector("text=The account is disabled")
    admin.shot("5-disabled")
    newcomer.go("/console/")
    newcomer.page.wait_for_url("**/console/login")  # lee's logon ended at once

    admin.click("header >> text=Dock devices")
    admin.fill("#username", "dock-central-1")
    admin.fill("#display_name", "Central High, SRO office")
    admin.click("button:has-text('Add the dock')")
    admin.page.wait_for_selector("text=The dock dock-central-1 is added")
    assert admin.page.locator(".secret").inner_text().startswith("bwc_")
    admin.shot("6-dock-added")
    admin.go("/console/admin/devices")
    admin.shot("7-devices")
    admin.click("text=dock-central-1")
    admin.page.wait_for_selector("text=a docking station: uploads with an API token")
    assert admin.page.locator("text=Reset the password").count() == 0
    assert admin.page.locator("text=Save the roles").count() == 0  # a dock stays a dock
    admin.shot("7b-dock")

    # the auditor reads what the administrator did, and verifies the log
    log_on(auditor, "aud-1", auditor_key)
    auditor.click("header >> text=Custody log")
    auditor.shot("8-log")
    auditor.pick("#action", "user.*")
    auditor.pick("#actor", "ada")
    auditor.click("button:has-text('Show')")
    auditor.page.wait_for_selector("td.mono:has-text('user.disable')")
    shown = auditor.page.locator("tbody td.mono:text-matches('^user\\\\.')").all_inner_texts()
    assert shown == ["user.create", "user.disable", "user.create"]  # dock, lee; newest first
    when: Any = auditor.page.locator("tbody time").first
    assert when.get_attribute("title").startswith("UTC ")
    auditor.shot("9-log-filtered")
    auditor.click("button:has-text('Verify now')")
    auditor.page.wait_for_selector("text=The log verifies")
    auditor.shot("10-verified")
    assert errors == [[], [], []]
