"""Alternative readings of an ambiguous message, parsed and walked, merged into one.

Only a message in which :mod:`mailward.mime._ambiguity` found something gets here; benign mail
is parsed once. Each ambiguity gives one or more *views*, bytes that are one program's reading:

- a rewrite of the whole message (the last duplicate header wins, the RFC 2231 file name wins,
  the Content-Type name wins, another reading of a boundary's quoting, "Name :" read as a
  header, a lone CR not read as a line end; see :mod:`mailward.mime._rewrite`);
- an entity found inside the first reading: MIME hidden in a preamble or epilogue, the decoded
  body of a multipart that declares an encoding, an attached message declared base64, a base64
  body decoded another way (stop at the junk, or decode each padded chunk);
- the lenient reading (:mod:`mailward.mime._salvage`), built for every ambiguous message: every
  file a forgiving program could dig out of the raw bytes, whatever the declared structure.

Every view is parsed with the same parser and walked with a fresh :class:`Walker` under the same
hard limits (a limit broken in any view is broken for the message), at most ``MAX_VIEWS`` of
them, each no larger than the message plus a little; views equal to another are dropped. The
text, HTML, links and attachments of the message are then the union of all readings, and what
a view shows that the first reading does not is reported as hidden content.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

from mailward.config.settings import LimitSettings
from mailward.errors import LimitExceeded, MailwardError
from mailward.mime import _rewrite, _salvage
from mailward.mime._ambiguity import (
    Ambiguity,
    alternative_boundaries,
    cte_values,
    iter_parts,
)
from mailward.mime._feed import parse_bytes
from mailward.mime._headers import RAW_POLICY
from mailward.mime._limits import check_header_block, check_nesting
from mailward.mime._walk import Walker
from mailward.model import Attachment, Url

#: The most alternative readings built for one message.
MAX_VIEWS = 8
#: A view may be this many bytes larger than the message (the headers it adds).
_SLACK = 4096
_B64_CHUNK = re.compile(r"(?<==)(?=[A-Za-z0-9+/])")
_B64_JUNK = re.compile(r"[^A-Za-z0-9+/=\s]")
_DELIM = re.compile(r"^--([^\s-][^\r\n]*?)[ \t]*\r?$", re.MULTILINE)
_MIME_HEADER = re.compile(r"^content-[a-z-]+[ \t]*:", re.IGNORECASE | re.MULTILINE)

_WHOLE: dict[str, tuple[_rewrite.Rewrite, ...]] = {
    "duplicate_content_type": (_rewrite.last_wins,),
    "duplicate_cte": (_rewrite.last_wins,),
    "duplicate_disposition": (_rewrite.last_wins,),
    "duplicate_boundary": (_rewrite.last_wins,),
    "name_conflict": (_rewrite.prefer_rfc2231, _rewrite.prefer_type_name),
    "header_syntax": (_rewrite.fix_header_names,),
}


class Views(list[bytes]):
    """The alternative readings built, and why any reading could not be (``dropped``)."""

    dropped: list[str]

    def __init__(self, views: list[bytes], dropped: list[str]) -> None:
        super().__init__(views)
        self.dropped = dropped


class Walkers(list["Walker"]):
    """The readings walked, and how many could not be read."""

    failed: int

    def __init__(self, walkers: list[Walker], failed: int) -> None:
        super().__init__(walkers)
        self.failed = failed


@dataclass
class Merged:
    """The union of every reading, and what the other readings showed that the first did not."""

    texts: list[str]
    htmls: list[str]
    urls: tuple[Url, ...]
    attachments: tuple[Attachment, ...]
    hidden: list[str]


def build_views(
    raw: bytes, root: Message, found: list[Ambiguity], limits: LimitSettings
) -> Views:
    """The distinct alternative readings of ``raw`` (at most MAX_VIEWS, plus the lenient
    reading's), as bytes to parse; ``dropped`` says why any reading was not built."""
    codes = {a.code for a in found}
    views: dict[str, bytes] = {hashlib.sha256(raw).hexdigest(): raw}
    dropped: list[str] = []
    candidates = _candidates(raw, root, codes, limits)
    for view in candidates:
        if len(view) > len(raw) + _SLACK:
            dropped.append("a reading is larger than the message")
            continue
        views.setdefault(hashlib.sha256(view).hexdigest(), view)
        if len(views) > MAX_VIEWS:
            if any(hashlib.sha256(v).hexdigest() not in views for v in candidates):
                dropped.append(f"more than {MAX_VIEWS} readings")
            break
    # the lenient reading comes on top of MAX_VIEWS: it is what catches the tricks no rewrite
    # above knows; its own views are bounded (at most _salvage.MAX_FILES files and MAX_VIEWS
    # views, each no larger than the message in base64 plus a little)
    files, complete = _salvage.salvage(raw, limits.max_decoded_bytes)
    # the files come out of the message's own bytes, so in base64 they fit in 4/3 of it
    lenient, left_out = _salvage.views_of(files, len(raw) * 4 // 3 + 2 * _SLACK)
    if not complete or left_out:
        dropped.append("the lenient reading found more files than it could keep")
    if len(lenient) > MAX_VIEWS:
        dropped.append(f"the lenient reading needs more than {MAX_VIEWS} views")
    for view in lenient[:MAX_VIEWS]:
        views.setdefault(hashlib.sha256(view).hexdigest(), view)
    return Views(list(views.values())[1:], dropped)


def _candidates(
    raw: bytes, root: Message, codes: set[str], limits: LimitSettings
) -> Iterator[bytes]:
    changes = list(dict.fromkeys(c for code in sorted(codes) for c in _WHOLE.get(code, ())))
    if "boundary_quoting" in codes:
        alts = alternative_boundaries(raw, root)
        for i in range(2):
            readings = {v: r[min(i, len(r) - 1)] for v, r in alts.items()}
            changes.append(_rewrite.boundary_as(readings))
    if changes:
        blocks = _rewrite.header_blocks(raw, limits.max_parts)
        for change in changes:
            yield _rewrite.rewrite(raw, blocks, change)
    if "bare_cr" in codes:
        yield _rewrite.bare_cr_not_eol(raw)
    yield from _entities(root, codes)


def _entities(root: Message, codes: set[str]) -> Iterator[bytes]:
    for part in iter_parts(root):
        ctype = part.get_content_type()
        if ctype.startswith("multipart/"):
            if codes & {"preamble_mime", "epilogue_mime"}:
                yield from (_hidden_entity(t) for t in (part.preamble, part.epilogue) if t)
            if "cte_multipart" in codes:
                yield from _decoded_multipart(part)
        elif ctype in {"message/rfc822", "message/global"} and "encoded_message" in codes:
            yield from _decoded_message(part)
        elif codes & {"base64_junk", "base64_padding"}:
            yield from _base64_readings(part)


def _hidden_entity(text: str) -> bytes:
    """A preamble or epilogue read as a MIME entity of its own."""
    data = text.encode("utf-8", "surrogateescape")
    delim = _DELIM.search(text)
    header = _MIME_HEADER.search(text)
    if delim and (header is None or delim.start() < header.start()):
        boundary = delim[1].removesuffix("--").replace('"', "")
        return b'Content-Type: multipart/mixed; boundary="%s"\r\n\r\n' % boundary.encode(
            "utf-8", "surrogateescape"
        ) + data
    if header:
        return text[header.start() :].encode("utf-8", "surrogateescape")
    return b""


def _type_headers(part: Message, encoding: str | None) -> bytes:
    lines = [
        f"{name}: {value}"
        for name, value in part.items()
        if name.lower() in {"content-type", "content-disposition"}
    ]
    if encoding:
        lines.append(f"Content-Transfer-Encoding: {encoding}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")


def _decode(data: bytes, cte: str) -> bytes:
    try:
        if cte == "base64":
            return binascii.a2b_base64(data)
        if cte == "quoted-printable":
            return binascii.a2b_qp(data)
    except (binascii.Error, ValueError):
        return b""
    return data


def _body_bytes(part: Message) -> bytes:
    """The body of ``part`` as the parser kept it (re-serialised for a multipart)."""
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    try:
        data = part.as_bytes()
    except (ValueError, TypeError, LookupError, UnicodeError):
        return b""
    match = re.search(rb"\r?\n\r?\n", data)
    return data[match.end() :] if match else b""


def _decoded_multipart(part: Message) -> Iterator[bytes]:
    cte = next((v for v in cte_values(part) if v in {"base64", "quoted-printable"}), "")
    if cte:
        decoded = _decode(_body_bytes(part), cte)
        if decoded:
            yield _type_headers(part, None) + decoded


def _decoded_message(part: Message) -> Iterator[bytes]:
    cte = cte_values(part)[0]
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        return
    try:
        data = inner.as_bytes()
    except (ValueError, TypeError, LookupError, UnicodeError):
        return
    decoded = _decode(data.lstrip(b"\r\n"), cte)
    if decoded.strip():
        yield decoded


def _base64_readings(part: Message) -> Iterator[bytes]:
    body = part.get_payload()
    if cte_values(part)[:1] != ["base64"] or not isinstance(body, str):
        return
    junk = _B64_JUNK.search(body)
    readings = []
    if junk:
        readings.append(_b64_lenient(body[: junk.start()]))
    clean = re.sub(r"[^A-Za-z0-9+/=]", "", body)
    readings.append(b"".join(_b64_lenient(chunk) for chunk in _B64_CHUNK.split(clean)))
    readings.append(_b64_lenient(clean.replace("=", "")))
    head = _type_headers(part, "base64")
    for data in dict.fromkeys(readings):
        if data:
            yield head + base64.encodebytes(data).replace(b"\n", b"\r\n")


def _b64_lenient(text: str) -> bytes:
    letters = re.sub(r"[^A-Za-z0-9+/]", "", text)
    letters = letters[: len(letters) - len(letters) % 4 if len(letters) % 4 == 1 else None]
    try:
        return base64.b64decode(letters + "=" * (-len(letters) % 4))
    except (binascii.Error, ValueError):
        return b""


def walk_views(views: list[bytes], limits: LimitSettings) -> Walkers:
    """Parse and walk each view under the hard limits; a view that cannot be read is
    counted in ``failed`` (the message is then held as ambiguous)."""
    walkers: list[Walker] = []
    failed = 0
    for view in views:
        if not view.strip():
            continue
        try:
            check_header_block(view, limits)
            check_nesting(view, limits)
            msg = parse_bytes(view, RAW_POLICY)
            walker = Walker(limits)
            walker.walk(msg)
        except LimitExceeded:
            raise
        except (MailwardError, RecursionError, ValueError, TypeError, LookupError, UnicodeError):
            failed += 1
            continue
        walkers.append(walker)
    return Walkers(walkers, failed)


def merge(main: Walker, others: list[Walker], limits: LimitSettings) -> Merged:
    """The union of every reading; ``hidden`` names what only the other readings show."""
    attachments = list(main.finished_attachments())
    seen = {(a.sha256, a.filename) for a in attachments}
    shown = {a.sha256 for a in attachments}
    shown_as = {(a.filename, a.detected_type) for a in attachments}
    links = {u.url for u in main.urls.values()}
    urls = dict(main.urls)
    texts, htmls = dict.fromkeys(main.texts), dict.fromkeys(main.htmls)
    hidden: list[str] = []
    for walker in others:
        texts.update(dict.fromkeys(walker.texts))
        htmls.update(dict.fromkeys(walker.htmls))
        for key, url in walker.urls.items():
            if key not in urls and len(urls) < limits.max_urls:
                urls[key] = url
            if url.url not in links:
                links.add(url.url)
                hidden.append(f"hidden_link: another reading shows the link {url.url}")
        for att in walker.finished_attachments():
            if (att.sha256, att.filename) in seen or (att.filename is None and att.sha256 in shown):
                continue
            seen.add((att.sha256, att.filename))
            attachments.append(att)
            if att.filename is None and att.detected_type.startswith("image/"):
                continue  # an unnamed picture another reading shows hides nothing to run
            if att.sha256 not in shown and (att.filename, att.detected_type) not in shown_as:
                hidden.append(
                    f"hidden_attachment: another reading shows the attachment "
                    f"{att.filename or '(unnamed)'} ({att.detected_type})"
                )
    return Merged(list(texts), list(htmls), tuple(urls.values()), tuple(attachments), hidden)
