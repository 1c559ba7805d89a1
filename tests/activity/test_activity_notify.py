"""Alert delivery: the webhook (HMAC-signed JSON, bounded retries) and syslog."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "e2e"))

from webhook_receiver import webhook_receiver

from mailward.activity import Alert, Notifier, sign, verify
from mailward.activity import notify as notify_module
from mailward.config.activity import SyslogSettings, WebhookSettings

ALERT = Alert(
    id=7, kind="account", subject="alice@example.com", severity="high", score=14.0,
    state="open", symbols=("ACT_INTERNAL_PHISH", "ACT_SEND_BURST"), summary="s",
    evidence=({"symbol": "ACT_SEND_BURST", "evidence": {"messages": 25}},), responses={},
    created_at=1.0, updated_at=2.0, acted_by="", acted_at=0.0, note="",
)


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify_module.time, "sleep", lambda _s: None)


def test_signature_round_trip() -> None:
    body = b'{"a": 1}'
    assert sign(body, "k") == "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert verify(body, "k", sign(body, "k"))
    assert not verify(body + b" ", "k", sign(body, "k"))
    assert not verify(body, "other", sign(body, "k"))


def test_webhook_posts_signed_json() -> None:
    with webhook_receiver() as (url, got):
        notifier = Notifier(WebhookSettings(url=url, secret="s3cret"), SyslogSettings())
        notifier.send("alert.opened", ALERT)
        notifier.join()
        [(headers, body)] = got.wait(1)
    assert verify(body, "s3cret", headers["X-Mailward-Signature"])
    data = json.loads(body)
    assert data["event"] == "alert.opened" and data["alert"]["id"] == 7
    assert data["alert"]["symbols"] == ["ACT_INTERNAL_PHISH", "ACT_SEND_BURST"]


def test_webhook_retries_a_failure_then_succeeds() -> None:
    with webhook_receiver() as (url, got):
        got.statuses.extend([500, 503])
        notifier = Notifier(WebhookSettings(url=url, retries=3), SyslogSettings())
        assert notifier.post(b"{}")
        assert len(got.wait(3)) == 3
        assert "X-Mailward-Signature" not in got.posts[0][0]  # no secret: unsigned


def test_webhook_gives_up_after_its_retries() -> None:
    with webhook_receiver() as (url, got):
        got.statuses.extend([500] * 10)
        notifier = Notifier(WebhookSettings(url=url, retries=2), SyslogSettings())
        assert not notifier.post(b"{}")
        assert len(got.posts) == 3


def test_webhook_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookSettings(url="file:///etc/passwd")


def test_syslog_line_over_udp() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10)
        port = sock.getsockname()[1]
        notifier = Notifier(WebhookSettings(),
                            SyslogSettings(enabled=True, address=f"127.0.0.1:{port}"))
        notifier.send("alert.opened", ALERT)
        line = sock.recv(4096).decode()
    assert "mailward alert 7 alert.opened account alice@example.com" in line
    assert "severity=high" in line and line.startswith("<")


def test_syslog_that_cannot_open_does_not_stop_alerts(tmp_path: Path) -> None:
    notifier = Notifier(WebhookSettings(),
                        SyslogSettings(enabled=True, address=str(tmp_path / "no-socket")))
    notifier.send("alert.opened", ALERT)  # no exception
