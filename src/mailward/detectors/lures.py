"""Social-engineering cues in what a message says, in English, French, German, Portuguese, Spanish
and Dutch, and the text tricks scams use to slip past filters.

The subject and body text (the first ``max_chars`` characters) are folded: case-folded, accents
and other combining marks removed (NFKD), zero-width characters dropped, small capitals and
Cyrillic/Greek look-alike letters mapped to Latin, whitespace collapsed. The folded text is matched
against the phrase patterns of ``mailward/detectors/data/lures_<lang>.txt`` (one ``CATEGORY REGEX``
a line, each regex wrapped in word boundaries). Each category found raises its symbol once; the
explanation quotes what matched.

Speed: every pattern has literal "anchors" (derived from its parsed form, one of which any match
must contain). The anchors are looked up at each word start (a trie walk in the optional C
helper, else one Aho-Corasick pass); a pattern is then tried only in windows around its anchors.
Patterns without an anchor are tried on the whole text.

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
  LURE_ADDRESS_IN_SUBJECT 2  the subject carries the recipient's own e-mail address
                             ("jane@example.org, your mailbox is full"): a mail merge of bulk
                             mail; real services greet by name. Recipients are the envelope's,
                             or To/Cc when there is no envelope (`mailward scan`)

Settings ``[detectors.lures]``
  languages   which lures_<lang>.txt lists to use (default: en fr de pt es nl)
  max_chars   characters of body text read (default 20000)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import ClassVar

from pydantic import Field

from mailward.detectors._lure_phrases import CATEGORIES, LANGUAGES, PhraseMatcher, compiled, fold
from mailward.detectors._lure_tricks import mixed_script_words, money_bait, subject_tricks
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Finding, ParsedMessage

_GROUP = "lures"
_MAX_QUOTES = 3
#: symbols of the text tricks -> (default weight, description)
EXTRA_SYMBOLS: dict[str, tuple[float, str]] = {
    "LURE_MIXED_SCRIPT": (2.5, "A word of the subject or sender name mixes Latin with "
                          "look-alike Cyrillic or Greek letters."),
    "LURE_SUBJECT_OBFUSCATED": (2.0, "The subject disguises its words (joined by underscores or "
                                "dots, digits for letters, or a random token)."),
    "LURE_MONEY_BAIT": (2.5, "The message offers or sends a large sum of money to the reader."),
    "LURE_COMBINED": (2.0, "The message combines two or more kinds of social-engineering "
                      "pressure."),
    "LURE_ADDRESS_IN_SUBJECT": (2.0, "The subject carries the recipient's own address, as a "
                                "bulk mail merge does."),
}  # fmt: skip
def _address_in_subject(msg: ParsedMessage, ctx: ScanContext) -> list[Finding]:
    subject = msg.subject.lower()
    if "@" not in subject:
        return []
    if ctx.envelope is not None and ctx.envelope.rcpt_tos:
        rcpts = list(ctx.envelope.rcpt_tos)
    else:
        rcpts = [a.address for a in (*msg.to, *msg.cc)]
    shown = [r for r in rcpts if r and "@" in r and r.lower() in subject]
    if not shown:
        return []
    return [
        _finding(
            "LURE_ADDRESS_IN_SUBJECT",
            f"The subject carries the recipient's own address ({_quoted(shown[:1])}), as bulk "
            "mail merges do; real services greet people by name.",
            shown[:1],
        )
    ]


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

    @functools.cached_property
    def _matcher(self) -> PhraseMatcher:
        """The languages' phrases, compiled on first use or by :meth:`prepare` (about a
        second, then shared in the process by ``compiled``'s cache). An Engine prepares its
        detectors when it is built, except the gateway's IsolatedEngine, whose detectors only
        check their settings (its scan processes build and prepare their own)."""
        return compiled(tuple(self.settings.languages))

    def prepare(self) -> None:
        """Compile the phrases now (an Engine calls it when it is built)."""
        _ = self._matcher

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
        findings.extend(_address_in_subject(msg, ctx))
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
