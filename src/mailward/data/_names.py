"""Whole-word matching of many brand names in one pass over a text.

Text and names are folded the same way to ASCII bytes: compatibility decomposition, accents and
invisible characters dropped, common non-ASCII punctuation («», dashes, curly quotes) made plain.
A name matches where its words follow each other with the same punctuation in between (a run of
white space counts as one space): "Booking.com" needs the dot, "AT&T" the ampersand, "Mercado
Livre" any white space. A name never matches inside a longer word ("paypalx"), nor as part of an
address or a domain ("x@paypal.com", "paypal.com"): the character before it must not be "@" or
".", the ones after it must not be "@" or a dot followed by a word character.

Speed (it runs on every subject and body): the text's words are collected once with C-level
bytes operations (translate, split); a name is looked for only when all its words occur,
then its first word is located with ``bytes.find`` and the rest checked in place. A text that
names no brand costs a fold, a split and a lookup of its words among the key words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

#: Visible non-ASCII separators made spaces before folding (else they would be dropped and glue
#: words together: "PayPal—DHL").
_SEPARATORS = (
    "\u00ab", "\u00bb", "\u2039", "\u203a", "\u2014", "\u2013", "\u2012", "\u2015", "\u2026",
    "\u201c", "\u201d", "\u201e", "\u2022", "\u00b7", "\u2192", "\u25ba", "\u00bf", "\u00a1",
    "\u3000", "\u2028", "\u2029",
)  # fmt: skip
_APOSTROPHES = ("\u2019", "\u2018", "\u02bc", "\u00b4")
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_SPACE = frozenset(b" \t\n\r\x0b\x0c")
#: Words common in running text or in many brands' names; a name is looked up by another of its
#: words when it has one (the longest), so that its lookups are rare.
_COMMON = frozenset(
    b"""
    a account accounts air airlines and app at bank banco banque business card cards com connect
    console credit da das de der des die direct do du e el email en energy express family federal
    for go group help het id international internal la le mail mein mijn mobile mon my national net
    new o of on one online pay plus post security service services social store support team the
    travel tv uk us van wallet web world y
    """.split()
)
#: bytes.translate table: every byte that is not a word character becomes a space.
_TO_SPACES = bytes(b if b in _WORD or b >= 0x80 else 0x20 for b in range(256))


def fold(text: str) -> bytes:
    """``text`` as ASCII bytes: decomposed, accents and other non-ASCII letters dropped.

    Case is kept. "Crédit Agricole" -> b"Credit Agricole"; "Pay\\u200bPal" -> b"PayPal".
    """
    if text.isascii():
        return text.encode("ascii")
    for char in _SEPARATORS:
        if char in text:
            text = text.replace(char, " ")
    for char in _APOSTROPHES:
        if char in text:
            text = text.replace(char, "'")
    if "\u0131" in text:  # dotless i: no decomposition, read as "i" (as re.IGNORECASE does)
        text = text.replace("\u0131", "i")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore")


def _split(folded: bytes) -> tuple[list[bytes], list[bytes]]:
    """Words, and the separators around and between them (one more than the words)."""
    words: list[bytes] = []
    seps: list[bytes] = []
    word = bytearray()
    sep = bytearray()
    for byte in folded:
        if byte in _WORD:
            if not word:
                seps.append(bytes(sep))
                sep.clear()
            word.append(byte)
        else:
            if word:
                words.append(bytes(word))
                word.clear()
            sep.append(byte)
    if word:
        words.append(bytes(word))
    seps.append(bytes(sep))
    return words, seps


def _collapse(sep: bytes) -> bytes:
    out = bytearray()
    for byte in sep:
        if byte in _SPACE:
            if not out or out[-1] != 0x20:
                out.append(0x20)
        else:
            out.append(byte)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class NamePattern:
    """One name of one brand: its words (lower case) and what lies between them."""

    key: str
    name: str
    words: tuple[bytes, ...]
    seps: tuple[bytes, ...]
    prefix: bytes
    suffix: bytes
    #: The words with their case as written, for exact names; None: case does not matter.
    exact: tuple[bytes, ...] | None
    #: Counts only in a sender's display name.
    strict: bool


def compile_name(key: str, name: str, *, exact: bool = False, strict: bool = False) -> NamePattern:
    """The pattern of ``name`` for the brand ``key``; ValueError when it holds no word."""
    words, seps = _split(fold(name.strip()))
    if not words:
        raise ValueError(f"name {name!r} has no letters or digits to match")
    return NamePattern(
        key=key,
        name=name,
        words=tuple(w.lower() for w in words),
        seps=tuple(_collapse(s) for s in seps[1:-1]),
        prefix=_collapse(seps[0]),
        suffix=_collapse(seps[-1]),
        exact=tuple(words) if exact else None,
        strict=strict,
    )


def name_key(name: str) -> bytes:
    """How two names compare for uniqueness: folded, lower case, white space collapsed."""
    return _collapse(fold(name.strip()).lower())


class NameIndex:
    """Finds which of many names a text holds, as whole words."""

    def __init__(self, patterns: Iterable[NamePattern], *, prefilter: bool = True) -> None:
        """``prefilter=False``: the plain way (for tests): every name's words checked in a set
        of the text's words, and no literal looked for before the name is matched in place."""
        self._prefilter = prefilter
        by_key: dict[bytes, list[tuple[NamePattern, bytes]]] = {}
        unique: dict[tuple[object, ...], NamePattern] = {}
        for pattern in patterns:
            # "Crédit Agricole" and "Credit Agricole" are one pattern.
            same = (pattern.key, pattern.words, pattern.seps, pattern.prefix, pattern.suffix)
            if unique.setdefault((*same, pattern.exact, pattern.strict), pattern) is not pattern:
                continue
            # Looked up by its rarest-looking word; all its words must occur in the text.
            key = max(pattern.words, key=lambda w: (w not in _COMMON, len(w)))
            by_key.setdefault(key, []).append((pattern, _needle(pattern) if prefilter else b""))
        self._by_key = {word: tuple(found) for word, found in by_key.items()}
        self._keys_all = frozenset(self._by_key)
        self._keys_loose = frozenset(
            word for word, found in self._by_key.items() if any(not p.strict for p, _ in found)
        )

    def find(self, text: str, *, sender_name: bool = False) -> list[NamePattern]:
        """The patterns found in ``text``, in order of appearance, one per brand key.

        ``sender_name``: the text is a sender's display name, where strict names count too.
        Where two names overlap, the one starting first (then the longer) wins.
        """
        if not text:
            return []
        folded = fold(text)
        lowered = folded.lower()
        tokens = lowered.translate(_TO_SPACES).split()
        # The key words are looked up token by token (no set of all the words is built: a
        # body's ~1,000 words make a set costlier than the lookups); the set is made only when
        # a name of several words is to be checked. A one-word name's only word is its key.
        keys = (self._keys_all if sender_name else self._keys_loose).intersection(tokens)
        if not keys:
            return []
        words: set[bytes] | None = None
        hits: list[tuple[int, int, NamePattern]] = []
        for key in keys:
            positions: list[int] | None = None
            for pattern, needle in self._by_key[key]:
                if pattern.strict and not sender_name:
                    continue
                if len(pattern.words) > 1 or not self._prefilter:
                    if words is None:
                        words = set(tokens)
                    if not words.issuperset(pattern.words):
                        continue
                    if needle not in lowered:  # "e.on" for "E.ON": most texts lack it
                        continue
                if positions is None:
                    positions = _word_positions(lowered, key)
                hits.extend(_occurrences(folded, lowered, pattern, key, positions))
        hits.sort(key=lambda hit: (hit[0], -hit[1]))
        found: list[NamePattern] = []
        seen: set[str] = set()
        covered = 0
        for start, end, pattern in hits:
            if start < covered:
                continue
            covered = end
            if pattern.key not in seen:
                seen.add(pattern.key)
                found.append(pattern)
        return found


