"""The lures detector's phrase matching: text folding, pattern files, anchors and the matcher.

See :mod:`mailward.detectors.lures` for what the patterns find. Every pattern has literal
"anchors" derived from its parsed form (``re._parser``: the stdlib has no public API for a
regex's parse tree), one of which any match must contain; the optional C helper
(``_lurescan.c``) walks the anchors' trie from each word start (without it an Aho-Corasick
automaton, ``ahocorasick_rs``, finds them in a single pass, and a trie-shaped regex does when
that library is missing too: the same anchors each way), and a pattern is tried only in windows
around its anchors. The helper also does the fold's space collapsing and mark removal.
"""

from __future__ import annotations

import array
import functools
import importlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

try:  # compiled multi-pattern matching; the trie regex below finds the same anchors without it
    import ahocorasick_rs
except ImportError:  # pragma: no cover - a declared dependency
    ahocorasick_rs = None  # type: ignore[assignment]

try:  # the optional C helper (setup.py): anchors at word starts by a trie walk; space runs
    from mailward.detectors._lurescan import collapse_spaces, fold_marks, word_start_anchors
except ImportError:  # pragma: no cover - built where a C compiler is at hand
    collapse_spaces = fold_marks = word_start_anchors = None  # type: ignore[assignment]

#: the stdlib regex parser and its opcodes (private modules without type stubs), for anchors
_parser: Any = importlib.import_module("re._parser")
_constants: Any = importlib.import_module("re._constants")
LANGUAGES = ("en", "fr", "de", "pt", "es", "nl")
#: category in the pattern files -> (symbol, default weight, what the message does)
CATEGORIES: dict[str, tuple[str, float, str]] = {
    "urgency": ("LURE_URGENCY", 1.0, "asks you to act urgently"),
    "account": ("LURE_ACCOUNT", 2.0, "says your account is suspended or must be verified"),
    "credentials": ("LURE_CREDENTIALS", 3.0, "asks for your password or a security code"),
    "payment_change": ("LURE_PAYMENT_CHANGE", 3.0, "points payments to new bank details or "
                       "presses for an unpaid invoice"),
    "gift_card": ("LURE_GIFT_CARD", 3.0, "asks you to buy gift cards"),
    "wire": ("LURE_WIRE", 2.0, "asks for a wire transfer"),
    "prize": ("LURE_PRIZE", 2.0, "says you have won a prize or a reward"),
    "delivery": ("LURE_DELIVERY", 1.5, "says a parcel could not be delivered or owes a fee"),
    "quota": ("LURE_QUOTA", 2.0, "says your mailbox is full"),
    "advance_fee": ("LURE_ADVANCE_FEE", 3.0, "offers a donation, an inheritance or funds to "
                    "release"),
    "crypto": ("LURE_CRYPTO", 2.5, "pushes a crypto airdrop, token claim or wallet check"),
    "refund_callback": ("LURE_REFUND_CALLBACK", 2.5, "says you were charged for a renewal or "
                        "order and should call to cancel"),
    "reward_points": ("LURE_REWARD_POINTS", 2.0, "says your points or credit expire unless "
                      "redeemed"),
    "authority": ("LURE_AUTHORITY", 2.0, "claims to come from a tax office, court or central bank"),
    "romance": ("LURE_ROMANCE", 1.5, "opens like a romance or stranger-in-need scam"),
}  # fmt: skip
#: symbols not tied to a phrase list: (weight, description)

