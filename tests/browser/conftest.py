"""Fixtures of the real-Chromium suite: the careers stack behind the gateway, a second origin
for the cross-origin tests, and Debian's Chromium driven by Playwright."""

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from devsupport.ports import free_port
from tests.browser.stack import CareersStack, careers_stack, launch_chromium

# How another careers site embeds talent.js: the script from the careers origin, a container.
EMBEDDING_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another careers site</title>
<script src="{careers_url}/talent.js"></script></head>
<body><h1>Recently viewed on another site</h1><div id="recent"></div>
<script>TalentNetwork.renderRecentlyViewed(document.getElementById("recent"));</script>
</body></html>
"""


# Who hires, as the jobs service is told (not its defaults): each JobPosting names it.
HIRING_ORGANIZATION = {"name": "Example Health System", "sameAs": "https://health.example.org"}


class SecondOrigin:
    """A static site on another port: http://127.0.0.1:<port> is listed in
    CORS_ALLOWED_ORIGINS, http://localhost:<port> (another origin, same server) is not."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.root = root

    @property
    def listed(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def unlisted(self) -> str:
        return f"http://localhost:{self.port}"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="package")
def second_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecondOrigin]:
    origin = SecondOrigin(tmp_path_factory.mktemp("second-origin"))
    thread = threading.Thread(target=origin.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield origin
    finally:
        origin.server.shutdown()
        origin.server.server_close()


# Per package: the stack stops once the browser tests are done, before the suites that follow.
@pytest.fixture(scope="package")
def careers(
    tmp_path_factory: pytest.TempPathFactory, second_origin: SecondOrigin
) -> Iterator[CareersStack]:
    workdir = tmp_path_factory.mktemp("careers")
    with careers_stack(
        workdir,
        CORS_ALLOWED_ORIGINS=second_origin.listed,
        DIGEST_SEND_HOUR_UTC="0",  # a daily digest is due at once, so its links can be followed
        DIGEST_CHECK_SECONDS="1",
        HIRING_ORGANIZATION_NAME=HIRING_ORGANIZATION["name"],
        HIRING_ORGANIZATION_URL=HIRING_ORGANIZATION["sameAs"],
    ) as stack:
        (second_origin.root / "embed.html").write_text(EMBEDDING_PAGE.format(careers_url=stack.url))
        yield stack


# Per module, not per session: Playwright's sync API keeps an event loop running on the main
# thread while it is started, and the asyncio tests of other folders need that thread free.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = launch_chromium(playwright)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser profile (no visitor id yet) per test."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()
