"""Social-engineering cues in what a message says, in English, French, German, Portuguese, Spanish
and Dutch, and the text tricks scams use to slip past filters.

The subject and body text (the first ``max_chars`` characters) are folded: case-folded, accents
and other combining marks removed (NFKD), zero-width characters dropped, small capitals and
Cyrillic/Greek look-alike letters mapped to Latin, whitespace collapsed. The folded text is matched
against the phrase patterns of ``mailward/detectors/data/lures_<lang>.txt`` (one ``CATEGORY REGEX``
a line, each regex wrapped in word boundaries). Each category found raises its symbol once; the
explanation quotes what matched.

Speed: every pattern has literal "anchors" (derived from its parsed form, one of which any match
must contain). One trie-shaped regex finds the anchors in a single pass; a pattern is then tried
only in windows around its anchors. Patterns without an anchor are tried on the whole text.

Symbols (default weight, group "lures")
  LURE_URGENCY          1    pressure to act now ("within 24 hours", "immediatement", "dringend")
  LURE_ACCOUNT          2    account or wallet suspended or to be verified ("Konto gesperrt")
  LURE_CREDENTIALS      3    asks for a password, a code or a recovery phrase
  LURE_PAYMENT_CHANGE   3    new bank details, unpaid invoices ("neue Bankverbindung")
  LURE_GIFT_CARD        3    asks to buy gift cards ("Google Play cards", "cartes cadeaux")
  LURE_WIRE             2    asks for a wire transfer ("Uberweisung", "virement", "transferencia")
  LURE_PRIZE            2    prize, lottery, "you are our winner", "claim your reward"
  LURE_DELIVERY         1.5  a parcel that could not be delivered, customs fees ("colis")
  LURE_QUOTA            2    the mailbox is full ("storage quota", "Postfach voll")
  LURE_ADVANCE_FEE      3    donation, inheritance, fund release, compensation fund, ATM card
  LURE_CRYPTO           2.5  airdrops, token claims, "verify your wallet", "double your bitcoin"
  LURE_REFUND_CALLBACK  2.5  a subscription renewed or an order charged: call us to cancel
  LURE_REWARD_POINTS    2    loyalty points or money about to expire: redeem now ("resgate")
  LURE_AUTHORITY        2    tax office, court, central bank: money to receive or a case to see
  LURE_ROMANCE          1.5  "hello dear", a stranger looking for love or a private chat
  LURE_MIXED_SCRIPT     2.5  a word of the subject or display name mixes Latin and Cyrillic/Greek
  LURE_SUBJECT_OBFUSCATED 2  the subject hides its words (Words_Joined_So, "0ne", random tokens)
  LURE_MONEY_BAIT       2.5  a large sum of money or crypto offered or sent to the reader
  LURE_COMBINED         2    cues of two or more different categories in one message

Settings ``[detectors.lures]``
  languages   which lures_<lang>.txt lists to use (default: en fr de pt es nl)
  max_chars   characters of body text read (default 20000)
"""

from __future__ import annotations

import functools
import importlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, ClassVar

from pydantic import Field

from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Finding, ParsedMessage

_GROUP = "lures"
#: the stdlib regex parser and its opcodes (private modules without type stubs), for anchors
_parser: Any = importlib.import_module("re._parser")
_constants: Any = importlib.import_module("re._constants")
LANGUAGES = ("en", "fr", "de", "pt", "es", "nl")
#: category -> (symbol, weight, what the message does, for explanations)
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
EXTRA_SYMBOLS: dict[str, tuple[float, str]] = {
    "LURE_MIXED_SCRIPT": (2.5, "A word of the subject or sender name mixes Latin with "
                          "look-alike Cyrillic or Greek letters."),
    "LURE_SUBJECT_OBFUSCATED": (2.0, "The subject disguises its words (joined by underscores or "
                                "dots, digits for letters, or a random token)."),
    "LURE_MONEY_BAIT": (2.5, "The message offers or sends a large sum of money to the reader."),
    "LURE_COMBINED": (2.0, "The message combines two or more kinds of social-engineering "
                      "pressure."),
}  # fmt: skip
_SPACES = re.compile(r"\s+")
_MAX_QUOTES = 3
_WINDOW = 160  # characters tried either side of an anchor
_MIN_ANCHOR = 2
_MAX_RUNS = 64
_MAX_ANCHOR = 12  # anchors are cut to this length: a prefix of an anchor is one too
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