_SPACES = re.compile(r"\s+")
_WINDOW = 160  # characters tried either side of an anchor
_MIN_ANCHOR = 2
_MAX_RUNS = 64
_MAX_ANCHOR = 12  # anchors are cut to this length: a prefix of an anchor is one too
#: At most this many literals in a pattern's window check (see :func:`_required`): a longer
#: list costs more ``str.find`` calls than the regex search it would spare (instructions counted
#: by callgrind over 400 corpus texts: no check 637k a text, at most 3: 584k, 4: 578k, 8: 504k,
#: 16: 515k, 64: 626k).
_REQUIRED_MAX = 8
#: :func:`prefix_table` numbers the trie's nodes breadth first down to this depth
_TABLE_BREADTH = 2
#: Whether the C helper's tables can be written here: its numbers are 32-bit ("i" and "I"
#: arrays hold them where their items are four bytes, as on every common platform).
_TABLES_32 = array.array("i").itemsize == 4 and array.array("I").itemsize == 4
#: words too common to be worth an anchor (they occur in almost every message)
_COMMON = frozenset(
    re.split(
        r"\s+",
        """you your the and for with have has are was will been this that our not can all now get
        new act from any its out who de la le les des en et un une du au pour vous votre sur par
        est der die das und ist sie ihr ihre ein eine den dem mit von zu auf fur nicht het een van
        op uw je te dat met voor niet que para por com uma um os as seu sua do da no na el los las
        su tu del al con se""",
    )
)
#: Cyrillic and Greek look-alikes and small capitals, mapped to the Latin letter they imitate
_LOOKALIKE_FROM = (
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0501\u0455\u051b\u051d\u04bb\u04cf\u0251"
    "\u03b1\u03bf\u03b5\u03b9\u03ba\u03bd\u03c4\u03c1\u1d00\u0299\u1d04\u1d05\u1d07\ua730\u0262\u029c"
    "\u026a\u1d0a\u1d0b\u029f\u1d0d\u0274\u1d0f\u1d18\u01eb\u0280\ua731\u1d1b\u1d1c\u1d20\u1d21\u028f\u1d22"
)
_LOOKALIKE_TO = "aeopcyxijdsqwhlaaoeikvtpabcdefghijklmnopqrstuvwyz"
_INVISIBLE = "\u00ad\u034f\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\ufeff"


@functools.cache
def _fold_table() -> dict[int, str | None]:
    """str.translate table: combining marks and invisible characters dropped, look-alikes mapped."""
    table: dict[int, str | None] = {
        cp: None for cp in range(0x300, 0x10000) if unicodedata.combining(chr(cp))
    }
    table.update({ord(c): None for c in _INVISIBLE})
    table.update({ord(k): v for k, v in zip(_LOOKALIKE_FROM, _LOOKALIKE_TO, strict=True)})
    return table


