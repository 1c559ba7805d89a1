"""Helpers of the console tests (a module of its own name: every test folder has a conftest)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

from starlette.testclient import TestClient

from mailward.model import Finding
from mailward.store import MessageRecord

PASSWORD = "correct horse battery"
ROLES = ("viewer", "analyst", "admin")
Quarantine = Callable[..., str]


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


def login(client: TestClient, role: str, password: str = PASSWORD) -> str:
    """Log in as the user of ``role``; returns the CSRF token of the session."""
    r = client.post("/api/login", json={"username": role, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf"])


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match[1]
