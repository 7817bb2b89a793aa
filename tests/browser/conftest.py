"""Browser fixtures: Debian's Chromium driven by Playwright (never `playwright install`),
and a real `bwc serve` (with its job worker) on the embedded default to drive it against.

A missing Chromium fails these tests where CI is set (it must be installed there) and skips
them with the reason elsewhere."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bwc_custody.roles import Role

CHROMIUM = os.environ.get("BWC_CHROMIUM", "/usr/bin/chromium")
# Read at import: the bwc_home fixture clears every BWC_* variable before a test runs.
SCREENSHOTS = os.environ.get("BWC_SCREENSHOTS")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: .ci/run installs it (apt-get install chromium)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def fixed_clock() -> None:
    """The real clock, not the suite's fixed one: the server these tests drive is another
    process on the machine's clock, and a one-time code made at the fixed instant would be
    months from its own. The walks compare no dates, so the hour they run at does not
    matter."""


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the session."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        _missing(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (Python) is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def live_server(sqlite_migrated: str, bwc_home: Path, tmp_path: Path) -> Iterator[str]:
    """`bwc serve` with its worker on the test's SQLite database and local store."""
    from tests.support.server import running_server

    env = {"BWC_HOME": str(bwc_home), "BWC_DATABASE_URL": sqlite_migrated,
           "BWC_SEGMENT_SIZE": os.environ.get("BWC_SEGMENT_SIZE", "65536"),
           "BWC_AUTO_ANALYZE": "false", "BWC_COOKIE_SECURE": "false"}
    with running_server(env, tmp_path / "serve.log", worker=True) as (_proc, url):
        yield url


@dataclass
class Walk:
    """What one scripted person did in the browser: every page action counted (a page
    opened, a field filled, a box ticked, a button pressed), screenshots kept when
    BWC_SCREENSHOTS names a folder."""

    page: Any
    base: str
    name: str
    actions: list[str] = field(default_factory=list)
    shots: Path | None = None

    def go(self, path: str) -> None:
        self.actions.append(f"open {path}")
        self.page.goto(self.base + path)

    def fill(self, selector: str, value: str) -> None:
        self.actions.append(f"fill {selector}")
        self.page.fill(selector, value)

    def pick(self, selector: str, value: str) -> None:
        self.actions.append(f"choose {selector}")
        self.page.select_option(selector, value)

    def tick(self, selector: str) -> None:
        self.actions.append(f"tick {selector}")
        self.page.check(selector)

    def click(self, selector: str) -> None:
        self.actions.append(f"click {selector}")
        self.page.click(selector)

    def shot(self, label: str) -> None:
        if self.shots is not None:
            self.shots.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(self.shots / f"{self.name}-{label}.png"),
                                 full_page=True)


@contextmanager
def people(chromium: Any, base: str) -> Iterator[Callable[[str], Walk]]:
    """Factory, against the server at `base`: a fresh browser context (its own cookies) for
    one person; each closed at the end (its last screen kept when BWC_SCREENSHOTS is set)."""
    contexts: list[Any] = []

    def _open(name: str) -> Walk:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        return Walk(page=page, base=base, name=name,
                    shots=Path(SCREENSHOTS) if SCREENSHOTS else None)

    try:
        yield _open
    finally:
        for context in contexts:
            if SCREENSHOTS:  # where each person ended: what a failed step left on screen
                for n, page in enumerate(context.pages):
                    page.screenshot(path=str(Path(SCREENSHOTS) / f"last-{id(context)}-{n}.png"),
                                    full_page=True)
            context.close()


@pytest.fixture
def walk(chromium: Any, live_server: str) -> Iterator[Callable[[str], Walk]]:
    """Factory: a fresh browser context (its own cookies) for one person."""
    with people(chromium, live_server) as open_:
        yield open_


PASSWORD = "correct horse battery staple"


def staff(username: str, role: Role, password: str = PASSWORD) -> str:
    """A user with a password and an authenticator key (made as an administrator would);
    returns the key."""
    from bwc_custody.db import session_scope
    from bwc_custody.flows import auth as flows
    from tests.support.actors import LOCAL_OPERATOR

    with session_scope() as session:
        flows.add_user(session=session, actor=LOCAL_OPERATOR, username=username,
                       roles=(role,), password=password)
        _user, key = flows.provision_mfa(session=session, actor=LOCAL_OPERATOR,
                                         username=username)
    return key


def log_on(w: Walk, username: str, key: str, *, password: str = PASSWORD,
           lands: str = "/console/") -> None:
    """Log on through the page with the password and the authenticator's current code."""
    import pyotp

    w.go("/console/login")
    w.fill("#username", username)
    w.fill("#password", password)
    w.fill("#otp", pyotp.TOTP(key).now())
    w.click("button:has-text('Log in')")
    w.page.wait_for_url(f"**{lands}")


def page_errors(w: Walk, *, provoked: tuple[str, ...] = ()) -> list[str]:
    """What goes wrong in the page from now on: script errors and failed loads (a script or
    style the CSP refused shows here), less the icon the browser asks for by itself and
    the loads ending in `provoked` (a refusal the test means to cause)."""
    errors: list[str] = []
    ignored = ("/favicon.ico", *provoked)

    def seen(m: Any) -> None:
        url = str(m.location.get("url", ""))
        if m.type == "error" and not (m.text.startswith("Failed to load resource")
                                      and url.endswith(ignored)):
            errors.append(f"{m.text} ({url})")

    w.page.on("console", seen)
    w.page.on("pageerror", lambda e: errors.append(str(e)))
    return errors
