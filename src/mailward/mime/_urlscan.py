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
#: ...and how far at least ("ftp").
_SHORTEST_SCHEME = 3
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
        # a scheme of three to five letters ends there ("ftp", "http", "https"): the pattern
        # can start 3, 4 or 5 characters before (nearer, it fails: "www." is no "?://")
        starts.update(range(max(0, at - _LONGEST_SCHEME), max(0, at - _SHORTEST_SCHEME + 1)))
        at = text.find("://", at + 3)
    if text.isascii():  # lower-cased as bytes (the same positions), faster
        lowered = text.encode("ascii").lower()
        at = lowered.find(b"www.")
        while at >= 0:
            starts.add(at)
            at = lowered.find(b"www.", at + 4)
    else:  # _WWW's matches, from its last two characters: "w." or "W." after two of "wW"
        # (two literal searches beat the pattern, which is tried at every character, and
        # lower-casing the whole text)
        for tail in ("w.", "W."):
            at = text.find(tail, 2)
            while at >= 0:
                if text[at - 1] in "wW" and text[at - 2] in "wW":
                    starts.add(at - 2)
                at = text.find(tail, at + 2)
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
