"""The text tricks scams use to slip past filters, for the lures detector: words mixing
Latin with Cyrillic/Greek letters, subjects that hide their words, and money bait.
"""

from __future__ import annotations

import re

try:  # one compiled pass for the currency words; the regex below finds the same without it
    import ahocorasick_rs
except ImportError:  # pragma: no cover - a declared dependency
    ahocorasick_rs = None  # type: ignore[assignment]

try:  # the optional C helper (setup.py): the currency hints by one pass over the letter runs
    from mailward.detectors._lurescan import letter_runs
except ImportError:  # pragma: no cover - built where a C compiler is at hand
    letter_runs = None  # type: ignore[assignment]

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
#: ``[$€£]|(?<![a-z])(?:usd|eur|gbp|btc|eth|usdt|bitcoins?|dollars?|pounds?|reais|euros?)(?![a-z])``
#: with every alternative starting with its literal first character (the word boundary checked
#: just after it), so the regex engine skips ahead to those characters instead of trying the
#: pattern at every one; ``(?![a-z])`` makes a match the whole run of letters either way.
_CURRENCY = re.compile(
    r"\$|€|£|u(?<![a-z]u)sdt?(?![a-z])|e(?<![a-z]e)(?:ur|uros?|th)(?![a-z])"
    r"|g(?<![a-z]g)bp(?![a-z])|b(?<![a-z]b)(?:tc|itcoins?)(?![a-z])"
    r"|d(?<![a-z]d)ollars?(?![a-z])|p(?<![a-z]p)ounds?(?![a-z])|r(?<![a-z]r)eais(?![a-z])"
)
#: What :data:`_CURRENCY` finds: a currency sign, or one of these words as a whole run of
#: the letters a-z (neither letter before nor after it).
_CURRENCY_SIGNS = ("$", "\u20ac", "\u00a3")
_CURRENCY_WORDS = ("usd", "usdt", "eur", "euro", "euros", "eth", "gbp", "btc", "bitcoin",
                   "bitcoins", "dollar", "dollars", "pound", "pounds", "reais")  # fmt: skip
#: The signs and words but the euro sign (no Latin-1 character), searched in the text's
#: Latin-1 bytes (see :func:`currency_hints`); the euro sign is found by ``str.find``.
_LATIN1_HINTS = tuple(hint for hint in (*_CURRENCY_SIGNS, *_CURRENCY_WORDS) if hint != "\u20ac")
_CURRENCY_FINDER = (
    ahocorasick_rs.BytesAhoCorasick([hint.encode("latin-1") for hint in _LATIN1_HINTS])
    if ahocorasick_rs is not None
    else None
)
_IS_WORD = tuple(hint in _CURRENCY_WORDS for hint in _LATIN1_HINTS)
_SIGNS = "".join(_CURRENCY_SIGNS)
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


def currency_hints(folded: str) -> list[tuple[int, int]]:
    """(start, end) of every :data:`_CURRENCY` match, in text order.

    Found by the automaton: every occurrence of a sign or word (overlapping ones too), the
    words kept where no letter a-z is just before or after them. The matches cannot overlap
    (a sign is no letter; a word is a whole run of letters), so these are the regex's.

    By the C helper when it was built: a word is found where it is a whole run of the letters
    a-z, which is what "no letter a-z before or after it" says (one pass; the automaton's code
    and data are otherwise read from memory once per message in a scan). Without it, the
    automaton reads the text's Latin-1 bytes, every other character written as one "?" (a
    byte's place is its character's place, and no hint holds a "?", so a hint found there is
    the text's own): bytes spare the str search's table of character places, a number for
    every byte of the text written on every call.
    """
    if letter_runs is not None:
        return letter_runs(folded, _CURRENCY_WORDS, _SIGNS)
    if _CURRENCY_FINDER is None:
        return [m.span() for m in _CURRENCY.finditer(folded)]
    size = len(folded)
    out = []
    raw = folded.encode("latin-1", "replace")
    for index, start, end in _CURRENCY_FINDER.find_matches_as_indexes(raw, overlapping=True):
        word = _IS_WORD[index]
        if word and start and "a" <= folded[start - 1] <= "z":
            continue
        if word and end < size and "a" <= folded[end] <= "z":
            continue
        out.append((start, end))
    at = folded.find("\u20ac")
    while at >= 0:
        out.append((at, at + 1))
        at = folded.find("\u20ac", at + 1)
    out.sort()
    return out


def money_bait(folded: str) -> list[str]:
    """Large sums that the nearby text offers or sends to the reader."""
    out = []
    spans: list[tuple[int, int]] = []
    for start, end in currency_hints(folded):
        lo, hi = max(0, start - 40), end + 40
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
