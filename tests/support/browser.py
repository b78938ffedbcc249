"""Headless Chromium (Debian's package) driven by Playwright, for the dashboard's browser tests. Playwright
is pointed at the system's chromium: nothing is downloaded. In CI a browser that cannot start fails the
test; elsewhere it skips with the reason."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Error, Page, async_playwright

from tests.support.lab import in_ci

CHROMIUM = os.environ.get("FLEET_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach Google's hosts, which this
# machine's closed network refuses; as root it needs --no-sandbox.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"the browser is required in CI and could not start: {reason}", pytrace=False)
    pytest.skip(f"browser not available: {reason} (apt-get install chromium)")


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} missing")
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        except Error as exc:
            _unavailable(str(exc).splitlines()[0])
        try:
            yield browser
        finally:
            await browser.close()


async def open_page(browser: Browser, url: str, errors: list[str]) -> Page:
    """A page at ``url`` that records script errors into ``errors`` (a test asserts there are none)."""
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(url)
    return page


def screenshots_dir(default: Path) -> Path:
    """Where screenshots go: docs/ when FLEET_SCREENSHOTS names it (to refresh the README's pictures),
    else the test's temporary directory."""
    chosen = os.environ.get("FLEET_SCREENSHOTS")
    return Path(chosen) if chosen else default
