"""Relay client: hands a message to the next hop over SMTP and classifies every recipient.

:func:`relay_message` never raises for SMTP-level trouble. It returns a :class:`RelayResult`
that says, per recipient, accepted / temporarily failed (retry later) / permanently failed
(bounce). Rules:

- no relay host, connection failure, timeout, TLS or AUTH failure, any 4xx: temporary;
- 5xx to MAIL FROM or to DATA: permanent for every recipient still in the transaction;
- RCPT replies are classified one recipient at a time, so partial acceptance is kept.

The bytes are sent unchanged except that line endings become CRLF
(:func:`normalise_line_endings`); a bare CR or LF never reaches the next hop.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiosmtplib
from aiosmtplib import (
    SMTPDataError,
    SMTPException,
    SMTPHeloError,
    SMTPRecipientRefused,
    SMTPResponseException,
    SMTPSenderRefused,
)

from mailward.config.settings import RelaySettings

__all__ = [
    "NO_RELAY_HOST", "AcceptedFn", "RelayResult", "normalise_line_endings", "relay_message",
]

NO_RELAY_HOST = "no relay host configured"
_LINE_ENDINGS = re.compile(rb"\r\n|\r|\n")


def normalise_line_endings(raw: bytes) -> bytes:
    """Return ``raw`` with every bare CR, bare LF and CRLF written as CRLF."""
    return _LINE_ENDINGS.sub(b"\r\n", raw)


@dataclass(frozen=True)
class RelayResult:
    """What the next hop did with each recipient.

    ``temp_failed`` and ``perm_failed`` map a recipient to a reason a person can read
    (it names the relay host:port and quotes its reply).
    """

    accepted: tuple[str, ...] = ()
    temp_failed: dict[str, str] = field(default_factory=dict)
    perm_failed: dict[str, str] = field(default_factory=dict)


#: recipient -> (permanent, reason) for recipients refused at RCPT.
_Refusals = dict[str, tuple[bool, str]]
#: Told the recipients a next hop accepted, the moment it said so (see :func:`relay_message`).
AcceptedFn = Callable[[tuple[str, ...]], Awaitable[None]]


def _said(where: str, exc: SMTPResponseException) -> str:
    return f"{where} said {exc.code} {exc.message}".strip()


def _result(
    recipients: Sequence[str], refused: _Refusals, failure: tuple[bool, str] | None
) -> RelayResult:
    """Sort recipients: own RCPT refusal first, else the transaction failure, else accepted."""
    accepted: list[str] = []
    temp: dict[str, str] = {}
    perm: dict[str, str] = {}
    for rcpt in recipients:
        verdict = refused.get(rcpt, failure)
        if verdict is None:
            accepted.append(rcpt)
        else:
            (perm if verdict[0] else temp)[rcpt] = verdict[1]
    return RelayResult(tuple(accepted), temp, perm)


def _client(settings: RelaySettings, helo: str) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        local_hostname=helo,
        timeout=settings.timeout,
        use_tls=settings.security == "tls",
        start_tls=False,  # STARTTLS is done explicitly below, never opportunistically
    )


async def _open_session(client: aiosmtplib.SMTP, settings: RelaySettings) -> None:
    """Connect, greet, STARTTLS and AUTH as configured; SMTP errors propagate."""
    await client.connect()
    await _greet(client)
    if settings.security == "starttls":
        await client.starttls()  # raises if the server does not offer it: no silent downgrade
        await _greet(client)
    if settings.username:
        await client.login(settings.username, settings.password or "")


async def _greet(client: aiosmtplib.SMTP) -> None:
    try:
        await client.ehlo()
    except SMTPHeloError:
        await client.helo()


def _mail_options(client: aiosmtplib.SMTP, payload: bytes, utf8: bool) -> list[str]:
    options: list[str] = []
    if client.supports_extension("size"):
        options.append(f"SIZE={len(payload)}")
    if client.supports_extension("8bitmime") and any(b > 0x7F for b in payload):
        options.append("BODY=8BITMIME")
    if utf8:
        options.append("SMTPUTF8")
    return options


async def _envelope(
    client: aiosmtplib.SMTP,
    *,
    mail_from: str,
    recipients: Sequence[str],
    payload: bytes,
    refused: _Refusals,
    where: str,
) -> bool:
    """Send MAIL FROM and one RCPT per recipient; return True if any recipient was accepted."""
    utf8 = not all(addr.isascii() for addr in (mail_from, *recipients))
    if utf8 and not client.supports_extension("smtputf8"):
        raise SMTPSenderRefused(553, "5.6.7 next hop does not support SMTPUTF8", mail_from)
    encoding = "utf-8" if utf8 else "ascii"
    options = _mail_options(client, payload, utf8)
    await client.mail(mail_from, options=options, encoding=encoding)
    for rcpt in recipients:
        try:
            await client.rcpt(rcpt, encoding=encoding)
        except SMTPRecipientRefused as exc:
            refused[rcpt] = (exc.code >= 500, _said(where, exc))
    return len(refused) < len(recipients)


async def _finish(client: aiosmtplib.SMTP, completed: bool) -> None:
    """Say QUIT after a clean transaction; always drop the connection."""
    if completed and client.is_connected:
        # The message is already accepted; a rude goodbye changes nothing.
        with contextlib.suppress(SMTPException, OSError):
            await client.quit()
    if client.is_connected:
        client.close()


async def relay_message(
    settings: RelaySettings,
    mail_from: str,
    recipients: Sequence[str],
    raw: bytes,
    *,
    helo: str,
    on_accepted: AcceptedFn | None = None,
) -> RelayResult:
    """Relay ``raw`` from ``mail_from`` to ``recipients`` via ``settings``' next hop.

    Never raises for connection or SMTP problems; see the module docstring for the rules.
    ``on_accepted`` is awaited with the accepted recipients as soon as the next hop has
    answered DATA with 2xx, before QUIT: the caller makes that durable at once, so a crash
    after the next hop took the message delivers it again only in that instant.
    """
    rcpts = tuple(dict.fromkeys(recipients))
    if not rcpts:
        return RelayResult()
    if settings.host is None:
        return _result(rcpts, {}, (False, NO_RELAY_HOST))
    where = f"{settings.host}:{settings.port}"
    payload = normalise_line_endings(raw)
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    refused: _Refusals = {}
    client = _client(settings, helo)
    completed = False
    try:
        await _open_session(client, settings)
        if await _envelope(
            client,
            mail_from=mail_from,
            recipients=rcpts,
            payload=payload,
            refused=refused,
            where=where,
        ):
            await client.data(payload)
            if on_accepted is not None:
                await on_accepted(tuple(r for r in rcpts if r not in refused))
        completed = True
    except SMTPResponseException as exc:
        permanent = exc.code >= 500 and isinstance(exc, SMTPSenderRefused | SMTPDataError)
        return _result(rcpts, refused, (permanent, _said(where, exc)))
    except (SMTPException, OSError) as exc:
        return _result(rcpts, refused, (False, f"{where}: {str(exc) or type(exc).__name__}"))
    finally:
        await _finish(client, completed)
    return _result(rcpts, refused, None)
