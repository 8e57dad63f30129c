"""The operator console in a real headless Chromium (Debian's package, driven by Playwright), against
`python -m devstack` started as the e2e tests start it. `make test` installs the browser when it is missing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from tests.e2e.test_local_stack import ADMIN_KEY, ROOT, RunningStack, stack  # noqa: F401 - the stack fixture

CHROMIUM = Path(os.environ.get("OMNIMAN_CHROMIUM", "/usr/bin/chromium"))
# Without these Chromium reaches for Google's services at start and hangs on a machine without internet.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "build" / "console"
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    # A persistent context is how Playwright takes a --user-data-dir: a fresh, empty one for this run.
    context = playwright.chromium.launch_persistent_context(
        tmp_path_factory.mktemp("chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
        viewport={"width": 1280, "height": 860})
    yield context
    context.close()


class Console:
    """One browser tab on the console: its own sessionStorage, so its own sign-in."""

    def __init__(self, page: Page, url: str):
        self.page = page
        self.url = url
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, route: str = "") -> Console:
        self.page.goto(f"{self.url}/console{'#' + route if route else ''}")
        return self

    def sign_in(self, key: str = ADMIN_KEY) -> Console:
        self.page.get_by_label("API key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        return self

    def go(self, route: str) -> None:
        """Follows a link of the console's own, as a user does (no reload: the tab keeps its state)."""
        self.page.evaluate("route => { location.hash = route; }", route)

    def flash(self):
        return self.page.locator("#flash")

    def screenshot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def console(browser: BrowserContext, stack: RunningStack) -> Iterator[Console]:  # noqa: F811 - the fixture above
    page = browser.new_page()
    tab = Console(page, stack.url)
    yield tab
    page.close()
    assert tab.errors == [], f"the page raised: {tab.errors}"
