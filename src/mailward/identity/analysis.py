"""Claimed identity against evidence: does the message show who it says it is?

A message *claims* an identity: brands in its display name, subject, link and image text and
body (:mod:`mailward.identity._claims`), and the name of its sender. It *shows evidence*:

- the From address's organisational domain (forgeable on its own, so it counts fully only
  with an authentication result that proves it);
- when DNS is on, the DKIM signatures that verified (``header.d``) and the DMARC result for
  the From domain, read from the authentication results of the auth detector;
- the envelope sender (Return-Path);
- where the links go: their organisational domains, with the links of e-mail service
  providers and click trackers followed to the destination they carry when it can be read.

A claimed brand is *supported* when the From domain, a verified DKIM domain or the envelope
sender is one of the brand's, or, for a sender that is not the brand, when the links go to the
brand and nowhere unrelated (a list or a partner relaying the brand's own notifications).
The message is *consistent* when every claim is supported by the sender itself and its links
go only to the sender, the claimed brands, sending services or neutral places.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mailward.detectors._domains import find_domains, registrable_domain
from mailward.detectors._linkchecks import redirect_destination
from mailward.detectors.lookalike import load_wordlist
from mailward.identity._brands import Brand, BrandLookup
from mailward.identity._claims import (
    Claim,
    brand_claims,
    name_matches_domain,
    reads_as_an_organisation,
)
from mailward.model import ParsedMessage

#: Link destinations that support no one and accuse no one: social profiles of a footer,
#: standards bodies, app stores. A link there is neither the sender's nor unrelated.
#: Not here: hosts of anyone's content (google.com's Forms and Sites, cloud storage), which
#: phishing uses as much as anyone.
NEUTRAL_DOMAINS = frozenset({
    "facebook.com", "twitter.com", "x.com", "instagram.com", "linkedin.com", "youtube.com",
    "pinterest.com", "tiktok.com", "w3.org", "schema.org", "gravatar.com",
})  # fmt: skip
#: Hosts of app-store badges and maps, whose domains also host anyone's content.
NEUTRAL_HOSTS = frozenset({
    "play.google.com", "apps.apple.com", "itunes.apple.com", "maps.google.com",
    "www.google.com", "support.google.com", "policies.google.com",
})  # fmt: skip
#: Claims at least this strong (display name, subject) must be the sender's own for the
#: message to be consistent; weaker ones (a logo's alt text, a brand named in the body) are
#: common in real mail.
STRONG_CLAIM = 0.6
_SKIP_SCHEMES = frozenset({"mailto", "tel", "sms", "cid", "data"})
_DKIM_PASS = re.compile(r"^dkim=pass\b.*?\bheader\.[di]=@?([\w.-]+)", re.IGNORECASE)
_DMARC = re.compile(r"^dmarc=(\w+)\b.*?\bheader\.from=([\w.-]+)", re.IGNORECASE)
_SPF_PASS = re.compile(r"^spf=pass\b.*?\bsmtp\.mailfrom=(?:[^@\s;]*@)?([\w.-]+)", re.IGNORECASE)
_MAX_LINKS = 100


@dataclass(frozen=True, slots=True)
class AuthEvidence:
    """What the authentication results prove about the sender's domains."""

    dkim_orgs: frozenset[str] = frozenset()
    spf_org: str = ""
    #: DMARC result for the From domain: "pass", "fail", other RFC 8601 words, or "" unknown.
    dmarc: str = ""

    @classmethod
    def from_results(cls, results: Sequence[str]) -> AuthEvidence:
        dkim: set[str] = set()
        spf, dmarc = "", ""
        for line in results:
            if m := _DKIM_PASS.search(line):
                dkim.add(organisation_domain(m.group(1).lower()))
            elif m := _DMARC.search(line):
                dmarc = m.group(1).lower()
            elif m := _SPF_PASS.search(line):
                spf = organisation_domain(m.group(1).lower())
        return cls(frozenset(dkim), spf, dmarc)


#: :meth:`AuthEvidence.from_results` of no results (frozen: one is shared).
_NO_AUTH = AuthEvidence()


