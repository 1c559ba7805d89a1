"""Bounces: RFC 3464 delivery status notifications for mail that could not be delivered.

:func:`build_bounce` returns a ``multipart/report; report-type=delivery-status`` message with
three parts: a text a person can read, the machine-readable ``message/delivery-status`` and the
original message's headers only (``text/rfc822-headers``), never its body. Values taken from the
envelope or from a remote reply are stripped of control characters before they reach a header.
"""

from __future__ import annotations

import email.policy
import re
import time
from collections.abc import Mapping
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid

__all__ = ["STATUS_EXPIRED", "STATUS_FAILED", "build_bounce", "original_headers"]

STATUS_FAILED = "5.0.0"
STATUS_EXPIRED = "4.4.7"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def _clean(value: str) -> str:
    """Collapse control characters (CR, LF, NUL...) to one space, so no header can be forged."""
    return _CONTROL.sub(" ", value).strip()


def original_headers(raw: bytes) -> bytes:
    """Return the header block of ``raw`` (up to the first empty line), without the body."""
    if raw.startswith((b"\r\n", b"\n")):
        return b""
    match = _HEADER_END.search(raw)
    return raw if match is None else raw[: match.start()]


def _human_part(reporting_mta: str, failed: Mapping[str, str], status: str) -> MIMEText:
    lines = [
        f"This is the mail system at host {reporting_mta}.",
        "",
        "Your message could not be delivered to the following recipients"
        + (" in the time allowed." if status == STATUS_EXPIRED else "."),
        "",
    ]
    for rcpt, reason in failed.items():
        lines.append(f"<{_clean(rcpt)}>: {_clean(reason)}")
    lines += ["", "The headers of your message are attached.", ""]
    text = "\n".join(lines)
    part = MIMEText(text, "plain", "us-ascii" if text.isascii() else "utf-8")
    del part["MIME-Version"]
    part["Content-Description"] = "Notification"
    return part


def _status_part(
    reporting_mta: str, failed: Mapping[str, str], status: str, arrival_time: float
) -> MIMEBase:
    per_message = Message()
    per_message["Reporting-MTA"] = f"dns; {reporting_mta}"
    per_message["Arrival-Date"] = formatdate(arrival_time, localtime=False)
    blocks: list[Message | str] = [per_message]
    for rcpt, reason in failed.items():
        block = Message()
        block["Final-Recipient"] = f"rfc822; {_clean(rcpt)}"
        block["Action"] = "failed"
        block["Status"] = status
        block["Diagnostic-Code"] = f"smtp; {_clean(reason)}"
        blocks.append(block)
    part = MIMEBase("message", "delivery-status")
    del part["MIME-Version"]
    part["Content-Description"] = "Delivery report"
    part.set_payload(blocks)
    return part


def _headers_part(raw: bytes) -> MIMEText:
    headers = normalise_text(original_headers(raw))
    charset = "us-ascii" if headers.isascii() else "utf-8"
    part = MIMEText(headers, "rfc822-headers", charset)
    del part["MIME-Version"]
    part["Content-Description"] = "Undelivered message headers"
    return part


def normalise_text(raw: bytes) -> str:
    """Decode header bytes for the report (invalid UTF-8 becomes U+FFFD), LF line endings."""
    text = raw.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n") + "\n"


def build_bounce(
    *,
    reporting_mta: str,
    original_mail_from: str,
    failed: Mapping[str, str],
    original_raw: bytes,
    arrival_time: float,
    now: float | None = None,
    expired: bool = False,
) -> bytes:
    """Return a CRLF-terminated RFC 3464 bounce for the ``failed`` recipients.

    ``failed`` maps each recipient to its diagnostic. ``expired`` means the message ran out of
    retry time (Status 4.4.7) rather than being refused for good (Status 5.0.0).
    Raises ValueError for the null sender (a bounce is never bounced) or no failed recipient.
    """
    sender = _clean(original_mail_from)
    if not sender:
        raise ValueError("never bounce to the null sender")
    if not failed:
        raise ValueError("a bounce needs at least one failed recipient")
    mta = _clean(reporting_mta) or "localhost"
    status = STATUS_EXPIRED if expired else STATUS_FAILED
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = f"Mail Delivery System <MAILER-DAEMON@{mta}>"
    report["To"] = sender
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Date"] = formatdate(time.time() if now is None else now, localtime=False)
    report["Message-ID"] = make_msgid("bounce", domain=mta)
    report["Auto-Submitted"] = "auto-replied"
    report.attach(_human_part(mta, failed, status))
    report.attach(_status_part(mta, failed, status, arrival_time))
    report.attach(_headers_part(original_raw))
    return report.as_bytes(policy=email.policy.SMTP)
