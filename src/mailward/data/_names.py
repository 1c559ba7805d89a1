"""Whole-word matching of many brand names in one pass over a text.

Text and names are folded the same way to ASCII bytes: compatibility decomposition, accents and
invisible characters dropped, common non-ASCII punctuation («», dashes, curly quotes) made plain.
A name matches where its words follow each other with the same punctuation in between (a run of
white space counts as one space): "Booking.com" needs the dot, "AT&T" the ampersand, "Mercado
Livre" any white space. A name never matches inside a longer word ("paypalx"), nor as part of an
address or a domain ("x@paypal.com", "paypal.com"): the character before it must not be "@" or
".", the ones after it must not be "@" or a dot followed by a word character.

Speed (it runs on every subject and body): the key words (each name's rarest-looking word) are
found as whole words in one Aho-Corasick pass over the folded text (:class:`_KeyFinder`); a name
is matched in place only at its key word's positions, after a literal piece of it was found.
A text that names no brand costs a fold, a translate and the automaton pass.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

try:  # a dependency; without it the key words are found by a split of the text
    import ahocorasick_rs
except ImportError:  # pragma: no cover
    ahocorasick_rs = None  # type: ignore[assignment]

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


#: Texts at least this long (folded) are searched by the automaton: below, the split of the
#: text costs less than the automaton's call (measured on the dev corpus's texts: 1.0 against
#: 1.4 µs under 32 characters, equal at 64-127, ~62 against ~45 µs for a 6,000-character body).
AUTOMATON_FROM = 128


class NameIndex:
    """Finds which of many names a text holds, as whole words."""

    def __init__(
        self,
        patterns: Iterable[NamePattern],
        *,
        prefilter: bool = True,
        automaton_from: int | None = AUTOMATON_FROM,
    ) -> None:
        """``prefilter=False``: the plain way (for tests): every name's words checked in a set
        of the text's words, and no literal looked for before the name is matched in place.
        ``automaton_from``: texts of at least this many (folded) characters have their words
        found by one automaton pass (:meth:`_hits_by_automaton`), shorter ones by a split of
        the text (:meth:`_hits_by_tokens`); None (or no ``ahocorasick_rs``): always split."""
        self._prefilter = prefilter
        self._automaton_from = automaton_from or 0
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
        self._finder: _KeyFinder | None = None
        if prefilter and automaton_from is not None and ahocorasick_rs is not None:
            self._finder = _KeyFinder(self._by_key)

    def find(self, text: str, *, sender_name: bool = False) -> list[NamePattern]:
        """The patterns found in ``text``, in order of appearance, one per brand key.

        ``sender_name``: the text is a sender's display name, where strict names count too.
        Where two names overlap, the one starting first (then the longer) wins.
        """
        if not text:
            return []
        folded = fold(text)
        lowered = folded.lower()
        if self._finder is not None and len(lowered) >= self._automaton_from:
            finder = self._finder
            names = finder.names if sender_name else finder.loose_names
            hits = self._hits_by_automaton(finder, names, folded, lowered)
        else:
            hits = self._hits_by_tokens(folded, lowered, sender_name)
        if not hits:
            return []
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

    def _hits_by_automaton(
        self,
        finder: _KeyFinder,
        names: dict[bytes, tuple[_Entry, ...]],
        folded: bytes,
        lowered: bytes,
    ) -> list[tuple[int, int, NamePattern]]:
        """(start, end, pattern) of every name found, its key words and its other words
        located by one automaton pass (:class:`_KeyFinder`), which gives their whole-word
        positions at once. The same hits as :meth:`_hits_by_tokens`, in another order (``find``
        sorts them; two hits with the same span have the same key and keep their order)."""
        found = finder.positions(lowered)
        hits: list[tuple[int, int, NamePattern]] = []
        for word, positions in found.items():
            for pattern, needle, others in names.get(word, ()):
                if others and not all(other in found for other in others):
                    continue
                # "e.on" for "E.ON": most texts lack it. Looking for it costs a scan of the
                # text (~2 µs for a body); trying the name in place ~0.5 µs a position.
                if needle and len(positions) > _TRIES_OVER_SCAN and needle not in lowered:
                    continue
                hits.extend(_occurrences(folded, lowered, pattern, word, positions))
        return hits

    def _hits_by_tokens(
        self, folded: bytes, lowered: bytes, sender_name: bool
    ) -> list[tuple[int, int, NamePattern]]:
        """(start, end, pattern) of every name found, its key words found among the text's
        words (a split of the text)."""
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
        return hits


#: Up to this many positions of a key word, a name of several words is tried in place at each
#: rather than its literal piece looked for first (see :meth:`NameIndex._hits_by_automaton`).
_TRIES_OVER_SCAN = 4


def _telling(word: bytes) -> bool:
    """Whether finding ``word`` says much about a name: not one of the :data:`_COMMON` words
    and longer than two characters ("s", "by", "d" stand in most bodies; looking for them
    would add matches, not spare tries)."""
    return len(word) > 2 and word not in _COMMON


#: What :class:`_KeyFinder` keeps of a name: the pattern, the literal piece still to look for
#: (b"" when finding its words already proves it) and its other words that must occur.
_Entry = tuple[NamePattern, bytes, tuple[bytes, ...]]


class _KeyFinder:
    """Where the key words (and the other uncommon words of the names) occur as whole words,
    found in one pass of an Aho-Corasick automaton.

    The text's non-word bytes are made spaces and a space put at each end; each word is looked
    for with a space on either side (" paypal "). Such a pattern matches exactly where the word
    is a whole word, and, its inside being one word, never inside another pattern's match, so
    overlapping matches report every occurrence, in order. A body's ~1,000 words are neither
    split into objects nor looked up one by one.

    A name of several words is tried in place only when its other telling words
    (:func:`_telling`) were found too (the words set of :meth:`NameIndex._hits_by_tokens`,
    minus the words found in most texts); matching it in place checks every word.
    """

    def __init__(self, by_key: dict[bytes, tuple[tuple[NamePattern, bytes], ...]]) -> None:
        names: dict[bytes, list[_Entry]] = {}
        others_all: set[bytes] = set()
        for key, entries in by_key.items():
            for pattern, needle in entries:
                others = tuple(w for w in pattern.words if w != key and _telling(w))
                others_all.update(others)
                # a needle that is one of the name's words found as a word is proven
                proven = needle == key or needle in others
                names.setdefault(key, []).append((pattern, b"" if proven else needle, others))
        #: the names by key word, in :class:`NameIndex`'s order: all of them (for a sender's
        #: display name), and without the strict names (elsewhere)
        self.names = {key: tuple(entries) for key, entries in names.items()}
        loose = {key: tuple(e for e in found if not e[0].strict) for key, found in names.items()}
        self.loose_names = {key: entries for key, entries in loose.items() if entries}
        self._words = sorted(set(self.names) | others_all)
        assert ahocorasick_rs is not None
        # a contiguous NFA: ~115 KB, where a DFA of these ~1,000 words takes ~1.5 MB (and
        # crowds the CPU caches the content model's hashing needs) for ~5 µs less a body
        self._automaton = ahocorasick_rs.BytesAhoCorasick(
            [b" " + word + b" " for word in self._words],
            implementation=ahocorasick_rs.Implementation.ContiguousNFA,
        )

    def positions(self, lowered: bytes) -> dict[bytes, list[int]]:
        """Each word found in ``lowered`` (ASCII, lower case) with where it starts, ascending:
        the positions :func:`_word_positions` gives."""
        spaced = b" " + lowered.translate(_TO_SPACES) + b" "
        out: dict[bytes, list[int]] = {}
        words = self._words
        # a match starts at the space before the word, which is the word's start in ``lowered``
        for index, start, _ in self._automaton.find_matches_as_indexes(spaced, overlapping=True):
            word = words[index]
            found = out.get(word)
            if found is None:
                out[word] = [start]
            else:
                found.append(start)
        return out


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
