"""Cheap checks on the raw bytes, before the email package sees them.

The stdlib parser and its helpers have costs that grow faster than the input, and some
recurse; every check here runs in linear time (regex and ``bytes.count`` work in C, a Python
step only per delimiter line or per bracket of an oversized address header) and raises
LimitExceeded before the slow code runs:

- the message's size;
- the top-level header block: its size, its number of headers, its RFC 2047 encoded words,
  and its address headers (From, Sender, Reply-To, To, Cc, Bcc, Resent-*): their bytes, their
  addresses (``@`` signs) and the nesting of comments and groups in them (the stdlib address
  parser recurses once per level and is slow per byte);
- every Content-Type and Content-Disposition header, in any part: its size and its number of
  parameters (``email.message._parseparam`` is quadratic in them);
- the multipart structure: how deep boundaries nest (the stdlib parser recurses once per level
  and tests every line against every open boundary), how many parts the delimiter lines
  open (the parser builds them all before the tree walk could count them) and the size of
  each part's header block (the parser keeps a header as one string, several times over).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from mailward.config.settings import LimitSettings
from mailward.errors import LimitExceeded
from mailward.mime._lines import blank_line, line_starts
from mailward.mime._rawscan import RawScan

# Applied to the lower-cased bytes: a literal prefix lets the regex engine skip ahead fast.
_DECL = re.compile(rb"""boundary\s*=\s*(?:"([^"\r\n]*)"|([^\s;"]+))""")
_DELIM = re.compile(rb"^--([^\r\n]*?)[ \t]*\r?$", re.MULTILINE)
_ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[qQbB]\?[^?\s]*\?=")
_FOLDED = rb"[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)"
_ADDRESS_HEADER = re.compile(
    rb"^(?:resent-)?(?:from|sender|reply-to|to|cc|bcc)" + _FOLDED, re.MULTILINE
)
#: :data:`_ADDRESS_HEADER` with its ``^`` as the LF before the line, on the block with a LF
#: put before it: the regex engine then skips from LF to LF instead of testing every byte for
#: a line start. The same values (group 1): a match ends before a LF that starts no fold, so
#: it never takes the LF a next match starts with.
_ADDRESS_HEADER_LF = re.compile(rb"\n(?:resent-)?(?:from|sender|reply-to|to|cc|bcc)" + _FOLDED)
#: :data:`_ADDRESS_HEADER_LF` on bytes of any case (ASCII letters only: those of the lower-cased
#: copy), and the same for the first line, which no LF comes before.
_ADDRESS_HEADER_LF_ANY_CASE = re.compile(_ADDRESS_HEADER_LF.pattern, re.IGNORECASE)
_ADDRESS_HEADER_FIRST = re.compile(
    rb"(?:resent-)?(?:from|sender|reply-to|to|cc|bcc)" + _FOLDED, re.IGNORECASE
)
#: Tried where "content-" begins a line: its matches that begin a line (no match runs into a
#: line that does not start with a blank, so none hides another).
_PARAM_HEADER = re.compile(rb"content-(?:type|disposition)" + _FOLDED)
_ADDRESS_SPECIAL = re.compile(rb'[\\"():;\r]')
#: Longer declared boundaries are refused (RFC 2046 allows 70 characters).
MAX_BOUNDARY = 1000


def check_header_block(raw: bytes, limits: LimitSettings) -> None:
    """Raise LimitExceeded when the top-level header block breaks a header limit.

    The whole message's size (``max_message_bytes``) first, then the block's size
    (``max_header_bytes``), then :func:`check_headers` on it.
    """
    _cap("message bytes", len(raw), limits.max_message_bytes)
    cap = limits.max_header_bytes
    match = blank_line(raw, 0, cap + 4)
    size = match[0] if match else len(raw)
    if size > cap:
        raise LimitExceeded("header block bytes", size, cap)
    check_headers(raw[:size], limits)


def check_headers(block: bytes, limits: LimitSettings) -> None:
    """Raise LimitExceeded when a header block has too many headers, encoded words or
    addresses, too many address-header bytes, or comments or groups nested too deep."""
    lines = block.count(b"\n") + 1
    if lines > limits.max_headers:  # the headers are the lines less the folds: no more
        folds = block.count(b"\n ") + block.count(b"\n\t")
        _cap("headers", lines - folds, limits.max_headers)
    if block.count(b"=?") > limits.max_encoded_words:  # a cheap upper bound first
        _cap("encoded words", len(_ENCODED_WORD.findall(block)), limits.max_encoded_words)
    values = address_values(block)
    _cap("address header bytes", sum(map(len, values)), limits.max_address_bytes)
    _cap("addresses", sum(v.count(b"@") for v in values), limits.max_addresses)
    for value in values:
        _cap("address nesting", address_nesting(value), limits.max_address_nesting)


def address_values(block: bytes) -> list[bytes]:
    """Group 1 of each match of :data:`_ADDRESS_HEADER_LF` in ``b"\\n" + block.lower()``: the
    first line by :data:`_ADDRESS_HEADER_FIRST`, the others by :data:`_ADDRESS_HEADER_LF_ANY_CASE`
    from where it ended, on the block as it is (no lower-cased copy, no copy with a LF before
    it). The values keep their case; their sizes, ``@`` signs and nesting are the same."""
    first = _ADDRESS_HEADER_FIRST.match(block)
    values = [] if first is None else [first[1]]
    start = 0 if first is None else first.end()
    values += [m[1] for m in _ADDRESS_HEADER_LF_ANY_CASE.finditer(block, start)]
    return values


def address_nesting(value: bytes) -> int:
    """How deep comments and groups nest in an address header, read as the stdlib reads it.

    Outside quotes and comments ``(`` opens a comment and ``:`` a group (``;`` ends it);
    inside a comment ``(`` nests and ``\\`` escapes; inside quotes nothing nests. A CR ends
    a quoted string or the innermost comment, as in ``email._parseaddr``.
    """
    if value.count(b"(") + value.count(b":") == 0:
        return 0
    deepest = comments = groups = 0
    quoted = False
    skip = -1
    for match in _ADDRESS_SPECIAL.finditer(value):
        pos, char = match.start(), match[0]
        if pos == skip:
            continue
        if char == b"\\":
            skip = pos + 1 if (quoted or comments) else -1
        elif quoted:
            quoted = char not in b'"\r'
        elif comments:
            comments += 1 if char == b"(" else -(char in b")\r")
        elif char in b"(:":
            comments, groups = (1, groups) if char == b"(" else (0, groups + 1)
        elif char == b";":
            groups = max(0, groups - 1)
        elif char != b"\r":
            quoted = char == b'"'
        deepest = max(deepest, comments + groups)
    return deepest


def check_nesting(raw: bytes, limits: LimitSettings, scan: RawScan | None = None) -> None:
    """Raise LimitExceeded when the body structure breaks a limit.

    Content-Type/-Disposition headers anywhere (:func:`check_parameters`), then multipart
    boundaries nested deeper than ``max_depth`` or opening more than ``max_parts`` parts, then
    part header blocks over ``max_header_bytes`` (:func:`check_part_headers`). ``scan``: the
    facts about ``raw`` found already (its lower-cased copy, its lines that start with "--").
    """
    # boundaries that differ only in case count as one: a lower bound
    lowered = raw.lower() if scan is None else scan.lowered
    check_parameters(lowered, limits)
    declared = {m[1] if m[1] is not None else m[2] for m in _declarations(lowered)}
    _cap("declared boundaries", len(declared), 2 * limits.max_parts)
    _cap("boundary length", max(map(len, declared), default=0), MAX_BOUNDARY)
    if not declared:
        return
    delimiters = delimiter_lines(lowered, declared, None if scan is None else scan.dash_lines)
    # boundaries open at once are distinct declared ones: no deeper than len(declared)
    if len(declared) > limits.max_depth:
        depth = boundary_depth(lowered, declared, stop_above=limits.max_depth, lines=delimiters)
        _cap("nesting depth", depth, limits.max_depth)
    # each delimiter line opens at most one part; "\n--" is the (historic) cheap bound
    if len(delimiters) > limits.max_parts and lowered.count(b"\n--") > limits.max_parts:
        parts = count_parts(lowered, declared, limits.max_parts, lines=delimiters)
        _cap("MIME parts", parts, limits.max_parts)
    check_part_headers(lowered, declared, limits.max_header_bytes, lines=delimiters)


def check_parameters(lowered: bytes, limits: LimitSettings) -> None:
    """Raise LimitExceeded for a Content-Type or Content-Disposition header, in any part, over
    ``max_header_bytes`` or with more than ``max_header_params`` parameters (``;``)."""
    for start in line_starts(lowered, b"content-"):
        match = _PARAM_HEADER.match(lowered, start)
        if match is None:
            continue
        value = match[1]
        _cap("parameter header bytes", len(value), limits.max_header_bytes)
        _cap("header parameters", value.count(b";"), limits.max_header_params)


def _declarations(lowered: bytes) -> Iterator[re.Match[bytes]]:
    """``_DECL.finditer(lowered)``: the pattern tried only where its literal start is (found
    by ``bytes.find``, faster than the regex engine's own search), from where the last match
    ended."""
    pos = lowered.find(b"boundary")
    while pos >= 0:
        match = _DECL.match(lowered, pos)
        if match is not None:
            yield match
        pos = lowered.find(b"boundary", match.end() if match is not None else pos + 1)


def check_part_headers(
    raw: bytes, declared: set[bytes], cap: int, lines: list[Delimiter] | None = None
) -> None:
    """Raise LimitExceeded when the header block of a part (from its delimiter line to the
    first blank line or the next delimiter) is over ``cap`` bytes. ``lines``: the delimiter
    lines of ``raw``, when the caller has them already."""
    start: int | None = None
    for line in delimiter_lines(raw, declared) if lines is None else lines:
        if start is not None:
            _part_header(raw, start, line.start, cap)
        start = None if line.closing else line.end
    if start is not None:
        _part_header(raw, start, len(raw), cap)


def _part_header(raw: bytes, start: int, stop: int, cap: int) -> None:
    window = min(stop, start + cap + 4)
    blank = blank_line(raw, start, window)
    _cap("part header bytes", (blank[0] if blank else window) - start, cap)


class Delimiter(NamedTuple):
    """A delimiter line of a declared boundary: the boundary, whether it closes, and where the
    line starts (its ``--``) and ends (before its ``\\n``)."""

    name: bytes
    closing: bool
    start: int
    end: int


def delimiter_lines(
    raw: bytes, declared: set[bytes], dash_lines: list[tuple[int, int]] | None = None
) -> list[Delimiter]:
    """Each delimiter line of a declared boundary, in order.

    The lines that ``^--(B1|B2|...)(--)?[ \\t]*\\r?$`` (multi-line, the boundaries longest
    first) matches, found without building that pattern for every message: each line that
    starts with ``--`` is cut into a boundary and a tail of ``(--)?[ \\t]*\\r?``; of the
    boundaries that leave such a tail, the longest declared one is the pattern's match (the
    ones without ``--`` in the tail are the longer). ``dash_lines``: (start, end) of the
    lines that start with "--", when the caller has them (:class:`RawScan`).
    """
    longest = max(map(len, declared), default=0)
    if dash_lines is not None:  # (start, end) of every line that starts with "--", known
        out: list[Delimiter] = []
        for start, end in dash_lines:
            found = _delimiter(raw[start + 2 : end], declared, longest)
            if found is not None:
                out.append(Delimiter(found[0], found[1], start, end))
        return out
    out = []
    pos = 0 if raw.startswith(b"--") else _next_line(raw, b"--", 0)
    while pos >= 0:
        end = raw.find(b"\n", pos + 2)
        if end < 0:
            end = len(raw)
        found = _delimiter(raw[pos + 2 : end], declared, longest)
        if found is not None:
            out.append(Delimiter(found[0], found[1], pos, end))
        pos = _next_line(raw, b"--", end)
    return out


def _next_line(raw: bytes, prefix: bytes, pos: int) -> int:
    """Where the first line after ``pos`` that starts with ``prefix`` starts, or -1."""
    found = raw.find(b"\n" + prefix, pos)
    return found + 1 if found >= 0 else -1


def _delimiter(rest: bytes, declared: set[bytes], longest: int) -> tuple[bytes, bool] | None:
    """(boundary, closing) for a line ``--`` + ``rest``, or None when it delimits nothing
    (``longest``: the longest declared boundary)."""
    if rest.endswith(b"\r"):
        rest = rest[:-1]
    core = rest.rstrip(b" \t")
    # the blanks after the boundary may end the boundary's own name (boundary="b ")
    for cut in range(min(len(rest), longest), len(core) - 1, -1):
        if rest[:cut] in declared:
            return rest[:cut], False
    if core.endswith(b"--") and core[:-2] in declared:
        return core[:-2], True
    return None


def count_parts(
    raw: bytes, declared: set[bytes], stop_above: int, lines: list[Delimiter] | None = None
) -> int:
    """Parts opened by delimiter lines (not closing ones); stops once past ``stop_above``."""
    count = 0
    for _, closing, *_ in delimiter_lines(raw, declared) if lines is None else lines:
        count += not closing
        if count > stop_above:
            break
    return count


def boundary_depth(
    raw: bytes, declared: set[bytes], stop_above: int, lines: list[Delimiter] | None = None
) -> int:
    """The most multipart boundaries open at once, following delimiter lines in order.

    A delimiter of an open boundary closes every boundary opened after it (a new sibling part
    starts), as the stdlib parser does; a close delimiter closes it and everything above.
    Stops as soon as the depth passes ``stop_above``, so the stack stays small.
    """
    stack: list[bytes] = []
    deepest = 0
    for name, closing, *_ in delimiter_lines(raw, declared) if lines is None else lines:
        if name in stack:
            del stack[stack.index(name) + (0 if closing else 1) :]
        elif not closing:
            stack.append(name)
            deepest = max(deepest, len(stack))
            if deepest > stop_above:
                break
    return deepest


def _cap(limit: str, value: int, maximum: int) -> None:
    if value > maximum:
        raise LimitExceeded(limit, value, maximum)