def fold(text: str) -> str:
    """Case-folded, accents removed, whitespace collapsed: the form lure patterns match."""
    if text.isascii():
        return _SPACES.sub(" ", text.lower())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return _SPACES.sub(" ", decomposed.translate(_fold_table()))


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


def anchors(items: Any, word_start: bool = True) -> frozenset[str] | None:
    """Literal strings, each starting a word, one of which every match of ``items`` contains.

    ``items`` is a parsed pattern (``re._parser.parse``); ``word_start`` says whether it begins
    where a word begins. Only literal stretches known to begin a word are used, so the anchor
    finder can look at word starts alone.
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
        if runs != [""] and runs_start and all(r.strip() for r in runs):
            best = _better(best, frozenset(r.strip()[:_MAX_ANCHOR] for r in runs))
        if choices is not None:  # too many combinations: start a new stretch here
            runs, runs_start = choices, all(ch.startswith(" ") for ch in choices)
            continue
        inner_start = word_start and index == 0
        runs, runs_start = [""], False
        if op is c.BRANCH:
            alternatives = [anchors(alt, inner_start) for alt in av[1]]
            if all(alt is not None for alt in alternatives):
                best = _better(best, frozenset().union(*alternatives))  # type: ignore[arg-type]
        elif op is c.SUBPATTERN:
            best = _better(best, anchors(av[-1], inner_start))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1:
            best = _better(best, anchors(av[2], inner_start))
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


class PhraseMatcher:
    """All categories' patterns, tried only around the literal anchors found in one pass."""

    def __init__(self, merged: Mapping[str, Sequence[str]]) -> None:
        self.patterns: list[tuple[str, re.Pattern[str]]] = []
        own: dict[str, list[int]] = {}
        self.always: list[int] = []
        for category, patterns in merged.items():
            for pattern in patterns:
                index = len(self.patterns)
                self.patterns.append((category, re.compile(rf"(?<!\w)(?:{pattern})(?!\w)")))
                found = anchors(_parser.parse(pattern))
                if found is None:
                    self.always.append(index)
                for anchor in found or ():
                    own.setdefault(anchor, []).append(index)
        words = sorted(own)
        self.finder = re.compile(f"(?<!\\w)(?=({_trie_regex(words)}))") if words else None
        self.by_anchor = {
            word: sorted({i for n in range(1, len(word) + 1) for i in own.get(word[:n], ())})
            for word in words
        }

    def find(self, text: str) -> dict[str, list[str]]:
        """{category: distinct phrases in text order}, categories in CATEGORIES order."""
        spots: dict[int, list[int]] = {index: [0] for index in self.always}
        for match in self.finder.finditer(text) if self.finder else ():
            for index in self.by_anchor[match.group(1)]:
                spots.setdefault(index, []).append(match.start())
        seen: list[tuple[int, str, str]] = []
        for index, starts in spots.items():
            category, regex = self.patterns[index]
            for lo, hi in self._windows(starts, len(text), index in self.always):
                seen.extend((m.start(), category, m.group(0)) for m in regex.finditer(text, lo, hi))
        found: dict[str, list[str]] = {}
        for _, category, phrase in sorted(seen):
            found.setdefault(category, [])
            if phrase not in found[category]:
                found[category].append(phrase)
        return {c: found[c] for c in CATEGORIES if c in found}

    @staticmethod
    def _windows(starts: list[int], size: int, whole: bool) -> list[tuple[int, int]]:
        if whole:
            return [(0, size)]
        out: list[tuple[int, int]] = []
        for start in starts:
            lo, hi = max(0, start - _WINDOW), min(size, start + _WINDOW)
            if out and lo <= out[-1][1]:
                out[-1] = (out[-1][0], hi)
            else:
                out.append((lo, hi))
        return out


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


# --- text obfuscation -----------------------------------------------------------------------
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Tried only where a run of word characters, dots and underscores starts: from inside a run a
# match can only repeat one found from its start, and each try costs the run's length.
_JOINED = re.compile(r"(?<![\w'\u2019.])[_.]*(?:[\w'\u2019]+[_.]+){2,}[\w'\u2019]+[_.]*")
_TITLED = re.compile(r"[A-Z][a-zA-Z'\u2019]*[a-z][a-zA-Z'\u2019]*")
_SHORT_WORD = re.compile(r"[a-z]{2,4}")
_LEET = re.compile(r"(?<![\w.])(?:0(?!x)[a-z]+|[a-z]+0[a-z]+)(?![\w.])", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9]{14,}")
_CASE_FLIP = re.compile(r"[a-z][A-Z]|[A-Z][a-z]")


