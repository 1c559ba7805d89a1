"""The matches of the text-link pattern, found from the literals every match needs.

:data:`mailward.mime.urls._TEXT_URL` starts with a word boundary or a look-behind, so the
regex engine tries it at every character of a text (most of the time of a long body without
links). Every match holds ``://`` within its first six characters (after ``ftp``, ``http`` or
``https``; the last letter may be U+017F, the long s, which matches "s" when case is ignored)
or starts at a ``www.``. :func:`text_url_matches` finds those literals with ``bytes.find`` and
tries the pattern only at the positions they allow, in order, each from where the last match
ended: the same matches as ``pattern.finditer(text)``, which fails everywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

#: How far before "://" a match can start ("https" is the longest scheme).
_LONGEST_SCHEME = 5
#: ...and how far at least ("ftp").
_SHORTEST_SCHEME = 3


def _candidates(text: str) -> list[int]:
    """Sorted positions where a match can start.

    The text is searched as bytes, one byte per character: Latin-1 as it is, any other
    character as "?" (``encode("latin-1", "replace")``), so positions are the text's. The
    literals sought are ASCII, and lower-casing bytes touches ASCII letters only, so
    "www." in the lower-cased bytes is where the text has "www." in any case (the pattern's
    ``w`` matches no other character when case is ignored).
    """
    data = text.encode("latin-1", "replace")
    starts: set[int] = set()
    at = data.find(b"://")
    while at >= 0:
        # a scheme of three to five letters ends there ("ftp", "http", "https"): the pattern
        # can start 3, 4 or 5 characters before (nearer, it fails: "www." is no "?://")
        starts.update(range(max(0, at - _LONGEST_SCHEME), max(0, at - _SHORTEST_SCHEME + 1)))
        at = data.find(b"://", at + 3)
    lowered = data.lower()
    at = lowered.find(b"www.")
    while at >= 0:
        starts.add(at)
        at = lowered.find(b"www.", at + 4)
    return sorted(starts)


def text_url_matches(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` for the text-link pattern, trying only where a match can
    start."""
    done = 0
    for start in _candidates(text):
        if start < done:
            continue
        match = pattern.match(text, start)
        if match is not None:
            yield match
            done = match.end()
