"""MIME ambiguities: places where mail programs may read the same bytes in different ways.

The stdlib parser gives one reading of a message; an attacker who knows that a scanner reads a
message one way and the recipient's mail program another hides content in the gap (Steffen
Ullrich's "MIME is broken" research). This module looks at the parsed tree and at the raw
header values and reports each such place as an :class:`Ambiguity` with a stable code:

  duplicate_content_type / duplicate_cte / duplicate_disposition
                      one part carries the header twice, with different values
  duplicate_boundary  the boundary parameter is given twice, with different values
  name_conflict       the part's file names disagree (RFC 2231 ``filename*`` against plain
                      ``filename``, or Content-Type ``name`` against ``filename``)
  boundary_quoting    the boundary's quoting can be read several ways and another reading is
                      used as a delimiter line
  boundary_prefix     one boundary is a prefix of another, so delimiter lines collide
  base64_junk         a base64 body holds characters outside the base64 alphabet
  base64_padding      a base64 body goes on after its padding
  preamble_mime / epilogue_mime
                      MIME headers or delimiter lines hidden before the first or after the
                      last part of a multipart
  cte_multipart       a multipart declares an encoding (only 7bit, 8bit, binary are allowed)
  encoded_message     an attached message declares base64 or quoted-printable
  no_close_boundary   a multipart has no closing delimiter
  bare_cr             a carriage return alone ends a header or delimiter line
  header_syntax       a header line that is not header syntax ("Content-Type :", a NUL)

and the quirks only a lenient program repairs (:mod:`mailward.mime._quirks`: cte_unusual,
type_unusual, stray_delimiter, header_end, body_headers, hidden_header, embedded_file,
base64_length, qp_invalid).

Benign quirks are not reported: identical duplicate headers, a text-only preamble such as
"This is a multi-part message in MIME format.", a forwarded message/rfc822 in 7bit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import errors as email_errors
from email.message import Message
from email.utils import collapse_rfc2231_value

from mailward.mime._headers import decode_header_value, fix_surrogates, header_count
from mailward.mime._quirks import SEVERITY as QUIRK_SEVERITY
from mailward.mime._quirks import quirk_codes
from mailward.mime._rawscan import RawScan

_IDENTITY_CTE = frozenset({"", "7bit", "8bit", "binary"})
_ENCODED_CTE = frozenset({"base64", "quoted-printable"})
_B64_JUNK = re.compile(r"[^A-Za-z0-9+/=\s]")
#: The ASCII characters :data:`_B64_JUNK` does not find (asked of the pattern itself).
_B64_ALLOWED = bytes(c for c in range(128) if _B64_JUNK.match(chr(c)) is None)
_B64_AFTER_PAD = re.compile(r"=[\s=]*[A-Za-z0-9+/]")
_MIME_LINE = re.compile(
    r"^(?:content-(?:type|transfer-encoding|disposition)[ \t]*:|--[^\s-][^\r\n]*$)",
    re.IGNORECASE | re.MULTILINE,
)
_BAD_NAME = re.compile(rb"^[!-9;-~]+(?:[ \t]+|\x00[^:\r\n]*):", re.MULTILINE)
_BARE_CR_HEADER = re.compile(rb"\r(?!\n)")
_BARE_CR_DELIM = re.compile(rb"^--[^\r\n]*\r(?!\n)", re.MULTILINE)
_TOP_END = re.compile(rb"\r?\n\r?\n")
_BOUNDARY_RAW = re.compile(r"""(?:^|;)\s*boundary\s*=\s*([^;]*)""", re.IGNORECASE)

#: How suspicious each ambiguity is, 0..1 (the detector's factor).
SEVERITY: dict[str, float] = {
    "duplicate_content_type": 1.0,
    "duplicate_cte": 1.0,
    "duplicate_disposition": 0.7,
    "duplicate_boundary": 1.0,
    "name_conflict": 1.0,
    "boundary_quoting": 1.0,
    "boundary_prefix": 0.7,
    "base64_junk": 0.7,
    "base64_padding": 0.7,
    "preamble_mime": 1.0,
    "epilogue_mime": 1.0,
    "cte_multipart": 1.0,
    "encoded_message": 1.0,
    "no_close_boundary": 0.3,
    "bare_cr": 0.7,
    "header_syntax": 1.0,
    **QUIRK_SEVERITY,
}


@dataclass(frozen=True, slots=True)
class Ambiguity:
    """One place with several readings: a stable code and a sentence a person can read."""

    code: str
    explanation: str

    def __str__(self) -> str:
        return f"{self.code}: {self.explanation}"


def iter_parts(root: Message) -> Iterator[Message]:
    """Every part of the tree, depth first, without recursion (the walker bounded it)."""
    stack = [root]
    while stack:
        part = stack.pop()
        yield part
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))


def find_ambiguities(raw: bytes, root: Message, scan: RawScan | None = None) -> list[Ambiguity]:
    """Every ambiguity of the message, each code reported once (first occurrence). ``scan``:
    the facts about ``raw`` found already (its lines that start with "--", its bare CRs)."""
    found: dict[str, Ambiguity] = {}
    boundaries: list[str] = []
    parts = list(iter_parts(root))
    for part in parts:
        for amb in _part_ambiguities(part):
            found.setdefault(amb.code, amb)
        boundary = part.get_boundary() if part.is_multipart() else None
        if boundary:
            boundaries.append(boundary)
    for amb in (*_raw_ambiguities(raw, root, parts, scan), *_prefix(boundaries)):
        found.setdefault(amb.code, amb)
    for code, text in quirk_codes(raw, parts, scan):
        found.setdefault(code, Ambiguity(code, text))
    return list(found.values())


def _part_ambiguities(part: Message) -> Iterator[Ambiguity]:
    yield from _duplicates(part)
    yield from _names(part)
    ctype = part.get_content_type()
    if ctype.startswith("multipart/"):
        yield from _multipart(part)
    elif ctype in {"message/rfc822", "message/global"}:
        if cte_values(part)[:1] and cte_values(part)[0] in _ENCODED_CTE:
            yield Ambiguity(
                "encoded_message",
                f"An attached message is declared {cte_values(part)[0]}, which is not "
                "allowed; some programs decode it, others do not.",
            )
    elif not isinstance(part.get_payload(), list):
        yield from _base64(part)
    yield from _defects(part)


def cte_values(part: Message) -> list[str]:
    """The part's Content-Transfer-Encoding values, lower-cased, in order."""
    return [str(v).strip().lower() for v in part.get_all("content-transfer-encoding") or ()]


