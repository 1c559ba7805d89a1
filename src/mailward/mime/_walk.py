"""The tree walk: every part of a parsed message, visited without recursion.

Each part is counted and its depth checked against the limits before anything under it is
looked at. Body text and HTML, links and attachments are gathered on the way.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message

from mailward.config.settings import LimitSettings
from mailward.errors import LimitExceeded
from mailward.mime._headers import decode_bytes, decode_header_value, fix_surrogates, header_count
from mailward.mime._html import HtmlLink, scan_html
from mailward.mime._magic import detect_type
from mailward.mime._names import may_have_names, part_names
from mailward.mime._salvage import qp_decode
from mailward.mime.urls import Source, iter_urls, make_url
from mailward.model import Attachment, Url

_BODY_TYPES = frozenset({"text/plain", "text/html"})
_CONTAINERS = frozenset({"message/rfc822", "message/global"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml"})
_HTML_EXTS = (".html", ".htm", ".shtml", ".xhtml", ".svg")
_QP_SOFT_SPACE = re.compile(rb"=[ \t]+\r?$", re.MULTILINE)
_QP_SOFT_SPACE_TEXT = re.compile(r"=[ \t]+\r?$", re.MULTILINE)  # the same, for ASCII text


@dataclass(slots=True)
class _Item:
    part: Message
    depth: int
    alt_with_plain: bool  # a child of a multipart/alternative that has a text/plain child


@dataclass
class Walker:
    """Gathers the content of one message; ``walk`` it, then read the fields."""

    limits: LimitSettings
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    urls: dict[tuple[str, str | None, str], Url] = field(default_factory=dict)
    attachments: list[Attachment | Message] = field(default_factory=list)
    defects: dict[str, None] = field(default_factory=dict)
    parts: int = 0
    decoded: int = 0
    text_chars: int = 0

    def walk(self, root: Message) -> None:
        stack = [_Item(root, 0, False)]
        while stack:
            item = stack.pop()
            self._count(item)
            children = item.part.get_payload()
            if isinstance(children, list):
                stack.extend(reversed(self._children(item, children)))
            else:
                self._leaf(item)

    def _count(self, item: _Item) -> None:
        self.parts += 1
        if self.parts > self.limits.max_parts:
            raise LimitExceeded("MIME parts", self.parts, self.limits.max_parts)
        if item.depth > self.limits.max_depth:
            raise LimitExceeded("nesting depth", item.depth, self.limits.max_depth)
        for defect in item.part.defects:
            self.note(type(defect).__name__ + (f": {defect}" if str(defect) else ""))
        if header_count(item.part, "content-type") > 1:
            self.note("duplicate Content-Type")
        if header_count(item.part, "content-transfer-encoding") > 1:
            self.note("duplicate Content-Transfer-Encoding")

    def _children(self, item: _Item, payload: list[Message | str]) -> list[_Item]:
        part = item.part
        children = [child for child in payload if isinstance(child, Message)]
        if part.get_content_type() in _CONTAINERS:
            self.attachments.append(part)  # serialised after the walk, once depth is known
        plain = part.get_content_type() == "multipart/alternative" and any(
            c.get_content_type() == "text/plain" for c in children
        )
        return [_Item(child, item.depth + 1, plain) for child in children]

    def note(self, text: str) -> None:
        """Record a defect or parser note once."""
        self.defects.setdefault(text, None)

    def _payload(self, part: Message) -> bytes:
        try:
            data = _refolded(part) or part.get_payload(decode=True)
        except (ValueError, TypeError, LookupError, UnicodeError) as exc:
            self.note(f"undecodable part body: {type(exc).__name__}")
            data = None
        if not isinstance(data, bytes):
            raw = part.get_payload()
            data = body_bytes(part, raw) if isinstance(raw, str) else b""
        self.decoded += len(data)
        if self.decoded > self.limits.max_decoded_bytes:
            raise LimitExceeded("decoded bytes", self.decoded, self.limits.max_decoded_bytes)
        return data

    def _leaf(self, item: _Item) -> None:
        part = item.part
        ctype = part.get_content_type()
        if ctype.startswith("multipart/"):
            self.note("missing boundary: multipart body read as text")
            ctype = "text/plain"
        disposition = part.get_content_disposition()
        if may_have_names(part):
            names = part_names(part)
            # a name only a lenient reading finds still makes the part a file to some programs
            filename = _filename(part) or (names[0] if names else None)
        else:  # no header parameter can be read as a name, the stdlib's reading neither
            names, filename = (), None
        data = self._payload(part)
        if ctype in _BODY_TYPES and disposition != "attachment" and filename is None:
            text = decode_bytes(data, _charset(part))
            if ctype == "text/plain":
                self._add_text(text)
                self._add_urls(iter_urls(text, "text"))
            else:
                self._add_html(text, want_text=not item.alt_with_plain)
            return
        self._attachment(part, ctype, filename, data, disposition == "inline", names)

    def _add_text(self, text: str) -> None:
        if text.strip():
            self.texts.append(text)
            self.text_chars += len(text)

    def _add_html(self, html: str, want_text: bool) -> None:
        html = html[: self.limits.max_text_chars]
        self.htmls.append(html)
        scan = scan_html(html, want_text=want_text)
        if want_text:
            self._add_text(scan.text)
        self._add_links(scan.links, "html")

    def _add_links(self, links: list[HtmlLink], source: Source) -> None:
        unique = dict.fromkeys((link.target, link.anchor_text, link.base) for link in links)
        self._add_urls(
            url
            for target, anchor, base in unique
            if (url := make_url(target, source, anchor, base)) is not None
        )

    def _add_urls(self, urls: Iterable[Url]) -> None:
        cap = self.limits.max_urls
        for url in urls:
            key = (url.url, url.anchor_text, url.source)
            if key in self.urls:
                continue
            if len(self.urls) >= cap:
                self.note(f"more than {cap} links: the rest were not kept")
                return
            self.urls[key] = url

    def _attachment(
        self,
        part: Message,
        ctype: str,
        filename: str | None,
        data: bytes,
        inline: bool,
        names: tuple[str, ...] = (),
    ) -> None:
        detected, description = detect_type(data)
        self.attachments.append(
            Attachment(
                filename=filename,
                declared_type=ctype,
                detected_type=detected,
                detected_description=description,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                content=data,
                inline=inline,
                names=names,
            )
        )
        self._attachment_links(part, ctype, detected, filename, data)

    def _attachment_links(
        self, part: Message, ctype: str, detected: str, filename: str | None, data: bytes
    ) -> None:
        name = (filename or "").lower()
        is_html = ctype in _HTML_TYPES or detected in _HTML_TYPES or name.endswith(_HTML_EXTS)
        if not is_html and "text/plain" not in (ctype, detected):
            return
        text = decode_bytes(data[: self.limits.max_text_chars], _charset(part))
        if is_html:
            scan = scan_html(text, want_text=False)
            self._add_links(scan.links, "attachment")
        else:
            self._add_urls(iter_urls(text, "attachment"))

    def finished_attachments(self) -> tuple[Attachment, ...]:
        """The attachments in order, attached messages serialised now the walk is done."""
        return tuple(
            item if isinstance(item, Attachment) else _container(item) for item in self.attachments
        )


def _container(part: Message) -> Attachment:
    children = part.get_payload()
    inner = children[0] if isinstance(children, list) and children else None
    data = inner.as_bytes() if isinstance(inner, Message) else b""
    detected, description = detect_type(data)
    return Attachment(
        filename=_filename(part),
        declared_type=part.get_content_type(),
        detected_type=detected,
        detected_description=description,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content=data,
        inline=part.get_content_disposition() == "inline",
        names=part_names(part),
    )


def body_bytes(part: Message, body: str) -> bytes:
    """A part's body (``part.get_payload()``) as bytes again. The stdlib hands a body with 8-bit
    bytes back decoded with the part's declared charset (undecodable bytes as U+FFFD), so it is
    encoded the same way; a body of ASCII and escaped bytes comes back exactly."""
    try:
        return body.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        pass
    try:
        return body.encode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:
        return body.encode("utf-8", "surrogateescape")


def _refolded(part: Message) -> bytes | None:
    """The body decoded where the stdlib would not: an encoding folded or padded
    (``Content-Transfer-Encoding:`` then `` base64`` on the next line, a tab or vertical tab
    before it), which the stdlib compares raw; quoted-printable soft line breaks followed by
    whitespace ("= " at the end of a line), which RFC 2045 6.7 says a decoder must delete.
    None where the stdlib's decoding is right."""
    raw = part.get("content-transfer-encoding")
    if raw is None or part.is_multipart():
        return None
    cte = " ".join(str(raw).split()).lower()
    body = part.get_payload()
    if cte not in {"base64", "quoted-printable"} or not isinstance(body, str):
        return None
    if cte == str(raw).lower() and (
        cte == "base64" or (body.isascii() and _QP_SOFT_SPACE_TEXT.search(body) is None)
    ):
        # as below, without encoding the body first: an ASCII body encodes to the same
        # characters, in which the soft-break pattern finds the same
        return None
    data = body_bytes(part, body)
    if cte == "quoted-printable" and _QP_SOFT_SPACE.search(data):
        return qp_decode(data, lower=True, invalid=-1, space_soft=False)
    if cte == str(raw).lower():
        return None
    if cte == "base64":
        letters = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
        letters = letters[: len(letters) - len(letters) % 4 if len(letters) % 4 == 1 else None]
        return binascii.a2b_base64(letters + b"=" * (-len(letters) % 4))
    return binascii.a2b_qp(data)


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except (ValueError, LookupError, TypeError, UnicodeError):
        return None


def _filename(part: Message) -> str | None:
    """The part's file name: RFC 2231 parameters, then RFC 2047 encoded words, decoded."""
    try:
        name = part.get_filename()
    except (ValueError, LookupError, TypeError, UnicodeError, IndexError):
        return None
    if name is None:
        return None
    return decode_header_value(fix_surrogates(str(name)))