@dataclass(frozen=True, slots=True)
class BrandVerdict:
    """One claimed brand and what supports it."""

    claim: Claim
    #: "from", "dkim", "return-path", "links": evidence that the brand sent it.
    support: tuple[str, ...]
    #: Link destinations that are neither the brand's, the sender's nor neutral.
    foreign: tuple[str, ...]
    #: Some link goes to the brand's own site.
    to_brand: bool = False

    @property
    def supported(self) -> bool:
        return bool(self.support)


@dataclass(frozen=True, slots=True)
class IdentityReport:
    """The identity check of one message."""

    sender_org: str
    claims: tuple[BrandVerdict, ...]
    #: Organisational domains the links lead to (tracker links followed where readable).
    link_orgs: tuple[str, ...]
    #: Link destinations unrelated to the sender and its claims.
    foreign_orgs: tuple[str, ...]
    auth: AuthEvidence = field(default_factory=AuthEvidence)
    #: The From address's domain as written (lower case).
    sender_domain: str = ""
    #: The display name spells the sender's own domain (it claims no one else).
    name_is_sender: bool = False
    #: The display name is empty.
    no_name: bool = False
    #: The sender's domain is free webmail: anyone can have an address there.
    freemail: bool = False
    #: Some link goes to the sender's own domain (or to its brand's).
    links_to_sender: bool = False
    #: The message has no link at all (not even a neutral one).
    no_links: bool = False
    #: Replies go to another organisation than the sender's.
    reply_elsewhere: bool = False
    #: The display name shows an address or domain that is not the sender's.
    name_shows_other: bool = False
    #: The display name reads as an organisation's or a service's, not a person's.
    name_is_organisation: bool = False

    @property
    def unsupported(self) -> tuple[BrandVerdict, ...]:
        return tuple(v for v in self.claims if not v.supported)

    @property
    def proven(self) -> bool:
        """The From domain is proven by DKIM alignment or DMARC."""
        return self.auth.dmarc == "pass" or self.sender_org in self.auth.dkim_orgs

    @property
    def consistent(self) -> bool:
        """The sender names itself, a person or no one (not another organisation), every claim
        is its own, replies go to it, and
        its links (if it has any) go to it and stay with it. Free webmail senders are never
        consistent: the domain is not theirs."""
        if not self.sender_org or self.freemail or self.reply_elsewhere or self.name_shows_other:
            return False
        if not (self.links_to_sender or self.no_links):
            return False
        if self.foreign_orgs or self.auth.dmarc == "fail":
            return False
        own_claims = all(
            "from" in v.support or "dkim" in v.support
            for v in self.claims if v.claim.strength >= STRONG_CLAIM
        )
        names_itself = (
            self.name_is_sender or self.no_name or not self.name_is_organisation
            or any("from" in v.support and v.claim.place == "display-name" for v in self.claims)
        )
        return own_claims and names_itself

    def features(self) -> list[float]:
        """The outcome as numbers for the content model, in the order of FEATURE_NAMES:
        never a domain or a name, only how claims and evidence relate."""
        strongest = max((v.claim.strength for v in self.unsupported), default=0.0)
        return [
            1.0 if self.consistent else 0.0,
            strongest if strongest >= STRONG_CLAIM else 0.0,
            strongest if 0.0 < strongest < STRONG_CLAIM else 0.0,
            min(len(self.foreign_orgs), 3) / 3,
            1.0 if self.links_to_sender else 0.0,
            1.0 if self.name_is_sender else 0.0,
            1.0 if self.freemail else 0.0,
        ]


