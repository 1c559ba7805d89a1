"""Telling the team: alerts POSTed to a webhook (JSON, HMAC-signed) and written to syslog.

Webhook body: ``{"event": "alert.opened" | "alert.escalated" | "alert.acknowledged" |
"alert.closed", "alert": {...}}`` (the alert as ``mailward alerts show --json`` prints it).
Header ``X-Mailward-Signature: sha256=<hex HMAC-SHA256 of the body with [activity.webhook]
secret>``. A failed POST (no connection, a non-2xx answer) is retried ``retries`` times, 1 s,
2 s, 4 s ... apart, in a background thread, so delivery never holds up mail. Syslog lines go
through :class:`logging.handlers.SysLogHandler` to ``[activity.syslog] address``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import logging.handlers
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from mailward.activity.alerts import Alert
from mailward.config.activity import SyslogSettings, WebhookSettings

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Mailward-Signature"


def sign(body: bytes, secret: str) -> str:
    """The X-Mailward-Signature value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` (what a receiver checks)."""
    return hmac.compare_digest(sign(body, secret), header)


def alert_body(event: str, alert: Alert) -> bytes:
    return json.dumps({"event": event, "alert": alert.to_json()}, sort_keys=True).encode()


class Notifier:
    """Sends alert events to the configured webhook and syslog."""

    def __init__(self, webhook: WebhookSettings, syslog: SyslogSettings) -> None:
        self.webhook = webhook
        self._threads: list[threading.Thread] = []
        self._syslog: logging.Logger | None = None
        if syslog.enabled:
            try:
                self._syslog = _syslog_logger(syslog)
            except OSError as exc:  # alerts still reach the store and the webhook
                log.error("cannot open syslog at %s: %s", syslog.address, exc)

    def send(self, event: str, alert: Alert) -> None:
        """Deliver in the background (webhook) and at once (syslog); never raises."""
        if self._syslog is not None:
            try:
                self._syslog.warning(
                    "mailward alert %d %s %s %s severity=%s symbols=%s", alert.id, event,
                    alert.kind, alert.subject, alert.severity, ",".join(alert.symbols))
            except Exception:
                log.exception("could not write alert %d to syslog", alert.id)
        if self.webhook.url:
            body = alert_body(event, alert)
            thread = threading.Thread(target=self.post, args=(body,), daemon=True,
                                      name=f"alert-webhook-{alert.id}")
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def post(self, body: bytes) -> bool:
        """POST ``body`` with retries; True when the receiver answered 2xx."""
        headers = {"Content-Type": "application/json", "User-Agent": "mailward"}
        secret = self.webhook.secret.get_secret_value()
        if secret:
            headers[SIGNATURE_HEADER] = sign(body, secret)
        for attempt in range(self.webhook.retries + 1):
            if attempt:
                time.sleep(min(2.0 ** (attempt - 1), 30.0))
            # the URL's scheme is http or https: WebhookSettings validates it
            request = urllib.request.Request(  # noqa: S310
                self.webhook.url, body, headers, method="POST")
            try:
                with urllib.request.urlopen(  # noqa: S310
                    request, timeout=self.webhook.timeout
                ) as answer:
                    if 200 <= answer.status < 300:
                        return True
            except (urllib.error.URLError, OSError, ValueError) as exc:
                log.warning("alert webhook attempt %d failed: %s", attempt + 1, exc)
        log.error("alert webhook gave up after %d attempts", self.webhook.retries + 1)
        return False

    def join(self, timeout: float = 10.0) -> None:
        """Wait for the webhook deliveries under way (tests, the CLI before it exits)."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def _syslog_logger(cfg: SyslogSettings) -> logging.Logger:
    address: Any = cfg.address
    host, sep, port = cfg.address.rpartition(":")
    if sep and port.isdigit() and not cfg.address.startswith("/"):
        address = (host, int(port))
    facility = logging.handlers.SysLogHandler.facility_names.get(
        cfg.facility, logging.handlers.SysLogHandler.LOG_AUTH)
    handler = logging.handlers.SysLogHandler(address=address, facility=facility)
    handler.setFormatter(logging.Formatter("mailward: %(message)s"))
    logger = logging.getLogger(f"mailward.alerts.syslog.{id(handler)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger
