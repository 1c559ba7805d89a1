"""Lookalike domains: names made to be read as a protected domain or brand.

A library for the detectors (no detector class here). Techniques, after dnstwist's permutations:

  homoglyph       ASCII letters that read alike ("examp1e", "exarnple", "vvells", "cl" for "d")
  punycode        an IDN (``xn--``) whose Unicode letters look like the protected name
  tld-swap        the same name under another suffix ("example.co" for "example.com")
  hyphenation     hyphens added or removed ("pay-pal.com")
  added-word      the name plus a word ("paypal-secure.com", "secure-paypal.com", "paypalsupport")
  edit-distance   Damerau-Levenshtein distance 1 for names of 5+ letters, 2 for 10+ letters
  subdomain-brand the whole protected domain inside another domain's host ("paypal.com.evil.xyz")

Names shorter than 5 letters are only checked for homoglyphs (4+ letters), TLD swaps and
punycode: three- and four-letter registrable names one edit apart ("ibm"/"ibn") are mostly
unrelated real organisations, so reporting them would be noise.

Public API: :class:`LookalikeMatch`, :func:`find_lookalike`, :func:`brand_in_host`,
:func:`load_wordlist`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources

from confusable_homoglyphs import confusables

from mailward.detectors._domains import host_parts
from mailward.detectors._edits import (
    damerau_levenshtein,
    deletions,
    difference,
    is_typo,
    within,
)
from mailward.mime.urls import host_to_ascii, registrable_domain

__all__ = ["LookalikeMatch", "brand_in_host", "find_lookalike", "load_wordlist"]

#: Multi-letter ASCII confusions, applied before the single-character map.
_ASCII_PAIRS = (("rn", "m"), ("vv", "w"), ("cl", "d"))
#: Single characters folded to the letter they are read as.
_ASCII_FOLD = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l", "5": "s", "$": "s"})
_WORDLIST_NAME = re.compile(r"[a-z0-9_-]+")
_MIN_EDIT = 5
_MIN_EDIT2 = 10
_MIN_HOMOGLYPH = 4
#: Suffixes a brand's name is squatted under as a typo of ".com"; other suffixes are often the
#: brand's own or an unrelated organisation (slack.net, orange.net).
_TYPO_TLDS = frozenset({"co", "cm", "om", "ne", "cam", "con", "comm"})


@dataclass(frozen=True)
class LookalikeMatch:
    """``domain`` looks like the protected registrable domain ``protected``.

    ``technique`` names how (see the module docstring), ``distance`` is the Damerau-Levenshtein
    distance between the two names, ``detail`` a short human phrase ('a "1" in place of "l"').
    """

    domain: str
    protected: str
    technique: str
    distance: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class _Name:
    """A registrable domain split for comparison."""

    domain: str  # registrable, ASCII
    name: str  # the label under the public suffix, ASCII (xn-- form for an IDN)
    suffix: str
    unicode_name: str
    skeleton: str


def load_wordlist(name: str) -> frozenset[str]:
    """Entries of the shipped ``data/<name>.txt``: lower-cased, comments (#) and blanks dropped."""
    if not _WORDLIST_NAME.fullmatch(name):
        raise ValueError(f"not a word-list name: {name!r}")
    return _load_wordlist(name)


@functools.cache
def _load_wordlist(name: str) -> frozenset[str]:
    text = resources.files("mailward.detectors").joinpath("data", f"{name}.txt").read_text("utf-8")
    entries = (line.split("#", 1)[0].strip().lower() for line in text.splitlines())
    return frozenset(e for e in entries if e)


@functools.lru_cache(maxsize=4096)
def _char_skeleton(char: str) -> str:
    """The ASCII letter a non-ASCII character is read as, or the character itself."""
    folded = unicodedata.normalize("NFKD", char)
    base = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    if base.isascii() and base:
        return base
    found = confusables.is_confusable(char, preferred_aliases=["latin"], greedy=True)
    for entry in found or ():
        for glyph in entry["homoglyphs"]:
            candidate = str(glyph["c"]).lower()
            if len(candidate) == 1 and candidate.isascii() and candidate.isalnum():
                return candidate
    return char


@functools.lru_cache(maxsize=8192)
def skeleton(name: str) -> str:
    """``name`` as it reads: Unicode confusables to ASCII, then common ASCII confusions folded."""
    text = "".join(_char_skeleton(c) if not c.isascii() else c for c in name.lower())
    text = text.translate(_ASCII_FOLD)
    for pair, single in _ASCII_PAIRS:
        text = text.replace(pair.translate(_ASCII_FOLD), single)
    return text


def _to_unicode(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:
        return label


@functools.lru_cache(maxsize=8192)
def _split(host: str) -> tuple[str, _Name] | None:
    """(subdomain, registrable name parts) of ``host``, or None without a public suffix."""
    subdomain, name, suffix = host_parts(host_to_ascii(host))
    if not name or not suffix:
        return None
    unicode_name = _to_unicode(name)
    return subdomain, _Name(
        domain=f"{name}.{suffix}",
        name=name,
        suffix=suffix,
        unicode_name=unicode_name,
        skeleton=skeleton(unicode_name),
    )


@dataclass(frozen=True, slots=True)
class _Index:
    """Protected domains split once, with tables that name the few worth comparing to a host.

    ``exact`` maps each name, hyphen-free name, skeleton and domain to positions in ``names``;
    ``near1`` each 5-9-letter name less at most one letter, ``near2`` each longer name less at
    most two (two strings within k edits share a string left after k deletions from each).
    """

    names: tuple[_Name, ...]  # ".com" first, so ties name the best-known domain
    domains: frozenset[str]
    exact: dict[str, tuple[int, ...]]
    near1: dict[str, tuple[int, ...]]
    near2: dict[str, tuple[int, ...]]
    long_lengths: frozenset[int]
    longest: int


def _table(pairs: Iterable[tuple[str, int]]) -> dict[str, tuple[int, ...]]:
    table: dict[str, list[int]] = {}
    for key, at in pairs:
        if at not in table.setdefault(key, []):
            table[key].append(at)
    return {key: tuple(ats) for key, ats in table.items()}


@functools.lru_cache(maxsize=64)
def _index(protected: frozenset[str]) -> _Index:
    """The protected domains split once and tabled for :func:`_candidates`."""
    splits = (_split(p) for p in sorted(protected, key=lambda d: (not d.endswith(".com"), d)))
    names = tuple(n[1] for n in splits if n is not None)
    keys = ((p.name, p.name.replace("-", ""), p.skeleton, p.domain) for p in names)
    short = [(p, at) for at, p in enumerate(names) if _MIN_EDIT <= len(p.name) < _MIN_EDIT2]
    long = [(p, at) for at, p in enumerate(names) if len(p.name) >= _MIN_EDIT2]
    return _Index(
        names=names,
        domains=frozenset(p.domain for p in names),
        exact=_table((key, at) for at, four in enumerate(keys) for key in four),
        near1=_table((d, at) for p, at in short for d in deletions(p.name, 1)),
        near2=_table((d, at) for p, at in long for d in deletions(p.name, 2)),
        long_lengths=frozenset(len(p.name) for p, _ in long),
        longest=max((len(p.name) for p in names), default=0),
    )


def _affixes(flat: str, longest: int) -> list[str]:
    """Prefixes and suffixes of ``flat`` of 4 to ``longest`` letters (added-word names)."""
    sizes = range(_MIN_HOMOGLYPH, min(len(flat), longest) + 1)
    return [part for size in sizes for part in (flat[:size], flat[-size:])]


def _boundary_slices(host: str) -> Iterator[str]:
    """Every part of ``host`` that starts and ends at a "." or "-" (subdomain-brand)."""
    cuts = [i for i, c in enumerate(host) if c in ".-"]
    for start in [0, *(i + 1 for i in cuts)]:
        yield from (host[start:end] for end in cuts if end > start)


def _candidates(index: _Index, host: str, cand: _Name, flat: str) -> list[int]:
    """Positions of the protected names any technique could match, in index order: a
    superset of those for which :func:`_compare` or :func:`_subdomain_brand` finds a match."""
    keys = {cand.name, flat, cand.skeleton, *cand.name.split("-")}
    keys.update(_affixes(flat, index.longest))
    keys.update(_boundary_slices(host))
    # the tables' keys met by a set intersection (a C loop over the strings), then only the
    # few keys found are read: most of the ~100 strings of a host are in no table
    found: set[int] = set()
    for key in index.exact.keys() & keys:
        found.update(index.exact[key])
    size = len(cand.name)
    if size <= _MIN_EDIT2:
        for key in index.near1.keys() & deletions(cand.name, 1):
            found.update(index.near1[key])
    if any(abs(size - n) <= 2 for n in index.long_lengths):
        for key in index.near2.keys() & deletions(cand.name, 2):
            found.update(index.near2[key])
    return sorted(found)


@functools.cache
def _added_words() -> frozenset[str]:
    return load_wordlist("added_words")


def _has_added_word(cand: str, name: str) -> bool:
    if len(name) < _MIN_HOMOGLYPH or cand == name:
        return False
    if name in cand.split("-"):
        return True
    flat = cand.replace("-", "")
    # A brand glued to a listed word counts ("paypalsupport"), to any other word not
    # ("applebees"); a brand set apart by a hyphen counts with any word.
    words = _added_words()
    if flat.startswith(name):
        return flat[len(name) :] in words
    if flat.endswith(name):
        return flat[: -len(name)] in words
    return False


def _strict_ok(found: LookalikeMatch, cand: _Name, prot: _Name) -> bool:
    """Strict mode (brand lists): a TLD swap only to a typo TLD, edits only keystroke slips."""
    if found.technique == "tld-swap":
        return cand.suffix in _TYPO_TLDS
    if found.technique == "edit-distance" and found.distance == 1:
        return is_typo(cand.name, prot.name)
    return True


def _compare(cand: _Name, prot: _Name) -> LookalikeMatch | None:
    """How ``cand`` imitates ``prot`` (most specific technique first), or None."""

    def match(technique: str, detail: str = "", distance: int | None = None) -> LookalikeMatch:
        if distance is None:
            distance = damerau_levenshtein(cand.name, prot.name)
        return LookalikeMatch(cand.domain, prot.domain, technique, distance, detail)

    if cand.unicode_name != cand.name and cand.skeleton == prot.skeleton:
        odd = next((c for c in cand.unicode_name if not c.isascii()), "")
        script = unicodedata.name(odd, "UNICODE").split(" ")[0].title() if odd else "Unicode"
        return match("punycode", f'a {script} "{odd}" among Latin letters')
    if cand.name == prot.name:
        return match("tld-swap", f'".{cand.suffix}" in place of ".{prot.suffix}"', 0)
    long_enough = len(prot.name) >= _MIN_HOMOGLYPH
    if long_enough and cand.skeleton == prot.skeleton and cand.name.isascii():
        return match("homoglyph", difference(cand.name, prot.name))
    if cand.name.replace("-", "") == prot.name.replace("-", ""):
        return match("hyphenation", difference(cand.name, prot.name))
    if _has_added_word(cand.name, prot.name):
        return match("added-word", f'"{prot.name}" with another word added')
    limit = 2 if len(prot.name) >= _MIN_EDIT2 else 1 if len(prot.name) >= _MIN_EDIT else 0
    distance = within(cand.name, prot.name, limit)
    if distance:
        return match("edit-distance", difference(cand.name, prot.name), distance)
    return None


def _subdomain_brand(host: str, cand: _Name, prot: _Name) -> LookalikeMatch | None:
    """``prot``'s whole domain written as labels of another domain's host."""
    at = host.find(prot.domain)
    while at >= 0:
        end = at + len(prot.domain)
        if (at == 0 or host[at - 1] in ".-") and end < len(host) and host[end] in ".-":
            return LookalikeMatch(
                cand.domain,
                prot.domain,
                "subdomain-brand",
                damerau_levenshtein(cand.name, prot.name),
                f'"{prot.domain}" written in front of {cand.domain}',
            )
        at = host.find(prot.domain, at + 1)
    return None


_TECHNIQUES = ("punycode", "homoglyph", "tld-swap", "hyphenation", "added-word", "subdomain-brand")


def _rank(match: LookalikeMatch) -> tuple[int, int]:
    """Most telling technique first (edit distance last), then the smallest distance."""
    order = _TECHNIQUES.index(match.technique) if match.technique in _TECHNIQUES else 99
    return order, match.distance


def _may_match(host: str, cand: _Name, flat: str, prot: _Name) -> bool:
    """A cheap, exact pre-filter: False only where no technique of _compare and
    _subdomain_brand can match (edit distance <= 2 needs lengths within 2; homoglyphs and
    punycode need equal skeletons; hyphenation and added words contain the name)."""
    return (
        abs(len(cand.name) - len(prot.name)) <= 2
        or cand.skeleton == prot.skeleton
        or prot.name.replace("-", "") in flat
        or prot.domain in host
    )


@functools.lru_cache(maxsize=4096)
def _find(host: str, protected: frozenset[str], strict: bool) -> LookalikeMatch | None:
    split = _split(host)
    if split is None:
        return None
    cand = split[1]
    index = _index(protected)
    if cand.domain in index.domains:
        return None
    best: LookalikeMatch | None = None
    flat = cand.name.replace("-", "")
    for at in _candidates(index, host, cand, flat):
        prot = index.names[at]
        if not _may_match(host, cand, flat, prot):
            continue
        found = _compare(cand, prot) or _subdomain_brand(host, cand, prot)
        if found is not None and strict and not _strict_ok(found, cand, prot):
            continue
        if found is not None and (best is None or _rank(found) < _rank(best)):
            best = found
    return best


def find_lookalike(
    domain: str, protected: Iterable[str], *, strict: bool = False
) -> LookalikeMatch | None:
    """How ``domain`` (a host or registrable domain, ASCII, ``xn--`` or Unicode) imitates one of
    the ``protected`` registrable domains, or None.

    The same registrable domain (or a subdomain of it) is not a lookalike. When several protected
    domains match, the most telling technique wins (edit distance last), then the smallest
    name distance.

    ``strict`` (for long lists of brands, whose names are often ordinary words): a TLD swap counts
    only to a typo TLD (".co", ".cm"...), and one edit only as a keystroke slip (a letter
    dropped, doubled or swapped, or a neighbouring key), so "cooking.com" is not "booking.com".
    """
    host = host_to_ascii(domain)
    given = protected if isinstance(protected, frozenset) else frozenset(protected)
    # RFC 2606's example domains belong to no one: one is never a lookalike of another.
    documentation = registrable_domain(host) in DOCUMENTATION_DOMAINS
    return _find(host, _targets(given, documentation), strict)


@functools.lru_cache(maxsize=64)
def _targets(protected: frozenset[str], documentation: bool) -> frozenset[str]:
    """``protected`` in ASCII, less the documentation domains when ``documentation``."""
    targets = frozenset(host_to_ascii(p) for p in protected)
    return targets - DOCUMENTATION_DOMAINS if documentation else targets


#: RFC 2606 / RFC 6761 documentation domains, used by defaults, tests and sample data.
DOCUMENTATION_DOMAINS = frozenset({"example.com", "example.net", "example.org"})


@functools.lru_cache(maxsize=64)
def _brand_names(
    brands: frozenset[str],
) -> tuple[tuple[tuple[str, str], ...], dict[str, list[int]]]:
    """(brand, name) pairs of 4+-letter names in brand order, and each name's positions."""
    out: list[tuple[str, str]] = []
    for brand in sorted(brands):
        split = _split(brand) if "." in brand else None
        name = split[1].name if split is not None else brand.lower()
        if len(name) >= _MIN_HOMOGLYPH:
            out.append((brand, name))
    positions: dict[str, list[int]] = {}
    for at, (_, name) in enumerate(out):
        positions.setdefault(name, []).append(at)
    return tuple(out), positions


@functools.lru_cache(maxsize=4096)
def _brand_in_host(host: str, brands: frozenset[str]) -> str | None:
    split = _split(host)
    if split is None:
        return None
    subdomain, cand = split
    tokens = set(re.split(r"[.-]", subdomain)) | set(cand.name.split("-"))
    labels = subdomain.split(".")
    pairs, positions = _brand_names(brands)
    # A brand can only match as a token or as a prefix or suffix of a hyphen-free label.
    keys = set(tokens)
    for label in (cand.name, *labels):
        keys.update(_affixes(label.replace("-", ""), len(label)))
    for at in sorted(at for key in positions.keys() & keys for at in positions[key]):
        brand, name = pairs[at]
        if cand.name == name:
            continue
        if name in tokens or _has_added_word(cand.name, name):
            return brand
        if any(_has_added_word(label, name) for label in labels):
            return brand
    return None


@functools.lru_cache(maxsize=64)
def _brand_set(brands: frozenset[str]) -> frozenset[str]:
    return frozenset(b.strip().lower() for b in brands)


def brand_in_host(host: str, brands: Iterable[str]) -> str | None:
    """The brand (as given: a name like "paypal" or a domain like "paypal.com") that ``host``
    shows outside the brand's own registrable domain, or None.

    "paypal.com-secure-login.xyz", "paypal.account-check.xyz" and "secure-paypal.xyz" show
    "paypal"; "www.paypal.com" and "paypal.de" (the brand's own name as the registrable name) do
    not. Brand names shorter than 4 letters are ignored ("hp" is in too many words).
    """
    given = brands if isinstance(brands, frozenset) else frozenset(brands)
    return _brand_in_host(host_to_ascii(host), _brand_set(given))
