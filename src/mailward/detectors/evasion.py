"""Text written for the filter, not the reader: styled look-alike letters and off-screen text.

A sender who wants to be read writes letters and puts them on screen. Two tricks do the opposite,
and both are structure, not wording: words spelt with Unicode's styled look-alike letters
(mathematical bold or italic, small capitals, circled or squared letters) read the same to a
person but are no longer the words a filter knows; and text pushed tens of thousands of pixels
below the visible page is there only for a filter to read (a borrowed newsletter that makes a
lure look like ordinary mail). Either is a finding independent of the content model's reading
of the words, so it corroborates it.

Detects
  - at least ``min_styled_letters`` styled letters (Mathematical Alphanumeric Symbols
    U+1D400-U+1D7FF, the small capitals of the phonetic blocks, circled and squared Latin
    letters) in the subject or a From display name; fullwidth forms are left alone (ordinary
    in East Asian mail);
  - HTML whose CSS moves or stretches content by at least ``min_offscreen_px`` pixels
    (``margin-top``, ``padding-top``, ``top``, ``height``, ``line-height``...) or 1,000 viewport
    heights (``vh``).

  - a brand name (the brand registry, :mod:`mailward.data.brands`, with the operator's
    ``[brands] file``) in the subject or a From
    display name that appears only once a capital I standing for a lower-case l is read as one
    ("Trust WaIIet", "Iedger", "PaypaI"): the name is spelt so that it reads as the brand to a
    person but matches no brand check.

Symbols (group "evasion")
  LURE_STYLED_LETTERS     2.5  subject or sender name spelt in styled look-alike letters
  HTML_OFFSCREEN_TEXT     3    HTML pushes content far outside the visible page
  LURE_BRAND_LOOKALIKE    4    a brand name spelt with I for l in the subject or sender name

Settings ``[detectors.evasion]``
  min_styled_letters  styled letters needed in the subject or a display name (default 3)
  min_offscreen_px    CSS length, in pixels, that counts as off screen (default 10,000)
  max_html_chars      most characters of HTML searched (default 2,000,000)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import ClassVar

from pydantic import Field

from mailward.data import brands as brand_data
from mailward.detectors._flat_html import flat_html
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Finding, ParsedMessage

_GROUP = "evasion"
#: Styled Latin letters and digits: mathematical alphanumerics, small capitals, circled and
#: squared letters.
_STYLED = re.compile(
    "[\U0001d400-\U0001d7ff\u1d00-\u1d22\u0299\u029c\u026a\u0274\u0280\u028f\u0262\u029f"
    "\u24b6-\u24e9\U0001f130-\U0001f189]"
)
#: A long CSS length; the property it belongs to is read from the text just before it.
#: The matches of ``(\d{4,})(?:\.\d+)?\s*(px|vh)``: what follows the digits is never a digit,
#: so a match takes a whole run of digits (possessive ``{3,}+``) and starts where the run does
#: (``(?<!\d\d)`` after its first digit); starting with a digit lets the regex engine skip
#: ahead to the next digit instead of trying the pattern at every character.
_LONG_LENGTH = re.compile(r"(\d(?<!\d\d)\d{3,}+)(?:\.\d+)?\s*(px|vh)", re.IGNORECASE)
_OFFSCREEN_PROPERTY = re.compile(
    r"(?:(?:margin|padding)(?:-(?:top|bottom))?|(?<![-\w])(?:top|height|min-height|line-height))"
    r"\s*:\s*$",
    re.IGNORECASE,
)
_MIN_VH = 1000
#: What a :data:`_LONG_LENGTH` match is in ASCII HTML flattened by
#: :func:`~mailward.detectors._flat_html.flat_html` (digits read as 0, letters lower-cased,
#: white space as a space): its last four digits, then the rest.
_FLAT_LONG_LENGTH = re.compile(rb"0000(?:\.0+)? *(?:px|vh)")
#: What a :data:`_LONG_LENGTH` match is in flattened non-ASCII HTML (every non-ASCII byte read
#: as 0x80: it may be part of a digit or a white space of another script; px and vh have no
#: non-ASCII case variants) read backwards from its unit: "xp" or "hv", then spaces, zeros
#: and dots up to either four zeros (a match of ASCII characters) or the last byte of the
#: non-ASCII character nearest the unit. Each starts with a two-byte literal, which the regex
#: engine looks for without trying the pattern at every byte.
_WIDE_LENGTHS_REVERSED = (
    re.compile(rb"xp[ 0.]*(?:\x80|0000)"),
    re.compile(rb"hv[ 0.]*(?:\x80|0000)"),
)
#: The digits, dots, spaces and non-ASCII characters before a unit, read backwards.
_REGION_REVERSED = re.compile(rb"[ 0.\x80]*+")
#: A capital I after a lower-case letter, or before lower-case letters: an l in disguise.
_I_FOR_L = re.compile(r"(?<=[a-z])I|I(?=I*[a-z])")


class EvasionSettings(DetectorSettings):
    """Options of the evasion detector."""

    min_styled_letters: int = Field(default=3, ge=1)
    min_offscreen_px: int = Field(default=10_000, ge=1000)
    max_html_chars: int = Field(default=2_000_000, ge=1000)


def _may_hold_length(html: str) -> bool:
    """False only where :data:`_LONG_LENGTH` cannot match: ASCII HTML whose flattened form
    (one C pass over its bytes) has no four digits before px or vh, searched for as a literal
    rather than by trying the pattern at every digit (HTML has about one digit in fourteen).
    Non-ASCII HTML (over half of the HTML bodies) is read by :func:`_may_hold_wide_length`."""
    if not html.isascii():
        return _may_hold_wide_length(html)
    return _FLAT_LONG_LENGTH.search(flat_html(html)) is not None


def _may_hold_wide_length(html: str) -> bool:
    """:func:`_may_hold_length` for HTML with non-ASCII characters: its flattened bytes
    reversed, so that the search starts from the unit (a rare two-byte literal) rather than
    from a digit or a non-ASCII byte (Cyrillic or Greek HTML is mostly non-ASCII bytes)."""
    backwards = flat_html(html)[::-1]
    return any(rx.search(backwards) is not None for rx in _WIDE_LENGTHS_REVERSED)


def _length_windows(html: str) -> list[tuple[int, int]]:
    """Windows (character offsets, in order, apart) of ``html`` that hold every
    :data:`_LONG_LENGTH` match: one per unit that :data:`_WIDE_LENGTHS_REVERSED` finds, from
    the start of the run of digits, dots, spaces and non-ASCII characters before it (where a
    match can start, read from the flattened bytes) to the unit's end.

    A match lies inside its unit's window (what comes before its unit is digits, a dot and
    white space), and a window starts after the letters of the unit before it, so never
    inside an earlier match: the matches found window by window are the matches of the whole.
    """
    backwards = flat_html(html)[::-1]
    size = len(backwards)
    units = sorted(m.start() for rx in _WIDE_LENGTHS_REVERSED for m in rx.finditer(backwards))
    spans = []
    for unit in reversed(units):  # the last unit in the text is the first one backwards
        region = _REGION_REVERSED.match(backwards, unit + 2)
        spans.append((size - (region.end() if region else unit + 2), size - unit))
    return spans if html.isascii() else _char_spans(html, spans)


def _char_spans(html: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Byte offsets of ``html``'s UTF-8 form (each after an ASCII byte or 0, in order) as
    character offsets, decoding each stretch once."""
    data = html.encode("utf-8", "surrogatepass")
    out: list[tuple[int, int]] = []
    byte = char = 0
    for lo, hi in spans:
        char += len(data[byte:lo].decode("utf-8", "surrogatepass"))
        start = char
        char += len(data[lo:hi].decode("utf-8", "surrogatepass"))
        byte = hi
        out.append((start, char))
    return out


