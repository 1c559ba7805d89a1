"""Social-engineering cues in what a message says, in English, French, German, Portuguese, Spanish
and Dutch.

The subject and body text are case-folded, stripped of accents (NFKD, combining marks dropped;
"ß" becomes "ss") and whitespace-collapsed, then matched against the phrase patterns of
``mailward/detectors/data/lures_<lang>.txt`` (one ``CATEGORY REGEX`` a line, each regex wrapped in
word boundaries). Each category found raises its symbol once; the explanation quotes what matched.

Symbols (default weight, group "lures")
  LURE_URGENCY         1  pressure to act now ("within 24 hours", "immediatement", "dringend")
  LURE_ACCOUNT         2  account suspended or to be verified ("Konto gesperrt", "conta bloqueada")
  LURE_CREDENTIALS     3  asks for a password or a code ("confirm your password", "enter the code")
  LURE_PAYMENT_CHANGE  3  new bank details, unpaid invoices ("neue Bankverbindung")
  LURE_GIFT_CARD       3  asks to buy gift cards ("Google Play cards", "cartes cadeaux")
  LURE_WIRE            2  asks for a wire transfer ("Uberweisung", "virement", "transferencia")
  LURE_PRIZE           2  prize, lottery or inheritance ("you have won", "beneficiary")
  LURE_DELIVERY        1.5  a parcel that could not be delivered, customs fees ("colis")
  LURE_QUOTA           2  the mailbox is full ("storage quota", "Postfach voll")
  LURE_COMBINED        3  cues of two or more different categories in one message

Settings ``[detectors.lures]``
  languages   which lures_<lang>.txt lists to use (default: en fr de pt es nl)
  max_chars   characters of body text read (default 50000)
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import ClassVar

from pydantic import Field

from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Finding, ParsedMessage

_GROUP = "lures"
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
    "prize": ("LURE_PRIZE", 2.0, "says you have won a prize or an inheritance"),
    "delivery": ("LURE_DELIVERY", 1.5, "says a parcel could not be delivered or owes a fee"),
    "quota": ("LURE_QUOTA", 2.0, "says your mailbox is full"),
}  # fmt: skip
_SPACES = re.compile(r"\s+")
_MAX_QUOTES = 3


def fold(text: str) -> str:
    """Case-folded, accents removed, whitespace collapsed: the form lure patterns match."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", bare)


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


@functools.cache
def compiled(languages: tuple[str, ...]) -> dict[str, re.Pattern[str]]:
    """One word-bounded alternation per category over the languages' pattern files."""
    folder = resources.files("mailward.detectors") / "data"
    merged: dict[str, list[str]] = {}
    for lang in languages:
        text = (folder / f"lures_{lang}.txt").read_text(encoding="utf-8")
        for category, patterns in parse_lines(text, f"lures_{lang}.txt").items():
            merged.setdefault(category, []).extend(patterns)
    return {
        category: re.compile(r"(?<!\w)(?:" + "|".join(f"(?:{p})" for p in patterns) + r")(?!\w)")
        for category, patterns in merged.items()
    }


class LureSettings(DetectorSettings):
    """Options of the lures detector."""

    languages: tuple[str, ...] = LANGUAGES
    max_chars: int = Field(50_000, gt=0)


def _quoted(phrases: Sequence[str]) -> str:
    return ", ".join(f'"{p}"' for p in phrases[:_MAX_QUOTES])


class LureDetector:
    """Finds urgency, account, credential, payment, gift-card, wire, prize, parcel, quota lures."""

    name: ClassVar[str] = "lures"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        **{
            symbol: SymbolSpec(weight, _GROUP, f"The message {what}.")
            for symbol, weight, what in CATEGORIES.values()
        },
        "LURE_COMBINED": SymbolSpec(
            3.0, _GROUP, "The message combines two or more kinds of social-engineering pressure."
        ),
    }
    timeout: ClassVar[float] = 5.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[LureSettings]] = LureSettings

    def __init__(self, settings: LureSettings) -> None:
        unknown = [lang for lang in settings.languages if lang not in LANGUAGES]
        if unknown:
            raise ValueError(f"no lure phrases for language(s) {', '.join(unknown)}")
        self.settings = settings
        self._patterns = compiled(tuple(settings.languages))

    def cues(self, msg: ParsedMessage) -> dict[str, list[str]]:
        """{category: distinct phrases found (folded form)}, in category order."""
        text = fold(f"{msg.subject}\n{msg.text[: self.settings.max_chars]}")
        found: dict[str, list[str]] = {}
        for category in CATEGORIES:
            pattern = self._patterns.get(category)
            if pattern is None:
                continue
            phrases = list(dict.fromkeys(m.group(0).strip() for m in pattern.finditer(text)))
            if phrases:
                found[category] = phrases
        return found

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        cues = self.cues(msg)
        findings = [
            Finding(
                symbol=CATEGORIES[category][0],
                explanation=f"The message {CATEGORIES[category][2]} ({_quoted(phrases)}).",
                evidence=tuple(phrases),
                detector=self.name,
            )
            for category, phrases in cues.items()
        ]
        if len(cues) >= 2:
            parts = [f"{CATEGORIES[c][2]} ({_quoted(p[:1])})" for c, p in cues.items()]
            joined = ", ".join(parts[:-1]) + " and " + parts[-1]
            findings.append(
                Finding(
                    symbol="LURE_COMBINED",
                    explanation=f"The message {joined}.",
                    evidence=tuple(CATEGORIES[c][0] for c in cues),
                    detector=self.name,
                )
            )
        return findings
