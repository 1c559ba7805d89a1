"""Fixtures for the console tests: settings on a temporary data dir, a store with quarantined
messages, users of each role, and a Starlette TestClient on the app (with a clock to turn)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mailward.config.settings import Settings
from mailward.model import Finding
from mailward.store import MessageRecord, Store, open_store
from mailward.web import build_app
from mailward.web._accounts import Accounts

PASSWORD = "correct horse battery"
ROLES = ("viewer", "analyst", "admin")


@dataclass
class Clock:
    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now


def phish_message(
    subject: str = "Your mailbox is full", to: tuple[str, ...] = ("alice@example.com",),
    display: str = "IT Desk", filename: str = "invoice.pdf", html: str = "",
    extra_headers: dict[str, str] | None = None, n: int = 0,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f'"{display}" <it@evil.example.net>'
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Message-ID"] = f"<phish-{n}@evil.example.net>"
    for k, v in (extra_headers or {}).items():
        msg[k] = v
    msg.set_content("Log in at https://login.evil.example.net/reset?u=alice now.\n")
    if html:
        msg.add_alternative(html, subtype="html")
    pe = b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00\x4c\x01" + b"\0" * 200
    msg.add_attachment(pe, maintype="application", subtype="pdf", filename=filename)
    return msg.as_bytes()


def record(
    n: int = 0, subject: str = "Your mailbox is full", to: tuple[str, ...] = ("alice@example.com",),
    at: float | None = None, score: float = 14.0, sender: str = "it@evil.example.net",
    symbol: str = "URL_TEXT_MISMATCH",
) -> MessageRecord:
    return MessageRecord(
        id=f"q{n:06d}", received_at=at if at is not None else 1_765_000_000.0 + n,
        mail_from=sender, rcpt_tos=to, peer_ip="192.0.2.1",
        message_id=f"<phish-{n}@evil.example.net>", subject=subject, size=1234, sha256="0" * 64,
        score=score, action="quarantine", reason=f"score {score} >= 10",
        findings=(Finding(symbol, "The link text shows one site and the link goes to another.",
                          ("https://login.evil.example.net/reset",), score=score),),
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.model_validate({
        "data_dir": str(tmp_path / "data"), "dns": {"enabled": False},
        "console": {"listen_port": 8025, "page_size": 20},
    })


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = open_store(settings.store_url)
    yield s
    s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(settings: Settings) -> None:
    accounts = Accounts(settings.store_url)
    try:
        for role in ROLES:
            accounts.add_user(role, PASSWORD, role)
    finally:
        accounts.close()


Quarantine = Callable[..., str]


@pytest.fixture
def quarantine(store: Store) -> Quarantine:
    def put(n: int = 0, raw: bytes | None = None, **kw: object) -> str:
        rec = record(n, **kw)  # type: ignore[arg-type]
        store.quarantine(rec, raw if raw is not None else phish_message(n=n, to=rec.rcpt_tos))
        return rec.id

    return put


@pytest.fixture
def delivered() -> list[str]:
    return []


@pytest.fixture
def client(
    settings: Settings, store: Store, clock: Clock, users: None, delivered: list[str]
) -> Iterator[TestClient]:
    async def deliver(spool_id: str) -> bool:
        delivered.append(spool_id)
        return True

    app = build_app(settings, store=store, deliver=deliver, clock=clock)
    with TestClient(app, follow_redirects=False) as c:
        yield c
    app.state.close()


def login(client: TestClient, role: str, password: str = PASSWORD) -> str:
    """Log in as the user of ``role``; returns the CSRF token of the session."""
    r = client.post("/api/login", json={"username": role, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf"])


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match[1]