def offscreen_lengths(html: str, min_px: int) -> list[str]:
    """The CSS declarations in ``html`` that move content at least ``min_px`` pixels (or
    1,000 viewport heights) away.

    :data:`_LONG_LENGTH` is tried at every digit; HTML has about one in fourteen, so it is
    tried only in the few windows of :func:`_length_windows`, when there are any."""
    found: list[str] = []
    if not _may_hold_length(html):
        return found
    for lo, hi in _length_windows(html):
        for match in _LONG_LENGTH.finditer(html, lo, hi):
            limit = _MIN_VH if match.group(2).lower() == "vh" else min_px
            if int(match.group(1)) < limit:
                continue
            before = _OFFSCREEN_PROPERTY.search(html, max(0, match.start() - 40), match.start())
            if before is not None:
                found.append(before.group(0) + match.group(0))
    return found


def disguised_brands(
    text: str, registry: brand_data.BrandRegistry, *, sender_name: bool
) -> list[str]:
    """Brand names ``text`` shows only once each disguised l (a capital I) is read as an l."""
    plain = _I_FOR_L.sub("l", text)
    if plain == text:
        return []
    before = {c.brand.id for c in registry.find_claims(text, sender_name=sender_name)}
    claims = registry.find_claims(plain, sender_name=sender_name)
    return list(dict.fromkeys(c.brand.name for c in claims if c.brand.id not in before))


