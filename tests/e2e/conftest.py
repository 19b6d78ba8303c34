"""Browser fixtures: Playwright driving Debian's Chromium (/usr/bin/chromium; Playwright
never downloads a browser of its own), headless, a fresh browser per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

from tests.conftest import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Console:
    """What the page complained about: console errors (CSP violations show up here)."""

    errors: list[str] = field(default_factory=list)

    def record(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(live_server: LiveServer, console: Console) -> Iterator[Page]:
    """A tab in a fresh headless Chromium, started after the live server on purpose:
    while the sync Playwright API is active it holds an asyncio loop on this thread,
    so every async fixture (the test database) must be set up before it starts."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}: run `make chromium`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        context.set_default_timeout(10_000)
        tab = context.new_page()
        tab.on("console", console.record)
        tab.on("pageerror", lambda exc: console.errors.append(str(exc)))
        try:
            yield tab
        finally:
            context.close()
            browser.close()