def _norm(value: object) -> str:
    return " ".join(str(value).lower().split()).rstrip(";")


def _duplicates(part: Message) -> Iterator[Ambiguity]:
    for header, code in (
        ("content-type", "duplicate_content_type"),
        ("content-transfer-encoding", "duplicate_cte"),
        ("content-disposition", "duplicate_disposition"),
    ):
        if header_count(part, header) < 2:
            continue  # one value cannot differ from another
        values = [_norm(v) for v in part.get_all(header) or ()]
        if len(set(values)) > 1:
            shown = " / ".join(decode_header_value(v) for v in dict.fromkeys(values))
            yield Ambiguity(
                code,
                f"A part has several different {header} headers ({shown}); mail programs "
                "pick different ones.",
            )
    # two boundary parameters need the word twice in the (first) Content-Type value
    if _lower(part.get("content-type")).count("boundary") < 2:
        return
    values = [str(v) for k, v in _params(part, "content-type") if k == "boundary"]
    if len(set(values)) > 1:
        yield Ambiguity(
            "duplicate_boundary",
            f"A multipart names several boundaries ({', '.join(values)}); which one splits "
            "the parts depends on the program.",
        )


def _lower(value: object) -> str:
    """A header value (or None) lower-cased, for a cheap test before its parameters are parsed:
    a parameter's name is part of the value, lower-cased (``email.message._parseparam``)."""
    return "" if value is None else str(value).lower()


def _params(part: Message, header: str) -> list[tuple[str, object]]:
    try:
        return [(str(k).lower(), v) for k, v in part.get_params([], header=header)[1:]]
    except (ValueError, TypeError, IndexError, LookupError):
        return []


