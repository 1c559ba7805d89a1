"""What identity a message claims: brands named where a reader looks, and the sender's name.

A claim has a place, strongest first: the From display name, the subject, what links and
images say (anchor text, alt text), then the body text. A brand named only in the body is a
weak claim ("pay with PayPal" is common in real mail); in the display name it is the claim.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from mailward.data.brands import Claim as BrandClaim
from mailward.identity._brands import Brand, BrandLookup
from mailward.model import ParsedMessage

#: Where a claim was made, and how much it counts (1 = the display name). "links" is the text
#: of a link that itself goes somewhere else than the brand (a footer's "Facebook" link to
#: facebook.com or through a sending service's tracker claims nothing); "images" the alt text
#: of images (payment-method logos in a shop's footer are common: weak).
PLACES: dict[str, float] = {
    "display-name": 1.0, "subject": 0.6, "links": 0.4, "images": 0.4, "body": 0.4,
}  # fmt: skip
#: Characters of body text searched for brand names.
BODY_CHARS = 6_000
#: ``\balt\s*=\s*(?:"([^"]{1,200})"|'([^']{1,200})')`` with IGNORECASE, written so that the
#: regex engine skips ahead to each "a"/"A" instead of trying the pattern at every character:
#: the first letter is consumed, then ``(?<!\w[aA])`` is the word boundary before it; only
#: "A" folds to "a", "L" to "l", "T" to "t", so the cases spelled out are IGNORECASE's.
_ALT = re.compile(r"""[aA](?<!\w[aA])[lL][tT]\s*=\s*(?:"([^"]{1,200})"|'([^']{1,200})')""")
_WORD = re.compile(r"[^\W_]+")
_MAX_ALTS = 50
#: Characters of HTML searched for alt texts.
_ALT_CHARS = 200_000


@dataclass(frozen=True, slots=True)
class Claim:
    """A brand the message claims to be from, the strongest place it does, and the words."""

    brand: Brand
    place: str
    said: str

    @property
    def strength(self) -> float:
        return PLACES[self.place]