def _script(char: str) -> str:
    """'latin', 'cyrillic', 'greek' or '' for a letter's script (by code point block)."""
    cp = ord(char)
    if cp < 0x250 or 0x1E00 <= cp < 0x1F00:
        return "latin"
    if 0x400 <= cp < 0x530:
        return "cyrillic"
    if 0x370 <= cp < 0x400:
        return "greek"
    return ""


def mixed_script_words(text: str) -> list[str]:
    """Words that mix Latin letters with Cyrillic or Greek ones (a Cyrillic "a" in "Paypal")."""
    if text.isascii():
        return []
    out = []
    for word in _WORD.findall(text):
        scripts = {_script(ch) for ch in word} - {""}
        if "latin" in scripts and len(scripts) > 1:
            out.append(word)
    return out


def _joined_words(token: str) -> bool:
    """True for Words_Joined_Like.This (not for a dotted host name or a snake_case name)."""
    parts = [p for p in re.split(r"[_.]+", token) if p]
    titled = sum(bool(_TITLED.fullmatch(p)) for p in parts)
    if len(parts) < 3 or titled < 2:
        return False
    hints = titled - 2 + (token[0] in "_." or token[-1] in "_.")
    hints += any(p.isdigit() for p in parts) + any(_SHORT_WORD.fullmatch(p) for p in parts)
    return hints >= 1


def subject_tricks(subject: str) -> list[str]:
    """Pieces of the subject written to dodge word filters."""
    tricks = [token for token in _JOINED.findall(subject) if _joined_words(token)]
    tricks.extend(_LEET.findall(subject))
    for token in _TOKEN.findall(subject):
        digits = sum(ch.isdigit() for ch in token)
        if 0 < digits < len(token) / 2 and len(_CASE_FLIP.findall(token)) >= 5:
            tricks.append(token)
    return tricks


_AMOUNT = re.compile(
    r"(?:(?:us|usd|eur|gbp)? ?[$€£] ?|(?:usd|eur|gbp|euros?|dollars?) ?)"
    r"(?P<a>\d{1,3}(?:[ ,.]\d{3})+(?:[.,]\d{2})?|\d+(?:[.,]\d+)?) ?(?P<u>millions?|mil|m|k)?"
    r"|(?P<b>\d{1,3}(?:[ ,.]\d{3})+(?:[.,]\d{2})?|\d+(?:[.,]\d+)?) ?(?P<v>millions?|mil|m|k)? ?"
    r"(?:usd|us dollars|dollars|euros?|eur|gbp|pounds|reais)"
    r"|(?P<c>\d+(?:[.,]\d+)?) ?(?:btc|bitcoins?|eth|usdt)(?!\w)"
)
_CURRENCY = re.compile(
    r"[$€£]|(?<![a-z])(?:usd|eur|gbp|btc|eth|usdt|bitcoins?|dollars?|pounds?|reais|euros?)(?![a-z])"
)
_TO_READER = re.compile(
    r"(?<!\w)(?:(?:transfer|send|release|donat|pay|give|wire|credit|deliver|deposit)\w* "
    r"(?:\S+ ){0,5}(?:to|into|for) (?:you|your)|"
    r"you (?:will|shall|have|can) (?:receive|inherit|claim|withdraw)|"
    r"you (?:received|have been (?:awarded|granted|paid))|in your (?:favou?r|name)|your (?:share|"
    r"compensation|inheritance|winnings|prize|fund|funds|payment|wallet|bitcoin|btc|balance)|"
    r"beneficiar(?:y|ies) (?:of|to)|(?:release|transfer) of (?:the|your) funds?|compensation "
    r"(?:fund|payment)|(?:deposited|credited) (?:in|into|to) your|para (?:voce|usted|ti)|"
    r"a votre (?:nom|profit|compte)|fur sie|sua conta|su cuenta|aan u|"
    r"voce (?:tem|possui|recebe))(?!\w)"
)


def _large(match: re.Match[str]) -> bool:
    if match.group("c"):
        return True
    number = (match.group("a") or match.group("b") or "0").replace(" ", "")
    unit = match.group("u") or match.group("v")
    if unit and unit[0] in "m":
        return True
    digits = re.sub(r"[.,]\d{2}$", "", number)
    value = int(re.sub(r"\D", "", digits) or 0)
    return value >= 10_000 or (unit == "k" and value >= 50)


