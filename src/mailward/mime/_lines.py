"""Matches of a pattern that must start a line, found by searching for its literal start.

``re.compile(rb"^word...", re.MULTILINE)`` makes the regex engine test every position of the
data for a line start before it looks at the word; a pattern that begins with a literal is
searched for that literal first, which is many times faster on a large message. So the
patterns here leave ``^`` out and :func:`line_start_matches` keeps only the matches that begin
a line (at the start of the data or after ``\\n``, as ``^`` does with ``re.MULTILINE``).

This gives exactly the matches of the ``^`` pattern when no match can run past the end of its
own line into a line that the ``^`` pattern could match (the callers' patterns end at the end
of a line or take only folded continuation lines, which begin with a space or a tab): a match
that does not begin a line then only covers the rest of its line, where the ``^`` pattern
finds nothing, and is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator


def line_start_matches(pattern: re.Pattern[bytes], data: bytes) -> Iterator[re.Match[bytes]]:
    """The matches of ``pattern`` in ``data`` that begin a line."""
    for match in pattern.finditer(data):
        start = match.start()
        if start == 0 or data[start - 1] == 0x0A:
            yield match


def line_starts(data: bytes, prefix: bytes) -> Iterator[int]:
    """Where the lines of ``data`` that start with ``prefix`` start, in order."""
    if data.startswith(prefix):
        yield 0
    needle = b"\n" + prefix
    pos = data.find(needle)
    while pos >= 0:
        yield pos + 1
        pos = data.find(needle, pos + 1)


def blank_line(data: bytes, pos: int = 0, endpos: int | None = None) -> tuple[int, int] | None:
    """(start, end) of the first match of ``\\r?\\n\\r?\\n`` in ``data[pos:endpos]``, or None.

    The pattern starts with an optional CR, so the regex engine tries it at every position;
    its first LF is one followed by LF or CRLF, which two literal searches find, and the match
    starts one earlier when a CR (inside the window) comes before that LF.
    """
    end = len(data) if endpos is None else min(endpos, len(data))
    first = data.find(b"\n", pos, end)
    if first < 0:
        return None
    # the ending the first line uses is looked for first, the other only before what it finds
    crlf_first = first > pos and data[first - 1] == 0x0D
    likely, other = (b"\n\r\n", b"\n\n") if crlf_first else (b"\n\n", b"\n\r\n")
    found = data.find(likely, first, end)
    before = data.find(other, first, end if found < 0 else min(end, found - 1 + len(other)))
    lf = before if before >= 0 else found
    if lf < 0:
        return None
    stop = lf + (2 if data[lf + 1] == 0x0A else 3)
    return (lf - 1 if lf > pos and data[lf - 1] == 0x0D else lf), stop
