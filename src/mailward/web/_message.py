"""A quarantined message as the console shows it: parsed from the held bytes, nothing active.

The body is shown as text only: the text/plain part (or the HTML body's visible text when there
is no plain part), and the visible text of the HTML body as the gateway's own HTML reader gets
it (a plain part may say something else than the HTML a mail program shows); the HTML itself
is never sent to the browser. Links are
listed with their real target, defanged (``hxxps://example[.]com/...``) so that no click or
copy opens them; attachments with the type found from their bytes and their SHA-256. Templates
autoescape everything, so a subject, name or header full of markup shows as the text it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mailward.config.settings import LimitSettings
from mailward.errors import MailwardError
from mailward.mime import parse_message
from mailward.mime._html import scan_html

#: Shown at most, so a huge message cannot make a huge page.
MAX_TEXT_CHARS = 200_000
MAX_LINKS = 500
MAX_HEADERS = 300
MAX_HEADER_CHARS = 4000

_SCHEME = re.compile(r"^(?:(h)tt(ps?)|(f)t(p))(?=:)", re.IGNORECASE)


def defang(url: str) -> str:
    """``https://a.example/x`` -> ``hxxps://a[.]example/x``: readable, never a live link."""
    out = _SCHEME.sub(lambda m: f"{m[1]}xx{m[2]}" if m[1] else f"{m[3]}x{m[4]}", url, count=1)
    scheme, sep, rest = out.partition("://")
    if not sep:
        return out.replace(".", "[.]")
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.replace('.', '[.]')}{slash}{path}"


@dataclass(frozen=True, slots=True)
class LinkView:
    target: str  # defanged
    host: str
    anchor_text: str | None
    source: str


@dataclass(frozen=True, slots=True)
class AttachmentView:
    filename: str
    declared_type: str
    detected_type: str
    description: str
    size: int
    sha256: str
    mismatch: bool  # the declared type is not what the bytes are


@dataclass(frozen=True, slots=True)
class MessageView:
    headers: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""
    text_truncated: bool = False
    from_html: bool = False
    html_text: str = ""  # the HTML body's visible text, when there is an HTML body
    links: list[LinkView] = field(default_factory=list)
    attachments: list[AttachmentView] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    error: str = ""


def _html_text(html: str) -> str:
    """What a reader of the HTML body sees, as text (the plain part may say something else)."""
    if not html:
        return ""
    try:
        return scan_html(html[:MAX_TEXT_CHARS], want_text=True).text[:MAX_TEXT_CHARS]
    except (MailwardError, ValueError, RecursionError) as exc:
        return f"(the HTML body could not be read as text: {type(exc).__name__})"


def message_view(raw: bytes, limits: LimitSettings) -> MessageView:
    """What the console shows of ``raw``; a message that cannot be parsed shows why."""
    if not raw:
        return MessageView(error="the message bytes are gone (deleted for every recipient)")
    try:
        msg = parse_message(raw, limits)
    except MailwardError as exc:
        head = raw[:MAX_TEXT_CHARS].decode("utf-8", "replace")
        return MessageView(text=head, error=f"the message could not be parsed: {exc}")
    headers = [(k, v[:MAX_HEADER_CHARS]) for k, v in msg.headers[:MAX_HEADERS]]
    links = [
        LinkView(defang(u.url), u.host, u.anchor_text, u.source) for u in msg.urls[:MAX_LINKS]
    ]
    attachments = [
        AttachmentView(
            filename=a.filename or "(no name)",
            declared_type=a.declared_type,
            detected_type=a.detected_type,
            description=a.detected_description,
            size=a.size,
            sha256=a.sha256,
            mismatch=a.declared_type.split(";")[0].strip().lower() != a.detected_type.lower(),
        )
        for a in msg.attachments
    ]
    return MessageView(
        headers=headers,
        text=msg.text[:MAX_TEXT_CHARS],
        text_truncated=len(msg.text) > MAX_TEXT_CHARS,
        from_html=bool(msg.html),
        html_text=_html_text(msg.html),
        links=links,
        attachments=attachments,
        defects=list(msg.defects),
    )