def money_bait(folded: str) -> list[str]:
    """Large sums that the nearby text offers or sends to the reader."""
    out = []
    spans: list[tuple[int, int]] = []
    for hint in _CURRENCY.finditer(folded):
        lo, hi = max(0, hint.start() - 40), hint.end() + 40
        if spans and lo <= spans[-1][1]:
            spans[-1] = (spans[-1][0], hi)
        else:
            spans.append((lo, hi))
    matches = [m for lo, hi in spans for m in _AMOUNT.finditer(folded, lo, hi)]
    for match in matches:
        if not _large(match):
            continue
        lo, hi = max(0, match.start() - 120), match.end() + 120
        if _TO_READER.search(folded, lo, hi):
            out.append(match.group(0).strip())
    return list(dict.fromkeys(out))


class LureSettings(DetectorSettings):
    """Options of the lures detector."""

    languages: tuple[str, ...] = LANGUAGES
    max_chars: int = Field(20_000, gt=0)


def _quoted(phrases: Sequence[str]) -> str:
    return ", ".join(f'"{p}"' for p in phrases[:_MAX_QUOTES])


def _finding(symbol: str, explanation: str, evidence: Sequence[str]) -> Finding:
    return Finding(
        symbol=symbol, explanation=explanation, evidence=tuple(evidence), detector="lures"
    )


class LureDetector:
    """Finds social-engineering lures by category, money bait and text obfuscation."""

    name: ClassVar[str] = "lures"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        **{
            symbol: SymbolSpec(weight, _GROUP, f"The message {what}.")
            for symbol, weight, what in CATEGORIES.values()
        },
        **{symbol: SymbolSpec(w, _GROUP, what) for symbol, (w, what) in EXTRA_SYMBOLS.items()},
    }
    timeout: ClassVar[float] = 5.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[LureSettings]] = LureSettings

    def __init__(self, settings: LureSettings) -> None:
        unknown = [lang for lang in settings.languages if lang not in LANGUAGES]
        if unknown:
            raise ValueError(f"no lure phrases for language(s) {', '.join(unknown)}")
        self.settings = settings
        self._matcher = compiled(tuple(settings.languages))

    def folded(self, msg: ParsedMessage) -> str:
        """The subject and the start of the body text, folded."""
        return fold(f"{msg.subject}\n{msg.text[: self.settings.max_chars]}")

    def cues(self, msg: ParsedMessage) -> dict[str, list[str]]:
        """{category: distinct phrases found (folded form)}, in category order."""
        return self._matcher.find(self.folded(msg))

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        text = self.folded(msg)
        cues = self._matcher.find(text)
        findings = [
            _finding(
                CATEGORIES[category][0],
                f"The message {CATEGORIES[category][2]} ({_quoted(phrases)}).",
                phrases,
            )
            for category, phrases in cues.items()
        ]
        parts = [f"{CATEGORIES[c][2]} ({_quoted(p[:1])})" for c, p in cues.items()]
        kinds = [CATEGORIES[c][0] for c in cues]
        bait = money_bait(text)
        if bait:
            findings.append(
                _finding("LURE_MONEY_BAIT", f"The message offers {_quoted(bait)}.", bait)
            )
            parts.append(f"offers a large sum ({_quoted(bait[:1])})")
            kinds.append("LURE_MONEY_BAIT")
        findings.extend(self._obfuscation(msg))
        if len(kinds) >= 2:
            joined = ", ".join(parts[:-1]) + " and " + parts[-1]
            findings.append(_finding("LURE_COMBINED", f"The message {joined}.", kinds))
        return findings

    @staticmethod
    def _obfuscation(msg: ParsedMessage) -> list[Finding]:
        names = " ".join(a.display_name for a in msg.from_)
        out = []
        mixed = list(dict.fromkeys(mixed_script_words(f"{msg.subject} {names}")))
        if mixed:
            out.append(
                _finding(
                    "LURE_MIXED_SCRIPT",
                    f"Words mix Latin with Cyrillic or Greek letters ({_quoted(mixed)}).",
                    mixed,
                )
            )
        tricks = subject_tricks(msg.subject)
        if tricks:
            out.append(
                _finding(
                    "LURE_SUBJECT_OBFUSCATED",
                    f"The subject disguises its words ({_quoted(tricks)}).",
                    tricks,
                )
            )
        return out