def _needle(pattern: NamePattern) -> bytes:
    """A piece of ``pattern`` that a text holding it holds literally (lower case): the longest
    run of its words and separators without a space (a space matches any white space), e.g.
    b"e.on" for "E.ON", b"post" for "An Post"; b"" for a name of one word (its key word is
    known to occur)."""
    if len(pattern.words) < 2:
        return b""
    joined = bytearray(pattern.words[0])
    for sep, word in zip(pattern.seps, pattern.words[1:], strict=True):
        joined += sep + word
    return max(bytes(joined).split(b" "), key=len)


#: A compiled :func:`_word_pattern` by word, made when a word is first looked for.
_WORD_PATTERNS: dict[bytes, re.Pattern[bytes]] = {}
_WORD_PATTERNS_KEPT = 8192


def _word_pattern(word: bytes) -> re.Pattern[bytes]:
    """``word`` as a whole word: the word first, so the regex engine looks for its letters
    before trying anything (a lookbehind first would be tried at every position), then the
    lookbehind for a word character before it, then the lookahead for one after it.
    ``[A-Za-z0-9_]`` is exactly :data:`_WORD`."""
    pattern = _WORD_PATTERNS.get(word)
    if pattern is None:
        if len(_WORD_PATTERNS) >= _WORD_PATTERNS_KEPT:
            _WORD_PATTERNS.clear()
        literal = re.escape(word)
        pattern = _WORD_PATTERNS[word] = re.compile(
            literal + rb"(?<![A-Za-z0-9_]" + literal + rb")(?![A-Za-z0-9_])"
        )
    return pattern