class EvasionDetector:
    """Styled look-alike letters in the subject or sender name; text placed off screen."""

    name: ClassVar[str] = "evasion"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "LURE_STYLED_LETTERS": SymbolSpec(
            2.5, _GROUP, "The subject or sender name is spelt in styled look-alike letters."
        ),
        "HTML_OFFSCREEN_TEXT": SymbolSpec(
            3.0, _GROUP, "The HTML pushes content far outside the visible page."
        ),
        "LURE_BRAND_LOOKALIKE": SymbolSpec(
            4.0, _GROUP, "A brand name is spelt with a capital I for an l."
        ),
    }
    timeout: ClassVar[float] = 2.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[EvasionSettings]] = EvasionSettings

    def __init__(self, settings: EvasionSettings | None = None) -> None:
        self.settings = settings or EvasionSettings()

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        findings: list[Finding] = []
        styled = [
            text for text in (msg.subject, *(a.display_name for a in msg.from_))
            if len(_STYLED.findall(text)) >= self.settings.min_styled_letters
        ]  # fmt: skip
        if styled:
            findings.append(Finding(
                "LURE_STYLED_LETTERS",
                "The subject or sender name is written in styled look-alike letters, which "
                "read as words to a person but not to a filter.",
                tuple(styled),
            ))  # fmt: skip
        registry = brand_data.registry_for(ctx.settings.brands.file)
        disguised = [
            f"{text!r} reads as {brand}"
            for text, sender in ((msg.subject, False), *((a.display_name, True) for a in msg.from_))
            for brand in disguised_brands(text, registry, sender_name=sender)
        ]
        if disguised:
            findings.append(Finding(
                "LURE_BRAND_LOOKALIKE",
                "A brand name is spelt with a capital I in place of an l, so that a person reads "
                "the brand but a brand check does not.",
                tuple(dict.fromkeys(disguised))[:5],
            ))  # fmt: skip
        html = msg.html[: self.settings.max_html_chars]
        lengths = offscreen_lengths(html, self.settings.min_offscreen_px) if html else []
        if lengths:
            findings.append(Finding(
                "HTML_OFFSCREEN_TEXT",
                "The HTML places content tens of thousands of pixels outside the visible page, "
                "where only a filter reads it.",
                tuple(dict.fromkeys(lengths))[:5],
            ))  # fmt: skip
        return findings
