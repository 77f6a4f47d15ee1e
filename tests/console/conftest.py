"""Browser fixtures: Debian's chromium driven by Playwright against a real API on a real Neo4j.

Set VEIL_CONSOLE_SCREENSHOTS=<dir> to keep a screenshot of each page the tests visit.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.console.seed import Seeded, seed

CHROMIUM = os.environ.get("VEIL_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def seeded(container) -> Seeded:
    """One demo workspace with a user per role, shared by the browser tests (read-mostly)."""
    return seed(container, customers=80)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """The system chromium (never a downloaded browser); fails with what to install when missing."""
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium (or set VEIL_CHROMIUM)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@dataclass
class Watched:
    """A page with what it did: console errors, page errors and requests to other hosts."""

    page: object
    base: str
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    allowed_errors: list[str] = field(default_factory=list)

    def wait_until(self, js: str, timeout: float = 20.0) -> None:
        """Poll a JS expression with page.evaluate (the console's CSP forbids wait_for_function's eval)."""
        import time

        deadline = time.monotonic() + timeout
        while not self.page.evaluate(js):  # type: ignore[attr-defined]
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for: {js}")
            time.sleep(0.1)

    def shot(self, name: str) -> None:
        """A full-page screenshot when VEIL_CONSOLE_SCREENSHOTS names a directory."""
        out = os.environ.get("VEIL_CONSOLE_SCREENSHOTS")
        if out:
            Path(out).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(out) / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]

    def login(self, seeded: Seeded, role: str, *, lang: str = "en") -> None:
        """Sign in through the login form as the seeded user of a role."""
        page = self.page
        page.goto(self.base + "/")  # type: ignore[attr-defined]
        page.evaluate(f"localStorage.setItem('veil.console.lang', '{lang}')")  # type: ignore[attr-defined]
        page.reload()  # type: ignore[attr-defined]
        page.fill("input[name=username]", seeded.username(role))  # type: ignore[attr-defined]
        page.fill("input[name=password]", seeded.passwords[role])  # type: ignore[attr-defined]
        page.fill("input[name=workspace]", seeded.workspace)  # type: ignore[attr-defined]
        page.click("form button[type=submit]")  # type: ignore[attr-defined]
        page.wait_for_selector("#nav a")  # type: ignore[attr-defined]


@pytest.fixture()
def console(browser, live_server) -> Iterator[Watched]:
    """A fresh browser context on the console; after the test: no console errors, no outside requests."""
    context = browser.new_context(viewport={"width": 1366, "height": 860}, accept_downloads=True,  # type: ignore[attr-defined]
                                  timezone_id="Asia/Taipei")
    page = context.new_page()
    page.set_default_timeout(20_000)
    w = Watched(page=page, base=live_server)
    host = urlparse(live_server).netloc

    def on_request(req) -> None:  # type: ignore[no-untyped-def]
        u = urlparse(req.url)
        if u.scheme in ("blob", "data") or u.netloc == host:
            return
        w.outside.append(req.url)

    page.on("request", on_request)
    page.on("console", lambda m: w.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: w.errors.append(f"pageerror: {e}"))
    yield w
    context.close()
    assert w.outside == [], f"requests left 127.0.0.1: {w.outside}"
    unexpected = [e for e in w.errors if not any(a in e for a in w.allowed_errors)]
    assert unexpected == [], f"console errors: {unexpected}"