def _word_positions(text: bytes, word: bytes) -> list[int]:
    """Where ``word`` occurs in ``text`` as a whole word.

    By one regex in C (:func:`_word_pattern`) instead of a ``bytes.find`` and two tests in
    Python per occurrence: a key word is often part of longer words ("ups" in "groups"). The
    same positions as :func:`_word_positions_by_find`: a word is made of word characters, so
    an occurrence that starts inside the previous one has a word character before it and is
    no whole word, whether it is skipped (find) or tried (the regex)."""
    return [m.start() for m in _word_pattern(word).finditer(text)]


def _word_positions_by_find(text: bytes, word: bytes) -> list[int]:
    """:func:`_word_positions` by ``bytes.find`` (the plain way)."""
    out = []
    size = len(word)
    pos = text.find(word)
    while pos >= 0:
        after = pos + size
        if (pos == 0 or text[pos - 1] not in _WORD) and (
            after >= len(text) or text[after] not in _WORD
        ):
            out.append(pos)
        pos = text.find(word, after)
    return out


def _occurrences(
    folded: bytes, lowered: bytes, pattern: NamePattern, key: bytes, positions: list[int]
) -> list[tuple[int, int, NamePattern]]:
    """Where ``pattern`` occurs, given where its word ``key`` occurs."""
    out = []
    index = pattern.words.index(key)
    for pos in positions:
        at = _start_back(lowered, pos, pattern, index) if index else pos
        end = _match_at(lowered, at, pattern) if at >= 0 else -1
        if end >= 0 and (pattern.exact is None or _same_case(folded, at, pattern)):
            out.append((at, end, pattern))
    return out


def _start_back(text: bytes, pos: int, pattern: NamePattern, index: int) -> int:
    """Where the first word would start when word ``index`` of ``pattern`` starts at ``pos``."""
    for k in range(index - 1, -1, -1):
        pos = _sep_back(text, pos, pattern.seps[k])
        word = pattern.words[k]
        if pos < len(word) or not text.endswith(word, 0, pos):
            return -1
        pos -= len(word)
    return pos


def _match_at(text: bytes, at: int, pattern: NamePattern) -> int:
    """End of ``pattern`` matched with its first word at ``at``, or -1."""
    size = len(text)
    start = at
    if pattern.prefix:
        start = _sep_back(text, at, pattern.prefix)
        if start < 0:
            return -1
    if start and (text[start - 1] in _WORD or text[start - 1] in b"@."):
        return -1
    pos = at + len(pattern.words[0])
    for sep, word in zip(pattern.seps, pattern.words[1:], strict=True):
        pos = _sep_forward(text, pos, sep)
        if pos < 0 or not text.startswith(word, pos):
            return -1
        pos += len(word)
    if pos < size and text[pos] in _WORD:
        return -1
    if pattern.suffix:
        pos = _sep_forward(text, pos, pattern.suffix)
        if pos < 0:
            return -1
    if pos < size and text[pos] == 0x40:  # "@"
        return -1
    if pos + 1 < size and text[pos] == 0x2E and text[pos + 1] in _WORD:  # ".com"
        return -1
    return pos


def _sep_forward(text: bytes, pos: int, sep: bytes) -> int:
    """Position after ``sep`` (a space in it matches any run of white space) at ``pos``, or -1."""
    size = len(text)
    for byte in sep:
        if byte == 0x20:
            if pos >= size or text[pos] not in _SPACE:
                return -1
            while pos < size and text[pos] in _SPACE:
                pos += 1
        elif pos < size and text[pos] == byte:
            pos += 1
        else:
            return -1
    return pos


def _sep_back(text: bytes, end: int, sep: bytes) -> int:
    """Start of ``sep`` ending at ``end`` (a space matches a run of white space), or -1."""
    pos = end
    for byte in reversed(sep):
        if byte == 0x20:
            if pos <= 0 or text[pos - 1] not in _SPACE:
                return -1
            while pos > 0 and text[pos - 1] in _SPACE:
                pos -= 1
        elif pos > 0 and text[pos - 1] == byte:
            pos -= 1
        else:
            return -1
    return pos


def _same_case(folded: bytes, at: int, pattern: NamePattern) -> bool:
    """Whether the words found at ``at`` have the case an exact name is written with."""
    pos = at
    for index, word in enumerate(pattern.exact or ()):
        if not folded.startswith(word, pos):
            return False
        pos += len(word)
        if index < len(pattern.seps):
            pos = _sep_forward(folded, pos, pattern.seps[index])
    return True