#: Combining accents and invisible format characters (soft hyphen, zero-width and bidi marks).
_UNSEEN = re.compile(
    "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
    "\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)


def fold(text: str) -> str:
    """Lower case without accents or invisible characters: how a reader would compare names."""
    if text.isascii():
        return text.casefold()
    return _UNSEEN.sub("", unicodedata.normalize("NFKD", text)).casefold()


def alt_texts(html_text: str) -> list[str]:
    """The alt texts of the images in ``html_text`` (what a reader sees for a logo).

    The matches of :data:`_ALT` in the first 200,000 characters, as :func:`alt_texts_by_regex`
    finds them. In ASCII HTML they are tried only where "alt" stands in any case: the regex
    engine tries ``[aA]`` at every character and the pattern at every "a", while a lower-case
    copy and ``str.find`` skip to the few "alt"s (an ASCII copy keeps every position, and only
    "A", "L" and "T" lower to "a", "l" and "t"). Non-ASCII HTML: the regex (lower-casing it
    costs more than the regex).
    """
    if not html_text.isascii():
        return alt_texts_by_regex(html_text)
    low = html_text[:_ALT_CHARS].lower()
    out: list[str] = []
    pos = 0
    while True:
        at = low.find("alt", pos)
        if at < 0:
            break
        # finditer's next match: the leftmost at or after ``pos``; each starts at an "alt"
        match = _ALT.match(html_text, at, _ALT_CHARS)
        if match is None:
            pos = at + 1
            continue
        out.append(html.unescape(match.group(1) or match.group(2) or ""))
        if len(out) >= _MAX_ALTS:
            break
        pos = match.end()
    return out


def alt_texts_by_regex(html_text: str) -> list[str]:
    """:func:`alt_texts` by the regex alone (the plain way)."""
    out = []
    # endpos instead of a slice: no copy of a long HTML part (the pattern looks no further
    # ahead than the text it matches, so the matches are the slice's)
    for match in _ALT.finditer(html_text, 0, _ALT_CHARS):
        out.append(html.unescape(match.group(1) or match.group(2) or ""))
        if len(out) >= _MAX_ALTS:
            break
    return out


def brand_claims(msg: ParsedMessage, brands: BrandLookup) -> list[Claim]:
    """Every brand the message claims, once each, at the strongest place it is claimed."""
    display = msg.from_[0].display_name if msg.from_ else ""
    places: list[tuple[str, Iterable[str]]] = [
        ("display-name", [display]),
        ("links", []),
        ("subject", [msg.subject]),
        ("images", alt_texts(msg.html)),
        ("body", [msg.text[:BODY_CHARS]]),
    ]
    found: dict[str, Claim] = {}
    for place, texts in places:
        for text in texts:
            if not text:
                continue
            for brand, said in brands.find_claims(text, sender_name=place == "display-name"):
                if said in brand.strict_names and looks_like_a_person(text, said):
                    continue
                found.setdefault(brand.id, Claim(brand, place, said))
        if place == "links":
            for claim in _link_claims(msg, brands):
                found.setdefault(claim.brand.id, claim)
    return sorted(found.values(), key=lambda c: -c.strength)


#: Words that make a display name a service's, not a person's ("Dell Support", "Bell Billing").
_SERVICE_WORDS = frozenset("""
    support team service services customer customers care account accounts security billing
    notification notifications notice alert alerts info information online official help
    helpdesk noreply no-reply mail email admin administrator center centre department inc ltd
    llc gmbh corp bank banking card cards delivery parcel express shipping update updates
    verification verify club rewards premium member members store shop app
    kundenservice kundendienst sicherheit konto service-client compte sécurité cliente
    atendimento conta segurança soporte cuenta seguridad klantenservice rekening beveiliging
""".split())  # noqa: SIM905  # fmt: skip


def looks_like_a_person(display_name: str, said: str) -> bool:
    """True when a brand's strict name ("Rogers", "Dell", "Max") only stands in a display
    name that reads as a person's ("James Rogers", "Quinn, Dell"): a surname, not a claim."""
    words = [w for w in _WORD.findall(fold(display_name)) if w]
    if not words or " ".join(words) == fold(said):
        return False
    return not _SERVICE_WORDS.intersection(words) and len(words) <= 4


_VIA = re.compile(r"\bvia\b", re.IGNORECASE)
_SYMBOLS = re.compile(r"[0-9$|/!#%*]")


def reads_as_an_organisation(display_name: str) -> bool:
    """True when a display name reads as an organisation's or a service's rather than a
    person's: a service word ("Support", "Alerts"), digits or symbols, pictographs, five or
    more words, or shouting in capitals ("ETHER GET"). A list's rewritten "'Jane' via list"
    is a person's."""
    name = display_name.strip().strip("\"'")
    if not name or _VIA.search(name):
        return False
    words = _WORD.findall(fold(name))
    if not words or _SERVICE_WORDS.intersection(words) or len(words) >= 5:
        return True
    if _SYMBOLS.search(name) or any(ord(c) > 0x2000 for c in name):
        return True
    raw = [w for w in _WORD.findall(name) if len(w) > 1]
    return len(raw) >= 2 and all(w.isupper() for w in raw)


def _link_claims(msg: ParsedMessage, brands: BrandLookup) -> list[Claim]:
    """Brands named by a link's text while that link goes elsewhere (not through a tracker)."""
    out = []
    # a link text is often repeated ("Shop now", a brand's name in header and footer): each
    # distinct text is looked up once
    named: dict[str, list[BrandClaim]] = {}
    for url in msg.urls[:100]:
        if not url.anchor_text or brands.is_esp(url.domain):
            continue
        found = named.get(url.anchor_text)
        if found is None:
            found = named[url.anchor_text] = brands.find_claims(url.anchor_text)
        for brand, said in found:
            if not brands.owns(brand, url.host, role="link"):
                out.append(Claim(brand, "links", said))
    return out


def name_matches_domain(display_name: str, org_domain: str) -> bool:
    """True when a display name spells the sender's own domain ("Made in Market" for
    madeinmarket.eu, "GitHub" for github.com): the name claims no one else."""
    label = org_domain.split(".", 1)[0].replace("-", "")
    if len(label) < 3:
        return False
    words = [w for w in _WORD.findall(fold(display_name)) if w]
    joined = "".join(words)
    if label in joined:
        return True
    # an acronym of the name ("Deutsche Bahn" -> db) is too loose; only whole spellings count
    return any(label == w or (len(w) >= 4 and w in label) for w in words)