def file_names(part: Message) -> list[str]:
    """Every file name the part gives (disposition filename, then type name), decoded."""
    names: list[str] = []
    for header, key in (("content-disposition", "filename"), ("content-type", "name")):
        for k, value in _params(part, header):
            if k != key:
                continue
            try:
                text = collapse_rfc2231_value(value)  # type: ignore[arg-type]
            except (ValueError, LookupError, TypeError):
                continue
            name = decode_header_value(fix_surrogates(str(text))).strip().strip('"')
            if name:
                names.append(name)
    return list(dict.fromkeys(names))


#: Extensions a mail program adds to a signature's name ("OpenPGP_signature.asc"): not a
#: conflict when that is the only difference.
_SIGNATURE_EXTS = (".asc", ".sig", ".p7s", ".gpg", ".pgp")


def _same_name(name: str) -> str:
    folded = name.casefold()
    for ext in _SIGNATURE_EXTS:
        folded = folded.removesuffix(ext)
    return folded


def _names(part: Message) -> Iterator[Ambiguity]:
    # two names need two "filename" or "name" parameters in the (first) headers' values
    if _lower(part.get("content-disposition")).count("name") + _lower(
        part.get("content-type")
    ).count("name") < 2:
        return
    names = file_names(part)
    if len({_same_name(n) for n in names}) > 1:
        yield Ambiguity(
            "name_conflict",
            f"A part gives several file names ({', '.join(names)}); mail programs show "
            "different ones.",
        )


def _multipart(part: Message) -> Iterator[Ambiguity]:
    cte = cte_values(part)
    if any(v not in _IDENTITY_CTE for v in cte):
        yield Ambiguity(
            "cte_multipart",
            f"A multipart declares Content-Transfer-Encoding {cte[0]}; some programs decode "
            "its body first and find other parts.",
        )
    for where, text in (("preamble", part.preamble), ("epilogue", part.epilogue)):
        if text and _MIME_LINE.search(text):
            yield Ambiguity(
                f"{where}_mime",
                f"MIME headers or delimiter lines are hidden in the {where} of a multipart, "
                "where most programs do not look.",
            )


def _base64(part: Message) -> Iterator[Ambiguity]:
    if cte_values(part)[:1] != ["base64"]:
        return
    body = part.get_payload()
    if not isinstance(body, str):
        return
    if _has_b64_junk(body):
        yield Ambiguity(
            "base64_junk",
            "A base64 body holds characters outside the base64 alphabet; decoders skip them "
            "or stop there.",
        )
    # every match starts at a "=": none before the first (a search for one character is far
    # faster than the pattern's, which stops at every character it could start with)
    pad = body.find("=")
    if pad >= 0 and _B64_AFTER_PAD.search(body, pad):
        yield Ambiguity(
            "base64_padding",
            "A base64 body goes on after its padding; decoders stop there or read on.",
        )


def _has_b64_junk(body: str) -> bool:
    """:data:`_B64_JUNK` finds something in ``body`` (on an ASCII body, ``bytes.translate``
    deletes the characters the pattern allows: the same answer, several times faster)."""
    if body.isascii():
        return bool(body.encode("ascii").translate(None, _B64_ALLOWED))
    return _B64_JUNK.search(body) is not None


def _defects(part: Message) -> Iterator[Ambiguity]:
    for defect in part.defects:
        if isinstance(defect, email_errors.CloseBoundaryNotFoundDefect):
            yield Ambiguity(
                "no_close_boundary",
                "A multipart has no closing delimiter; programs differ on its last part.",
            )


def _prefix(boundaries: list[str]) -> Iterator[Ambiguity]:
    unique = sorted(set(boundaries), key=len)
    for i, short in enumerate(unique):
        for long in unique[i + 1 :]:
            if long.startswith(short):
                yield Ambiguity(
                    "boundary_prefix",
                    f"The boundary {short!r} is a prefix of {long!r}, so delimiter lines "
                    "of one can be read as the other's.",
                )
                return


