"""Facts about a message's raw bytes that several parse stages need, each found once.

The limits (delimiter lines of declared boundaries), the parser (where the next line that
starts with "--" is) and the ambiguity check (stray delimiter lines, carriage returns on
their own) each searched the whole message for the same things. A :class:`RawScan` finds
each on first use and keeps it for the others. Positions are the same in the raw bytes, in
their lower-cased copy and in the text the parser reads (ASCII with surrogate escapes: one
character per byte).
"""

from __future__ import annotations

import re
from collections.abc import Callable

try:  # the optional C helper (setup.py): both facts below in one pass, a memchr per line
    from mailward.mime._rawlines import dash_lines_and_bare_cr
except ImportError:  # pragma: no cover - built where a C compiler is at hand
    dash_lines_and_bare_cr = None  # type: ignore[assignment]

#: The C helper, or None: :class:`RawScan` then finds each fact by its pattern.
_ONE_PASS: Callable[[bytes], tuple[list[tuple[int, int]], bool]] | None = dash_lines_and_bare_cr

_BARE_CR = re.compile(rb"\r(?!\n)")
#: A LF and the line after it, when that line starts with "--" (up to its own LF or the end).
#: The engine finds the literal start itself and runs to the line end in C: faster than a
#: ``bytes.find`` for each "\n--" and another for each line's end (:func:`_dash_lines_by_find`).
_DASH_LINE = re.compile(rb"\n--[^\n]*")


class RawScan:
    """Lazily found facts about ``raw``."""

    __slots__ = ("_bare_cr", "_dash_lines", "_lowered", "raw")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._lowered: bytes | None = None
        self._dash_lines: list[tuple[int, int]] | None = None
        self._bare_cr: bool | None = None

    @property
    def lowered(self) -> bytes:
        """The bytes with ASCII letters lower-cased."""
        if self._lowered is None:
            self._lowered = self.raw.lower()
        return self._lowered

    @property
    def dash_lines(self) -> list[tuple[int, int]]:
        """(start, end) of each line that starts with "--", in order: where its dashes are
        and where its LF is (the end of the data when none follows)."""
        if self._dash_lines is None:
            if _ONE_PASS is not None:
                self._dash_lines, self._bare_cr = _ONE_PASS(self.raw)
            else:
                self._dash_lines = _dash_lines(self.raw)
        return self._dash_lines

    @property
    def bare_cr(self) -> bool:
        """Whether a CR not followed by LF is somewhere in the bytes."""
        if self._bare_cr is None and _ONE_PASS is not None:
            self._dash_lines, self._bare_cr = _ONE_PASS(self.raw)
        if self._bare_cr is None:
            # no CR at all is found far faster (one byte searched for) than the pattern
            self._bare_cr = b"\r" in self.raw and _BARE_CR.search(self.raw) is not None
        return self._bare_cr


def _dash_lines(raw: bytes) -> list[tuple[int, int]]:
    """(start, end) of each line of ``raw`` that starts with "--" (see ``RawScan.dash_lines``):
    the lines after a LF from one pass of :data:`_DASH_LINE`, the first line apart."""
    lines = [(match.start() + 1, match.end()) for match in _DASH_LINE.finditer(raw)]
    if raw.startswith(b"--"):
        end = raw.find(b"\n")
        lines.insert(0, (0, len(raw) if end < 0 else end))
    return lines


def _dash_lines_by_find(raw: bytes) -> list[tuple[int, int]]:
    """:func:`_dash_lines` by ``bytes.find`` (the plain way; the tests compare the two)."""
    lines: list[tuple[int, int]] = []
    start = 0 if raw.startswith(b"--") else _after(raw.find(b"\n--"))
    while start >= 0:
        end = raw.find(b"\n", start + 2)
        if end < 0:
            lines.append((start, len(raw)))
            break
        lines.append((start, end))
        start = _after(raw.find(b"\n--", end))
    return lines


def _after(lf: int) -> int:
    """The line start after a LF found at ``lf`` (-1: none found)."""
    return lf + 1 if lf >= 0 else -1