@functools.cache
def _fold_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(the characters :func:`_fold_table` drops, the ones it maps), as character classes."""
    table = _fold_table()
    dropped = "".join(re.escape(chr(cp)) for cp, to in sorted(table.items()) if to is None)
    mapped = "".join(re.escape(chr(cp)) for cp, to in sorted(table.items()) if to is not None)
    return re.compile(f"[{dropped}]+"), re.compile(f"[{mapped}]")


@functools.cache
def _mark_table() -> bytes:
    """:func:`_fold_table` for the C helper's ``fold_marks``: a bitmap of the characters it
    drops or maps (all in the Basic Multilingual Plane, none ASCII), then the mapped ones'
    (character, replacement) pairs, native uint32, ascending."""
    table = _fold_table()
    bitmap = bytearray(0x10000 // 8)
    for cp in table:
        if not 128 <= cp < 0x10000:
            raise ValueError(f"fold table character {cp:#x} outside what fold_marks reads")
        bitmap[cp >> 3] |= 1 << (cp & 7)
    pairs = array.array("I")
    for cp, to in sorted(table.items()):
        if to is not None:
            pairs.extend((cp, ord(to)))
    return bytes(bitmap) + pairs.tobytes()


def _collapse_spaces(text: str) -> str:
    r"""``_SPACES.sub(" ", text)``: by the C helper when it was built (one pass, no word
    objects: 1 µs against 15 for a 2,000-character text), else :func:`_split_spaces`."""
    if collapse_spaces is not None:
        return collapse_spaces(text)
    return _split_spaces(text)


def _split_spaces(text: str) -> str:
    r"""``_SPACES.sub(" ", text)``: str.split() splits at exactly the characters ``\s``
    matches, so the words joined by one space, with one space kept at either end where the
    text had some, are that; without a replacement made for every single space."""
    words = text.split()
    if not words:
        return " " if text else ""
    out = " ".join(words)
    if text[0].isspace():
        out = " " + out
    if text[-1].isspace():
        out += " "
    return out


def fold(text: str) -> str:
    """Case-folded, accents removed, whitespace collapsed: the form lure patterns match.

    The translation by :func:`_fold_table` is made as two substitutions (the dropped
    characters removed where they occur, then the look-alikes mapped when there are any):
    the same characters, without a table lookup for every character of the text.
    """
    if text.isascii():
        return _collapse_spaces(text.lower())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    if fold_marks is not None and _TABLES_32:
        return fold_marks(decomposed, _mark_table())
    drop, lookalike = _fold_patterns()
    decomposed = drop.sub("", decomposed)
    if not decomposed.isascii() and lookalike.search(decomposed):
        decomposed = decomposed.translate(_fold_table())
    return _collapse_spaces(decomposed)


def parse_lines(text: str, source: str) -> dict[str, list[str]]:
    """``CATEGORY REGEX`` lines (``#`` comments and blanks skipped) -> {category: [regex]}."""
    out: dict[str, list[str]] = {}
    for number, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        category, _, pattern = line.partition(" ")
        if category not in CATEGORIES or not pattern.strip():
            raise ValueError(f"{source}:{number}: expected 'CATEGORY REGEX', got {line!r}")
        re.compile(pattern)  # a bad pattern fails at load, naming nothing worse than the file
        out.setdefault(category, []).append(pattern.strip())
    return out


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """The anchor set that filters better: longer shortest anchor, then fewer anchors."""
    if a is None or b is None:
        return a if b is None else b
    key_a = (_strength(a), min(len(w) for w in a), -len(a))
    key_b = (_strength(b), min(len(w) for w in b), -len(b))
    return a if key_a >= key_b else b


def _strength(anchor_set: frozenset[str]) -> int:
    """How well an anchor set filters: its weakest anchor's length, common words counting 0."""
    return min(0 if w.strip() in _COMMON else len(w.strip()) for w in anchor_set)


def _options(items: Any) -> list[str] | None:
    """Every text a parsed sequence of literals, literal alternations and optional literals can
    match (at most ``_MAX_RUNS``), else None."""
    c = _constants

    texts = [""]
    for op, av in items:
        if op is c.LITERAL:
            choices: list[str] | None = [chr(av)]
        elif op is c.BRANCH:
            parts = [_options(alt) for alt in av[1]]
            choices = None if None in parts else [t for part in parts for t in part or ()]
        elif op is c.MAX_REPEAT and av[:2] == (0, 1):
            inner = _options(av[2])
            choices = None if inner is None else ["", *inner]
        else:
            choices = None
        if choices is None or len(texts) * len(choices) > _MAX_RUNS:
            return None
        texts = [t + choice for t in texts for choice in choices]
    return texts


def anchors(
    items: Any, word_start: bool = True, anywhere: bool = False
) -> frozenset[str] | None:
    """Literal strings, each starting a word, one of which every match of ``items`` contains.

    ``items`` is a parsed pattern (``re._parser.parse``); ``word_start`` says whether it begins
    where a word begins. Only literal stretches known to begin a word are used, so the anchor
    finder can look at word starts alone. ``anywhere``: literal stretches wherever they stand
    count too (what :meth:`PhraseMatcher._matches` looks for before it runs a pattern).
    """
    c = _constants

    best: frozenset[str] | None = None
    runs, runs_start = [""], word_start  # literal texts of the current stretch; begins a word?
    for index, (op, av) in enumerate([*items, (None, None)]):
        if op is c.LITERAL:
            runs_start = runs_start or (runs == [""] and av == ord(" "))
        choices = _options([(op, av)]) if op is not None else None
        if choices is not None and len(runs) * len(choices) <= _MAX_RUNS:
            runs = [r + choice for r in runs for choice in choices]
            continue
        if runs != [""] and (runs_start or anywhere) and all(r.strip() for r in runs):
            best = _better(best, frozenset(r.strip()[:_MAX_ANCHOR] for r in runs))
        if choices is not None:  # too many combinations: start a new stretch here
            runs, runs_start = choices, all(ch.startswith(" ") for ch in choices)
            continue
        inner_start = word_start and index == 0
        runs, runs_start = [""], False
        if op is c.BRANCH:
            alternatives = [anchors(alt, inner_start, anywhere) for alt in av[1]]
            if all(alt is not None for alt in alternatives):
                best = _better(best, frozenset().union(*alternatives))  # type: ignore[arg-type]
        elif op is c.SUBPATTERN:
            best = _better(best, anchors(av[-1], inner_start, anywhere))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1:
            best = _better(best, anchors(av[2], inner_start, anywhere))
    if best is not None and min(len(w) for w in best) < _MIN_ANCHOR:
        return None
    return best


def _trie_regex(words: Sequence[str]) -> str:
    """An alternation of ``words`` shaped as a trie, so each position is tried in one pass."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return emit(trie)


def prefix_table(words: Sequence[str]) -> bytes:
    """The trie of ``words`` laid out for the C helper's ``word_start_anchors`` (its source
    describes the numbers): native int32.

    Each node is stored with its edges; the nodes within two characters of the root come
    first, breadth first, then each of their subtrees depth first. Most walks from a word start
    end within three characters and read the first part (a few kilobytes); a longer walk reads
    forward through its subtree. A scan runs this with the other detectors' data in between,
    so the fewer cache lines a text's walks touch, the better (counted over the corpus texts:
    162 a text against 261 with separate arrays of nodes and edges, breadth first).
    """
    children: list[dict[int, int]] = [{}]  # node -> {code point: node}
    term = [-1]
    depth = [0]
    for index, word in enumerate(words):
        node = 0
        for cp in map(ord, word):
            nxt = children[node].get(cp)
            if nxt is None:
                nxt = children[node][cp] = len(children)
                children.append({})
                term.append(-1)
                depth.append(depth[node] + 1)
            node = nxt
        term[node] = index
    order = [0]
    for node in order:  # breadth first down to _TABLE_BREADTH (the list grows as it is read)
        if depth[node] < _TABLE_BREADTH:
            order.extend(child for _, child in sorted(children[node].items()))
    stack = [node for node in reversed(order) if depth[node] == _TABLE_BREADTH]
    while stack:  # then depth first (preorder) below each of the last ones
        node = stack.pop()
        if depth[node] > _TABLE_BREADTH:
            order.append(node)
        stack.extend(child for _, child in sorted(children[node].items(), reverse=True))
    start: dict[int, int] = {}
    size = 0
    for node in order:
        start[node] = size
        size += 2 + 2 * len(children[node])
    numbers = [size]
    numbers += (start[children[0][cp]] if cp in children[0] else -1 for cp in range(128))
    for node in order:
        numbers += (term[node], len(children[node]))
        for cp, child in sorted(children[node].items()):
            numbers += (cp, start[child])
    return array.array("i", numbers).tobytes()


class PhraseMatcher:
    """All categories' patterns, tried only around the literal anchors found in one pass."""

    def __init__(self, merged: Mapping[str, Sequence[str]]) -> None:
        self.patterns: list[tuple[str, re.Pattern[str]]] = []
        #: each pattern without its leading ``(?<!\w)`` (see :meth:`_matches`)
        self.bare: list[re.Pattern[str]] = []
        own: dict[str, list[int]] = {}
        self.always: list[int] = []
        #: for each pattern, literal strings one of which every match of it contains (None:
        #: no such set): a window holding none of them is not searched (see :meth:`_matches`)
        self.required: list[tuple[str, ...] | None] = []
        for category, patterns in merged.items():
            for pattern in patterns:
                index = len(self.patterns)
                self.patterns.append((category, re.compile(rf"(?<!\w)(?:{pattern})(?!\w)")))
                self.bare.append(re.compile(rf"(?:{pattern})(?!\w)"))
                self.required.append(_required(pattern, self.bare[-1]))
                found = anchors(_parser.parse(pattern))
                if found is None:
                    self.always.append(index)
                for anchor in found or ():
                    own.setdefault(anchor, []).append(index)
        words = sorted(own)
        # Anchors start where a word may: at the text's start, or after a non-word character.
        # Consuming that character (``\W`` first) lets the regex engine skip ahead to the next
        # one instead of trying the lookbehind and the trie at every character.
        trie = _trie_regex(words)
        self.finder = re.compile(f"\\W(?=({trie}))") if words else None
        self.finder_at_start = re.compile(f"(?=({trie}))") if words else None
        self.by_anchor = {
            word: sorted({i for n in range(1, len(word) + 1) for i in own.get(word[:n], ())})
            for word in words
        }
        self.words = words
        self.word_tuple = tuple(words)
        self.table = prefix_table(words) if _TABLES_32 else None
        # A contiguous NFA, not a DFA: the DFA of these ~3,000 anchors is several times larger,
        # and a scan runs this once per message with the other detectors' data in between, so
        # the DFA is read mostly from memory rather than cache: 0.12 against 0.10 CPU ms per
        # message in a scan (the DFA is faster only when one text after another is searched).
        self.automaton = (
            ahocorasick_rs.AhoCorasick(
                words, implementation=ahocorasick_rs.Implementation.ContiguousNFA
            )
            if words and ahocorasick_rs is not None
            else None
        )

    def find(self, text: str) -> dict[str, list[str]]:
        """{category: distinct phrases in text order}, categories in CATEGORIES order.

        Each pattern is tried in the windows of ``_WINDOW`` characters either side of its
        anchors, windows that touch or overlap merged; they are built as the anchors come, in
        text order, rather than a list of anchor starts kept for each pattern first.
        """
        size = len(text)
        windows: dict[int, list[list[int]]] = {index: [[0, size]] for index in self.always}
        by_anchor = self.by_anchor
        for start, anchor in self._anchors(text):
            lo = start - _WINDOW if start > _WINDOW else 0
            hi = start + _WINDOW if start + _WINDOW < size else size
            for index in by_anchor[anchor]:
                spans = windows.get(index)
                if spans is None:
                    windows[index] = [[lo, hi]]
                elif lo <= spans[-1][1]:
                    spans[-1][1] = hi  # starts come in text order: hi only grows
                else:
                    spans.append([lo, hi])
        seen: list[tuple[int, str, str]] = []
        patterns, matches = self.patterns, self._matches
        for index, spans in windows.items():
            category = patterns[index][0]
            for lo, hi in spans:
                seen.extend((at, category, phrase) for at, phrase in matches(index, text, lo, hi))
        found: dict[str, list[str]] = {}
        for _, category, phrase in sorted(seen):
            phrases = found.setdefault(category, [])
            if phrase not in phrases:
                phrases.append(phrase)
        return {c: found[c] for c in CATEGORIES if c in found}

    def _matches(self, index: int, text: str, lo: int, hi: int) -> list[tuple[int, str]]:
        """(where, phrase) of each match of pattern ``index`` that ``finditer(text, lo, hi)``
        gives (:meth:`_matches_plain`), found with the pattern's leading ``(?<!\\w)`` left out.

        With the lookbehind first, the regex engine tries the whole pattern at every position;
        without it, a pattern that starts with a literal or a choice of letters lets it skip
        ahead to where one occurs. A match that starts inside a word (the lookbehind would have
        failed there) is dropped and the search goes on from its next character: the first
        match found is then the leftmost one the whole pattern has, and the same one (the
        lookbehind reads no text). Each match after the last one's end, as finditer goes on. An
        empty match (none of the shipped patterns has one) goes the plain way.
        """
        required = self.required[index]
        if required is not None:
            for literal in required:
                if text.find(literal, lo, hi) >= 0:
                    break
            else:  # every match holds one of them, inside the window: none here
                return []
        regex = self.bare[index]
        out: list[tuple[int, str]] = []
        pos = lo
        while (match := regex.search(text, pos, hi)) is not None:
            start, end = match.span()
            if start == end:
                return self._matches_plain(index, text, lo, hi)
            if start and (text[start - 1].isalnum() or text[start - 1] == "_"):  # \w
                pos = start + 1
                continue
            out.append((start, match.group(0)))
            pos = end
        return out

    def _matches_plain(self, index: int, text: str, lo: int, hi: int) -> list[tuple[int, str]]:
        """:meth:`_matches` by the whole pattern's finditer (the plain way)."""
        regex = self.patterns[index][1]
        return [(m.start(), m.group(0)) for m in regex.finditer(text, lo, hi)]

    def _anchors(self, text: str) -> list[tuple[int, str]]:
        """(where, anchor) of every anchor at the start of a word, in text order.

        The automaton reports every anchor anywhere in the text (overlapping ones too); kept
        are those at a word start (the text's start, or after a character ``\\w`` does not
        match: exactly the ones ``str.isalnum`` rejects, and not ``_``), the longest at each
        start, which is what the trie regex's greedy match gives.
        """
        if word_start_anchors is not None and self.table is not None:
            return word_start_anchors(self.table, self.word_tuple, text)
        return self._anchors_by_automaton(text)

    def _anchors_by_automaton(self, text: str) -> list[tuple[int, str]]:
        """:meth:`_anchors` by the Aho-Corasick automaton (the way without the C helper)."""
        if self.automaton is None:
            return self._anchors_by_regex(text)
        longest: dict[int, int] = {}
        for index, start, _ in self.automaton.find_matches_as_indexes(text, overlapping=True):
            if start and (text[start - 1].isalnum() or text[start - 1] == "_"):
                continue
            if longest.get(start, -1) < index:  # anchors starting at one place are prefixes
                longest[start] = index  # of one another: in sorted order, the longest is last
        return [(start, self.words[longest[start]]) for start in sorted(longest)]

    def _anchors_by_regex(self, text: str) -> list[tuple[int, str]]:
        """:meth:`_anchors` by the trie regex (the way without ``ahocorasick_rs``)."""
        if self.finder is None or self.finder_at_start is None:
            return []
        first = self.finder_at_start.match(text)
        found = [(0, first.group(1))] if first else []
        found += [(m.start(1), m.group(1)) for m in self.finder.finditer(text)]
        return found


def _required(pattern: str, regex: re.Pattern[str]) -> tuple[str, ...] | None:
    """Literal strings one of which every match of ``pattern`` contains, longest first; None
    when the pattern has no such set, more than ``_REQUIRED_MAX`` of them, or is matched
    ignoring case (a literal then says nothing about the text's own letters)."""
    if regex.flags & re.IGNORECASE:
        return None
    found = anchors(_parser.parse(pattern), anywhere=True)
    if not found or len(found) > _REQUIRED_MAX:
        return None
    return tuple(sorted(found, key=lambda w: (-len(w), w)))


@functools.cache
def compiled(languages: tuple[str, ...]) -> PhraseMatcher:
    """The phrase matcher over the languages' pattern files."""
    folder = resources.files("mailward.detectors") / "data"
    merged: dict[str, list[str]] = {}
    for lang in languages:
        text = (folder / f"lures_{lang}.txt").read_text(encoding="utf-8")
        for category, patterns in parse_lines(text, f"lures_{lang}.txt").items():
            merged.setdefault(category, []).extend(patterns)
    return PhraseMatcher(merged)