def _raw_ambiguities(
    raw: bytes, root: Message, parts: list[Message] | None = None, scan: RawScan | None = None
) -> Iterator[Ambiguity]:
    parts = list(iter_parts(root)) if parts is None else parts
    bare = has_bare_cr(raw) if scan is None else scan.bare_cr
    if bare and _bare_cr_line(raw):
        yield Ambiguity(
            "bare_cr",
            "A carriage return alone ends a header or delimiter line; some programs treat "
            "it as a line end, others do not.",
        )
    if _bad_header_line(parts):
        yield Ambiguity(
            "header_syntax",
            "A header line is not valid header syntax (a space or NUL before the colon); "
            "programs disagree on where the headers end.",
        )
    if alternative_boundaries(raw, root, parts, scan):
        yield Ambiguity(
            "boundary_quoting",
            "A boundary's quoting can be read in several ways, and another reading also "
            "splits the message.",
        )


def has_bare_cr(raw: bytes) -> bool:
    """A CR not followed by LF somewhere in ``raw``."""
    return _BARE_CR_HEADER.search(raw) is not None


def _bare_cr_line(raw: bytes) -> bool:
    """A bare CR ends a line of the top-level header block or a delimiter line."""
    top = _TOP_END.search(raw)
    head = raw[: top.start() if top else len(raw)]
    return bool(_BARE_CR_HEADER.search(head) or _BARE_CR_DELIM.search(raw))


def _bad_header_line(parts: list[Message]) -> bool:
    for part in parts:
        for defect in part.defects:
            if isinstance(defect, email_errors.MisplacedEnvelopeHeaderDefect):
                line = str(getattr(defect, "line", "") or defect)
                if re.match(r"From[ \t]*:", line):
                    return True
            elif isinstance(defect, email_errors.MissingHeaderBodySeparatorDefect):
                body = part.get_payload()
                first = body if isinstance(body, str) else ""
                data = first[:1000].encode("utf-8", "surrogateescape")
                if _BAD_NAME.match(data):
                    return True
    return False


def boundary_readings(value: str) -> list[str]:
    """The ways a raw ``boundary=`` value can be read, the RFC reading first."""
    value = value.strip()
    readings: list[str] = []
    if value.startswith('"'):
        close = value.find('"', 1)
        readings.append(value[1:close] if close > 0 else value[1:])
    else:
        readings.append(value.split()[0] if value.split() else value)
    readings.append(value.replace('"', "").strip())
    readings.append(value)
    return [r for r in dict.fromkeys(readings) if r]


def alternative_boundaries(
    raw: bytes, root: Message, parts: list[Message] | None = None, scan: RawScan | None = None
) -> dict[str, list[str]]:
    """Raw boundary values -> readings other than the parser's that delimit lines in ``raw``.
    ``parts``: every part of ``root`` (:func:`iter_parts`), ``scan``: the facts about ``raw``
    (its lines that start with "--"), when the caller has them."""
    out: dict[str, list[str]] = {}
    for part in iter_parts(root) if parts is None else parts:
        if part.get_content_maintype() != "multipart":
            continue
        for header in part.get_all("content-type") or ():
            text = str(header)
            if "boundary" not in text.lower():
                continue  # what the pattern needs (values are ASCII, surrogate-escaped bytes)
            for match in _BOUNDARY_RAW.finditer(_unfold(text)):
                used = part.get_boundary()
                readings = boundary_readings(match[1])
                if used not in readings:
                    continue  # another boundary parameter: duplicate_boundary's business
                alts = [r for r in readings if r != used and _is_delimiter(raw, r, scan)]
                if alts:
                    out[match[1].strip()] = alts
    return out


def _unfold(value: str) -> str:
    if "\n" not in value:
        return value
    return re.sub(r"\r?\n[ \t]", " ", value)


def _is_delimiter(raw: bytes, boundary: str, scan: RawScan | None = None) -> bool:
    token = b"\n--" + boundary.encode("utf-8", "surrogateescape")
    if scan is not None:  # the token's "--" starts a line, after a LF: one of the known ones
        return any(
            start and raw.startswith(token, start - 1) and _ends_token(raw, start - 1 + len(token))
            for start, _ in scan.dash_lines
        )
    pos = raw.find(token)
    while pos >= 0:
        end = pos + len(token)
        if _ends_token(raw, end):
            return True
        pos = raw.find(token, end)
    return False


def _ends_token(raw: bytes, end: int) -> bool:
    """What follows a delimiter token at ``end`` lets it delimit."""
    return raw[end : end + 1] in {b"\r", b"\n", b"-", b" ", b"\t", b""}
