"""A gateway with the console on, console users, and a headless Chromium (Debian's) driven by
Playwright, for the console's end-to-end tests. Nothing is reached beyond 127.0.0.1: every
request the browser makes to another host is aborted and recorded."""

from __future__ import annotations

import os
import smtplib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from gateway_harness import GatewayProcess, free_port, toml_config, wait_for_port

CHROMIUM = os.environ.get("MAILWARD_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "console e2e password"
LOCAL_HOSTS = {"127.0.0.1"}


def chromium_or_skip() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM} (.ci/install-chromium.sh installs Debian's)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def start_console_gateway(tmp: Path, console: str = "") -> tuple[GatewayProcess, int]:
    """A gateway with the console on a free port and one user of each role."""
    from mailward.web._accounts import Accounts

    port, web = free_port(), free_port()
    data = tmp / "data"
    cfg = tmp / "mailward.toml"
    # nothing rejected: every test message is held for the console to show
    extra = f"\n[policy]\nreject_at = 1000.0\n[console]\nlisten_port = {web}\n{console}\n"
    cfg.write_text(toml_config(data, port, extra, engine='disabled = ["content", "lures"]'))
    accounts = Accounts(f"sqlite:///{data / 'mailward.db'}")
    try:
        for role in ("viewer", "analyst", "admin"):
            accounts.add_user(role, PASSWORD, role)
    finally:
        accounts.close()
    gw = GatewayProcess(cfg, port, data, tmp / "gateway.log")
    gw.start()
    try:  # the console listens a moment after the SMTP port opens
        wait_for_port(web, 60)
    except TimeoutError:
        gw.stop()
        raise AssertionError("console did not start:\n" + gw.log.read_text()) from None
    return gw, web


def send(port: int, msg: EmailMessage, sender: str = "sender@partner.example.net") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.send_message(msg, from_addr=sender)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def held_ids(gw: GatewayProcess) -> list[str]:
    from mailward.store import open_store

    store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
    try:
        return [e.id for e in store.list_quarantine(status="held")]
    finally:
        store.close()


@dataclass
class Browser:
    """A Playwright Chromium; each ``page()`` is a fresh context (its own cookies) that
    aborts and records any request to a host other than 127.0.0.1, and records dialogs."""

    browser: Any
    base: str = ""
    remote_requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def page(self) -> Any:
        context = self.browser.new_context(viewport={"width": 1360, "height": 900})

        def guard(route: Any) -> None:
            host = urlsplit(route.request.url).hostname or ""
            if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
                route.continue_()
            else:
                self.remote_requests.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: self.csp_violations.append(m.text)
                if "Content Security Policy" in m.text else None)
        page.on("request", lambda r: None if (urlsplit(r.url).hostname or "") in LOCAL_HOSTS
                or r.url.startswith("data:") else self.remote_requests.append(r.url))
        return page

    def login(self, role: str) -> Any:
        page = self.page()
        page.goto(f"{self.base}/quarantine")
        assert "/login" in page.url
        page.fill("input[name=username]", role)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.base}/quarantine")
        return page


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