#: Names of :meth:`IdentityReport.features`.
FEATURE_NAMES = (
    "idv_consistent", "idv_unsupported_claim", "idv_unsupported_weak_claim",
    "idv_foreign_links", "idv_links_to_sender", "idv_name_is_sender", "idv_freemail",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Link:
    """Where one link leads: its host (a tracker's destination when readable) and that host's
    organisational domain; ``tracked`` when a sending service hides the destination."""

    host: str
    org: str
    tracked: bool = False


def organisation_domain(host: str) -> str:
    """The registrable domain of ``host``; for a name under no public suffix (RFC 2606 .example
    and .test, an internal .corp) its last two labels, so www.corp.example is corp.example."""
    found = registrable_domain(host)
    if found:
        return found
    labels = host.strip().rstrip(".").lower().split(".")
    return ".".join(labels[-2:])


def link_destinations(msg: ParsedMessage, brands: BrandLookup) -> list[Link]:
    """Where the links lead; a sending service's tracked link counts as its destination when
    readable, and as the service (neutral) otherwise. Mail, phone and data links, and the
    app-store and map hosts of NEUTRAL_HOSTS, are left out."""
    out: list[Link] = []
    for url in msg.urls[:_MAX_LINKS]:
        if url.scheme in _SKIP_SCHEMES or not url.domain or url.host in NEUTRAL_HOSTS:
            continue
        org = organisation_domain(url.host)
        onward = redirect_destination(url)
        if onward and organisation_domain(onward) != org:
            # a redirector (google.com/url, bing.com/ck/a) is not where the reader lands
            out.append(Link(onward, organisation_domain(onward)))
            continue
        if brands.is_esp(org):
            target = brands.esp_destination(url.url)
            host = (urlsplit(target).hostname or "") if target else ""
            if not host:
                out.append(Link(url.host, org, tracked=True))
                continue
            out.append(Link(host, organisation_domain(host)))
        else:
            out.append(Link(url.host, org))
    return out


@dataclass(frozen=True, slots=True)
class _ClaimFacts:
    """What the message alone says about one claim: whether the From domain is the brand's,
    the unrelated link destinations, and whether a link goes to the brand."""

    claim: Claim
    from_sender: bool
    foreign: tuple[str, ...]
    to_brand: bool


@dataclass(frozen=True, slots=True)
class _MessageFacts:
    """Everything of an analysis that needs only the message and the brands (not the
    authentication results or the envelope sender): computed once per message."""

    sender_domain: str
    sender_org: str
    claims: tuple[_ClaimFacts, ...]
    #: Links to neither the sender, a neutral place nor a hidden tracker (before the brands
    #: the evidence supports are taken out).
    elsewhere: tuple[Link, ...]
    link_orgs: tuple[str, ...]
    name_is_sender: bool
    no_name: bool
    freemail: bool
    links_to_sender: bool
    no_links: bool
    reply_elsewhere: bool
    name_shows_other: bool
    name_is_organisation: bool


#: The message-only part of the last few analyses, by message object: the content model's
#: features and the identity detector analyse the same message in one scan.
_RECENT: dict[int, tuple[ParsedMessage, BrandLookup, _MessageFacts]] = {}
_RECENT_MAX = 4


def _message_part(msg: ParsedMessage, brands: BrandLookup) -> _MessageFacts:
    """The facts of ``msg`` that need nothing but the message (kept for the last few)."""
    hit = _RECENT.get(id(msg))
    if hit is not None and hit[0] is msg and hit[1] is brands:
        return hit[2]
    facts = _message_facts(msg, brands)
    while len(_RECENT) >= _RECENT_MAX:
        _RECENT.pop(next(iter(_RECENT)), None)
    _RECENT[id(msg)] = (msg, brands, facts)
    return facts


def _message_facts(msg: ParsedMessage, brands: BrandLookup) -> _MessageFacts:
    """:class:`_MessageFacts` of ``msg``, worked out."""
    sender = msg.from_[0] if msg.from_ else None
    sender_domain = sender.domain if sender else ""
    sender_org = organisation_domain(sender_domain) if sender_domain else ""
    claims, links = brand_claims(msg, brands), link_destinations(msg, brands)
    sender_brand = brands.brand_for_domain(sender_org) if sender_org else None

    def own(link: Link) -> bool:
        """The link goes to the sender: its domain, or its brand's (not a hosting service)."""
        if brands.is_hosted(link.host):
            return False
        return link.org == sender_org or (
            sender_brand is not None and brands.owns(sender_brand, link.host, role="link")
        )

    # Whether each link is the sender's, and whether it goes to neither the sender, a neutral
    # place nor a hidden tracker: worked out once per link, not again for every claim.
    owned = [own(lk) for lk in links]
    unrelated = [
        not lk.tracked
        and not is_own
        and (lk.org not in NEUTRAL_DOMAINS or brands.is_hosted(lk.host))
        for lk, is_own in zip(links, owned, strict=True)
    ]

    def elsewhere(index: int, brand: Brand | None) -> bool:
        """Link ``index`` goes to neither the sender, ``brand``, a neutral place nor a hidden
        tracker."""
        if not unrelated[index]:
            return False
        return brand is None or not brands.owns(brand, links[index].host, role="link")

    facts = tuple(
        _ClaimFacts(
            claim,
            from_sender=bool(sender_domain)
            and brands.owns(claim.brand, sender_domain, role="sender"),
            foreign=tuple(
                sorted({lk.org for i, lk in enumerate(links) if elsewhere(i, claim.brand)})
            ),
            to_brand=any(brands.owns(claim.brand, lk.host, role="link") for lk in links),
        )
        for claim in claims
    )
    display = sender.display_name if sender else ""
    # a display name showing another address or domain ("ceo@example.com") claims someone else
    shows_other = any(d.domain != sender_org for d in find_domains(display))
    return _MessageFacts(
        sender_domain=sender_domain,
        sender_org=sender_org,
        claims=facts,
        elsewhere=tuple(lk for lk, far in zip(links, unrelated, strict=True) if far),
        link_orgs=tuple(sorted({lk.org for lk in links if not lk.tracked})),
        name_is_sender=bool(display and sender_org and name_matches_domain(display, sender_org))
        and not shows_other,
        no_name=not display.strip(),
        freemail=bool(sender_org) and (
            sender_org in load_wordlist("freemail") or brands.is_mailbox_domain(sender_org)
        ),
        links_to_sender=any(owned),
        no_links=not msg.urls,
        reply_elsewhere=any(
            organisation_domain(r.domain) != sender_org
            and not (sender_brand is not None and brands.owns(sender_brand, r.domain))
            for r in msg.reply_to if r.domain
        ),
        name_shows_other=shows_other,
        name_is_organisation=reads_as_an_organisation(display),
    )


def analyse(
    msg: ParsedMessage,
    brands: BrandLookup,
    auth_results: Sequence[str] = (),
    envelope_sender: str = "",
) -> IdentityReport:
    """Compare what ``msg`` claims with the evidence it shows.

    What needs the message alone (:class:`_MessageFacts`) is worked out once per message;
    only the support the authentication results and the envelope sender give is added here
    (the content model and the identity detector analyse one message with different ones).
    """
    facts = _message_part(msg, brands)
    auth = AuthEvidence.from_results(auth_results) if auth_results else _NO_AUTH
    rp_domain = envelope_sender.rpartition("@")[2].lower() if "@" in envelope_sender else ""
    verdicts = []
    for known in facts.claims:
        brand = known.claim.brand
        support = []
        if known.from_sender:
            support.append("from")
        if any(brands.owns(brand, d) for d in auth.dkim_orgs):
            support.append("dkim")
        if rp_domain and brands.owns(brand, rp_domain, role="sender"):
            support.append("return-path")
        if not support and known.to_brand and not known.foreign:
            support.append("links")
        verdicts.append(BrandVerdict(known.claim, tuple(support), known.foreign, known.to_brand))
    claimed = [v.claim.brand for v in verdicts if v.supported]
    foreign_orgs = sorted({
        lk.org for lk in facts.elsewhere
        if not any(brands.owns(b, lk.host, role="link") for b in claimed)
    })  # fmt: skip
    return IdentityReport(
        sender_domain=facts.sender_domain,
        no_name=facts.no_name,
        freemail=facts.freemail,
        links_to_sender=facts.links_to_sender,
        no_links=facts.no_links,
        name_shows_other=facts.name_shows_other,
        name_is_organisation=facts.name_is_organisation,
        reply_elsewhere=facts.reply_elsewhere,
        sender_org=facts.sender_org,
        claims=tuple(verdicts),
        link_orgs=facts.link_orgs,
        foreign_orgs=tuple(foreign_orgs),
        auth=auth,
        name_is_sender=facts.name_is_sender,
    )
