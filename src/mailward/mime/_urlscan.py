"""The matches of the text-link pattern, found from the literals every match needs.

:data:`mailward.mime.urls._TEXT_URL` starts with a word boundary or a look-behind, so the
regex engine tries it at every character of a text (most of the time of a long body without
links). Every match holds ``://`` within its first six characters (after ``ftp``, ``http`` or
``https``; the last letter may be U+017F, the long s, which matches "s" when case is ignored)
or starts at a ``www.``. :func:`text_url_matches` finds those literals with ``str.find`` and
tries the pattern only at the positions they allow, in order, each from where the last match
ended: the same matches as ``pattern.finditer(text)``, which fails everywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

#: How far before "://" a match can start ("https" is the longest scheme).
_LONGEST_SCHEME = 5
#: "www." in any case: where ``text.lower().find("www.")`` finds it, when lower-casing keeps
#: every character one character long.
_WWW = re.compile(r"[wW][wW][wW]\.")


def _candidates(text: str) -> list[int] | None:
    """Sorted positions where a match can start; None when "www." cannot be searched for by
    position (lower-casing the text would change its length)."""
    if "\u0130" in text:  # the one character whose lower case is two characters
        return None
    starts: set[int] = set()
    at = text.find("://")
    while at >= 0:
        starts.update(range(max(0, at - _LONGEST_SCHEME), at))
        at = text.find("://", at + 3)
    if text.isascii():  # lower-cased as bytes (the same positions), faster
        lowered = text.encode("ascii").lower()
        at = lowered.find(b"www.")
        while at >= 0:
            starts.add(at)
            at = lowered.find(b"www.", at + 4)
    else:  # "W" is the only other character whose lower case is "w", "." lowers to itself,
        # and without U+0130 every character lowers to one: the same positions as _WWW's
        lowered_text = text.lower()
        at = lowered_text.find("www.")
        while at >= 0:
            starts.add(at)
            at = lowered_text.find("www.", at + 4)
    return sorted(starts)


def text_url_matches(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` for the text-link pattern, trying only where a match can
    start."""
    starts = _candidates(text)
    if starts is None:
        yield from pattern.finditer(text)
        return
    done = 0
    for start in starts:
        if start < done:
            continue
        match = pattern.match(text, start)
        if match is not None:
            yield match
            done = match.end()
