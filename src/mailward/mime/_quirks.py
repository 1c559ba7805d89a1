"""Structural quirks only a lenient mail program repairs: more ambiguity codes.

Each is a place where the stdlib parser reads the message one way and a forgiving program
(Thunderbird, Outlook, webmail, an old MIME library) another. The parser's reading is not
wrong, but it is not the only one, so :mod:`mailward.mime._views` adds the lenient reading of
:mod:`mailward.mime._salvage`. Codes (see :data:`SEVERITY`):

  cte_unusual      a Content-Transfer-Encoding none of the standard ones ("x-base64",
                   "base64 (x)", "=?UTF-8?B?YmFzZTY0?=", "uuencode", "binhex", "gzip64"...)
  type_unusual     a Content-Type that is not type/subtype syntax, or a multipart with no
                   usable boundary ("multi\\part/mixed", "()multipart", "boundary()=")
  stray_delimiter  a "--something" line followed by MIME headers, which no boundary of the
                   parsed tree delimits: some program splits there and finds a part
  header_end       a part's header block does not end with a blank line (junk, a line without
                   a colon, a whitespace-only line) or its first line is a continuation
  body_headers     a part's body starts with MIME header lines the parser did not read
  hidden_header    a Content-* header folded into the header before it (" Content-Type:") or
                   behind a lone CR
  embedded_file    a text body (or one declared BinHex or uuencode) carries a uuencoded, yEnc
                   or BinHex file
  base64_length    a base64 body whose length is no multiple of 4, or with a blank line inside
  qp_invalid       a quoted-printable attachment with escapes that are not "=XX"
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import errors as email_errors
from email.message import Message

from mailward.mime._headers import header_values
from mailward.mime._lines import line_starts
from mailward.mime._rawscan import RawScan

SEVERITY: dict[str, float] = {
    "cte_unusual": 0.7,
    "type_unusual": 0.7,
    "stray_delimiter": 1.0,
    "header_end": 0.7,
    "body_headers": 0.7,
    "hidden_header": 1.0,
    "embedded_file": 0.3,
    "base64_length": 0.5,
    "qp_invalid": 0.3,
}
_CTES = frozenset({"", "7bit", "8bit", "binary", "base64", "quoted-printable"})
_TOP_TYPES = frozenset(
    {"text", "image", "audio", "video", "application", "multipart", "message", "model", "font"}
)
_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$")
#: ``\r?\n[ \t]*`` with a literal at the start of each branch (see ``_headers._FOLD``).
_FOLD = re.compile(r"(?:\r\n|\n)[ \t]*")
_MIME_HEADER = re.compile(
    r"^[^\w\r\n]{0,3}content-(?:type|transfer-encoding|disposition)\b",
    re.IGNORECASE | re.MULTILINE,
)
#: Types whose body is headers by design (a bounce quoting the original message's headers).
_HEADER_BODIES = frozenset({"text/rfc822-headers", "message/delivery-status"})
#: Its matches that begin a line are found by :func:`delimiter_like_lines`.
_DELIM_LINE = re.compile(rb"--([^\r\n]+?)\r?$", re.MULTILINE)
_HEADER_AFTER = re.compile(
    rb"(?:[^\r\n]{0,80}\r?\n){0,2}?[ \t\x0b\r]*content-[a-z-]+[ \t]*:", re.IGNORECASE
)
_HIDDEN_HEADER = re.compile(
    r"(?:\n[ \t]+|\r(?!\n)[ \t]*)content-(?:type|transfer-encoding|disposition)[ \t]*:",
    re.IGNORECASE,
)
#: :data:`_HIDDEN_HEADER`'s two branches apart: each starts with a literal the regex engine
#: skips to (the pattern whole starts with a set, tried at every character).
_HIDDEN_AFTER_LF = re.compile(
    r"\n[ \t]+content-(?:type|transfer-encoding|disposition)[ \t]*:", re.IGNORECASE
)
_HIDDEN_AFTER_CR = re.compile(
    r"\r(?!\n)[ \t]*content-(?:type|transfer-encoding|disposition)[ \t]*:", re.IGNORECASE
)
_EMBEDDED = re.compile(
    r"^(?:begin [0-7]{3,4} \S|=ybegin |\(This file must be converted with BinHex)",
    re.MULTILINE,
)
#: :data:`_EMBEDDED` without its ``^``: searched for from its first characters; the matches
#: that begin a line are the pattern's (no match holds a line end, so none hides another).
_EMBEDDED_ANYWHERE = re.compile(
    r"(?:begin [0-7]{3,4} \S|=ybegin |\(This file must be converted with BinHex)"
)
#: What every match of :data:`_EMBEDDED` contains.
_EMBEDDED_STARTS = ("begin ", "=ybegin ", "(This file must be converted with BinHex")
#: How much of a text body is searched for an embedded file.
_EMBEDDED_REACH = 1_000_000
#: How much of a body :data:`_MIME_HEADER` is tried on (its first three non-blank lines).
_BODY_HEAD = 2000
#: Types whose body is a file in a text encoding some programs decode (BinHex, uuencode).
_ENCODED_FILE_TYPES = frozenset(
    {"application/mac-binhex40", "application/mac-binhex", "application/x-binhex40",
     "application/x-uuencode", "application/x-uue", "text/x-uuencode"}
)  # fmt: skip
_QP_BAD = re.compile(r"=(?![0-9A-F]{2}|[ \t]*\r?$)", re.MULTILINE)
_NOT_B64_BODY = re.compile(r"[^A-Za-z0-9+/=]+")
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_NOT_B64_BYTES = bytes(b for b in range(256) if b not in _B64_ALPHABET)
_BLANK_LINE = re.compile(r"\n[ \t]*\r?\n")
_BLANK_INSIDE = re.compile(r"\S[ \t]*\r?\n[ \t]*\r?\n[ \t]*\S")


def quirk_codes(
    raw: bytes, parts: list[Message], scan: RawScan | None = None
) -> Iterator[tuple[str, str]]:
    """(code, explanation) of every quirk of the message, a code at most once. ``scan``: the
    facts about ``raw`` found already (its lines that start with "--", its lower-cased copy)."""
    seen: set[str] = set()
    for code, text in _all(raw, parts, scan):
        if code not in seen:
            seen.add(code)
            yield code, text


def _all(raw: bytes, parts: list[Message], scan: RawScan | None) -> Iterator[tuple[str, str]]:
    for part in parts:
        yield from _part(part)
    yield from _stray(raw, parts, scan)


def _part(part: Message) -> Iterator[tuple[str, str]]:
    # one search over the values joined by NUL (no match can hold a NUL, so none spans two)
    if hidden_header("\0".join(map(str, header_values(part)))):
        yield (
            "hidden_header",
            "A Content-* header is folded into the header before it or hidden behind a lone "
            "CR; some programs read it as a header of its own.",
        )
    for value in part.get_all("content-transfer-encoding") or ():
        cte = _FOLD.sub(" ", str(value)).strip().lower()
        if cte not in _CTES:
            yield (
                "cte_unusual",
                f"A part declares the transfer encoding {cte[:40]!r}, none of the standard "
                "ones; programs guess differently how to decode it.",
            )
    yield from _content_type(part)
    for defect in part.defects:
        if isinstance(
            defect,
            email_errors.MissingHeaderBodySeparatorDefect
            | email_errors.FirstHeaderLineIsContinuationDefect,
        ):
            yield (
                "header_end",
                "A part's headers do not end with a blank line; programs disagree on where "
                "its body starts.",
            )
    payload = part.get_payload()
    if isinstance(payload, str):
        yield from _body(part, payload)


def hidden_header(text: str) -> bool:
    """:data:`_HIDDEN_HEADER` finds something in ``text``: one branch or the other does (the
    second only where a CR is)."""
    if _HIDDEN_AFTER_LF.search(text) is not None:
        return True
    return "\r" in text and _HIDDEN_AFTER_CR.search(text) is not None


def _content_type(part: Message) -> Iterator[tuple[str, str]]:
    for value in part.get_all("content-type") or ():
        text = _FOLD.sub(" ", str(value)).strip()
        head = text.split(";", 1)[0].strip()
        main = head.partition("/")[0].lower()
        odd = not _TYPE.match(head) or main not in _TOP_TYPES
        if not odd and main == "multipart":
            params = text[len(head) :]
            odd = bool(re.search(r"[()\\]|boundary\*|=\?", params, re.IGNORECASE)) or (
                not part.get_boundary()
            )
        if odd:
            yield (
                "type_unusual",
                f"A part's Content-Type {text[:60]!r} is not plain type/subtype syntax, or a "
                "multipart has no clear boundary; programs read it differently.",
            )


def _body(part: Message, body: str) -> Iterator[tuple[str, str]]:
    ctype = part.get_content_type()
    # every match of _MIME_HEADER holds "content-" in some case (no other letters lower to it)
    has_word = "content-" in body[:_BODY_HEAD].lower()
    if has_word and _starts_with_headers(body) and ctype not in _HEADER_BODIES:
        yield (
            "body_headers",
            "A part's body starts with MIME header lines; some programs read them as its "
            "headers.",
        )
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    textual = ctype.startswith("text/") or ctype in _ENCODED_FILE_TYPES
    plain = textual and cte not in {"base64", "quoted-printable"}
    if plain and _has_embedded(body, _EMBEDDED_REACH):
        yield (
            "embedded_file",
            "A text body carries a uuencoded, yEnc or BinHex file, which some programs "
            "show as an attachment.",
        )
    if cte == "base64":
        if base64_length_odd(body):
            yield (
                "base64_length",
                "A base64 body is not a whole number of 4-character groups, or has a blank "
                "line inside; decoders drop or keep different characters.",
            )
    elif cte == "quoted-printable" and _is_file(part) and _QP_BAD.search(body):
        yield (
            "qp_invalid",
            "A quoted-printable attachment has escapes that are not '=' and two hex digits; "
            "decoders read them differently.",
        )


def _starts_with_headers(body: str) -> bool:
    """:data:`_MIME_HEADER` finds something in the first three non-blank lines of ``body``."""
    head = "\n".join([line for line in body[:_BODY_HEAD].splitlines() if line.strip()][:3])
    return _MIME_HEADER.search(head) is not None


def _has_embedded(body: str, reach: int | None = None) -> bool:
    """:data:`_EMBEDDED` matches ``body[:reach]``; its literal starts are looked for first, then
    the matches of the pattern without ``^`` that begin a line (the pattern alone is tried at
    every character, as each could start a line)."""
    end = len(body) if reach is None else reach
    # "=ybegin " holds "begin ": without the latter there is neither
    if body.find("begin ", 0, end) < 0 and body.find(_EMBEDDED_STARTS[2], 0, end) < 0:
        return False
    for match in _EMBEDDED_ANYWHERE.finditer(body, 0, end):
        start = match.start()
        if start == 0 or body[start - 1] == "\n":
            return True
    return False


def base64_length_odd(body: str) -> bool:
    """A base64 body whose letters are no whole number of 4-character groups, with a line
    (not the last) of such a length, or with a blank line inside (see :func:`_base64_odd`)."""
    uniform = _uniform_base64(body)
    return _base64_odd(body) if uniform is None else uniform


def _base64_odd(body: str) -> bool:
    lines = [line.strip() for line in body.strip().splitlines()]
    odd_line = any(len(line) % 4 for line in lines[:-1])
    return bool(_base64_letters(body) % 4 or odd_line or _blank_line_inside(body))


def _uniform_base64(body: str) -> bool | None:
    """:func:`_base64_odd` for the usual body, None for any other: ASCII, nothing but base64
    letters inside its blanks, lines all of one length but the last, all ended by LF or all
    by CRLF. Its lines are then that length, it has no blank line inside, and its letters are
    all its characters but the line ends."""
    if not body.isascii():
        return None
    data = body.strip().encode("ascii")
    # what is not a base64 letter, in one pass (the line ends; about 1/60 of the data): its
    # counts of LF and CR are the data's, without a pass over the data for each
    others = data.translate(None, _B64_ALPHABET)
    if others.translate(None, b"\r\n"):
        return None
    lfs = others.count(b"\n")
    crs = len(others) - lfs
    if not lfs:
        return None if crs else len(data) % 4 != 0
    first = data.find(b"\n")
    crlf = data[first - 1] == 0x0D
    if crs != (lfs if crlf else 0):
        return None
    width = first - crlf  # the first line's letters (at least one: the data is stripped)
    stride = width + 1 + crlf
    stop = first + lfs * stride
    if data[first:stop:stride] != b"\n" * lfs:
        return None
    if crlf and data[first - 1 : stop - 1 : stride] != b"\r" * lfs:
        return None
    return (len(data) - lfs - crs) % 4 != 0 or width % 4 != 0


def _base64_letters(body: str) -> int:
    """How many base64 alphabet characters ``body`` holds (bytes.translate when it is ASCII:
    the same count, about ten times faster on a large attachment)."""
    if body.isascii():
        return len(body.encode("ascii").translate(None, _NOT_B64_BYTES))
    return len(_NOT_B64_BODY.sub("", body))


def _blank_line_inside(body: str) -> bool:
    """A blank line between two non-blank ones. The literal search for a blank line comes
    first: it is what the full pattern needs, and finds nothing in most bodies far faster than
    the pattern, which tries every non-space character."""
    return _BLANK_LINE.search(body) is not None and _BLANK_INSIDE.search(body.strip()) is not None


def _is_file(part: Message) -> bool:
    return part.get_content_maintype() != "text" or part.get_param("name") is not None or (
        part.get_param("filename", header="content-disposition") is not None
    )


def delimiter_like_lines(raw: bytes) -> Iterator[tuple[bytes, int]]:
    """(group 1, end) of each match of :data:`_DELIM_LINE` that begins a line: a line that
    starts with "--" and holds something more, with no CR inside (one may end it), and where
    its match ends (before the LF). Found from the line starts instead of every "--"."""
    for start in line_starts(raw, b"--"):
        end = raw.find(b"\n", start + 2)
        end = len(raw) if end < 0 else end
        line = raw[start + 2 : end - 1 if raw[end - 1 : end] == b"\r" else end]
        if line and b"\r" not in line:
            yield line, end


def _stray(
    raw: bytes, parts: list[Message], scan: RawScan | None = None
) -> Iterator[tuple[str, str]]:
    boundaries = {
        b.encode("utf-8", "surrogateescape")
        for p in parts
        if p.get_content_maintype() == "multipart" and (b := p.get_boundary())
    }
    lines = delimiter_like_lines(raw) if scan is None else _like(raw, scan.dash_lines)
    near = None if scan is None else _HeaderNear(raw, scan.lowered)
    for line, end in lines:
        token = line.rstrip(b" \t")
        if token in boundaries or token.removesuffix(b"--") in boundaries:
            continue
        if near is not None and not near(end + 1):
            continue
        if _HEADER_AFTER.match(raw, end + 1):
            yield (
                "stray_delimiter",
                f"The line {('--' + token.decode('latin-1'))[:60]!r} is followed by MIME "
                "headers but is no delimiter of the parsed structure; some programs split "
                "there.",
            )
            return


class _HeaderNear:
    """Whether :data:`_HEADER_AFTER` can match at a position (asked in increasing order): its
    "content-" (any case) must start within the next three lines, blanks and CRs apart from
    at most two LFs. The next "content-" is looked for again only once passed."""

    def __init__(self, raw: bytes, lowered: bytes) -> None:
        self.raw, self.lowered = raw, lowered
        self.found = -2  # where the next "content-" is (-1: none); -2: not looked for yet

    def __call__(self, pos: int) -> bool:
        if self.found == -2 or 0 <= self.found < pos:
            self.found = self.lowered.find(b"content-", pos)
        if self.found < 0:
            return False
        lf = pos - 1
        for _ in range(3):  # a third LF before it puts it out of reach
            lf = self.raw.find(b"\n", lf + 1, self.found)
            if lf < 0:
                return True
        return False


def _like(raw: bytes, dash_lines: list[tuple[int, int]]) -> Iterator[tuple[bytes, int]]:
    """:func:`delimiter_like_lines` from the lines that start with "--", known already."""
    for start, end in dash_lines:
        line = raw[start + 2 : end - 1 if raw[end - 1 : end] == b"\r" else end]
        if line and b"\r" not in line:
            yield line, end
