"""Impersonation: senders made to look like someone the reader trusts.

Detects
  - a From display name that shows an email address or a domain ("ceo@example.com",
    "paypal.com") whose registrable domain differs from the one the mail really comes from;
  - a message whose From cannot be read as exactly one mailbox (none, several, or several
    From headers), so what the reader sees may not be what was checked;
  - external mail showing the name of a protected person (an executive) from another address;
  - a From, Reply-To or envelope-sender domain that imitates an accepted, partner or brand
    domain (see :mod:`mailward.detectors.lookalike` for the techniques);
  - a display name that claims a brand or the organisation ("PayPal Service") from a domain
    that is not theirs, or from a free webmail address;
  - a Reply-To that diverts answers to a free webmail or unrelated domain;
  - a sender address this organisation has never received mail from (needs the "history"
    client, a :class:`mailward.store.history.SenderHistory`; skipped without it).

Symbols (default weight, group "impersonation")
  IMP_DISPLAY_NAME_ADDRESS  6   the display name shows a different domain than the address
  IMP_FROM_MULTIPLE         5   zero or several From mailboxes, or several From headers
  IMP_PROTECTED_NAME        7   external mail showing a protected person's name
  IMP_LOOKALIKE_DOMAIN      8   a sender domain imitates a protected domain or a brand
  IMP_BRAND_DISPLAY_NAME    4   the display name claims a brand the sending domain is not
  IMP_BRAND_NAME_FREEMAIL   4   the display name claims a brand, sent from free webmail
  IMP_REPLY_TO_DIVERT       3   replies go to another, unrelated or free webmail domain
                                (factor 1.0 for free webmail, 0.7 otherwise)
  IMP_FIRST_TIME_SENDER     1   first mail from this external address

Settings ``[detectors.impersonation]``
  ignore_domains      registrable domains (and subdomains) never reported, on either side;
                      e.g. a mailing-list host that writes "'alice@x.com' via list" names
  protected_people    [{name = "Jane Doe", addresses = ["jane.doe@example.com"]}, ...]
  protected_domains   partner domains protected like the accepted domains
  organisation_names  names of the organisation a display name may claim ("Example Corp")
  brands              true: also protect the brands: data/brands.txt (registrable domains
                      for the look-alike check) and the brand registry (names and domains,
                      mailward.data.brands, with the operator's [brands] file; shared with the
                      urls detector)
  freemail_domains    free webmail domains; default: the shipped data/freemail.txt
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mailward.data import brands as brand_data
from mailward.detectors._domains import (
    ShownDomain,
    find_domains,
    in_domains,
    normalise_host,
    organisation_domain,
)
from mailward.detectors._mail_kind import list_rewritten
from mailward.detectors.lookalike import LookalikeMatch, find_lookalike, load_wordlist
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Address, Finding, ParsedMessage

_GROUP = "impersonation"
#: Headers that name a mailing list; their hosts are the list's own.
_LIST_HEADERS = (
    "List-Id",
    "List-Post",
    "List-Unsubscribe",
    "List-Help",
    "Mailing-List",
    "X-Mailing-List",
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _local(address: str) -> str:
    return address.rpartition("@")[0].split("+", 1)[0].lower()


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[^\W_]+", _fold(text)))


def person_tokens(display_name: str) -> tuple[str, ...]:
    """A person's name as tokens in "first ... last" order; "Doe, Jane (CEO)" -> (jane, doe)."""
    text = re.sub(r"\([^)]*\)|\[[^\]]*\]|<[^>]*>", " ", display_name).strip(" \"'")
    if text.count(",") == 1:
        last, first = text.split(",")
        text = f"{first} {last}"
    return _tokens(text)


def names_match(shown: tuple[str, ...], person: tuple[str, ...]) -> bool:
    """Whether the shown name is the person's: same last name, first name or its initial,
    middle names optional or as initials."""
    if len(shown) < 2 or len(person) < 2 or shown[-1] != person[-1]:
        return False
    first_ok = shown[0] == person[0] or (len(shown[0]) == 1 and person[0].startswith(shown[0]))
    middles = person[1:-1]
    return first_ok and all(
        m in middles or (len(m) == 1 and any(p.startswith(m) for p in middles)) for m in shown[1:-1]
    )


class ProtectedPerson(BaseModel):
    """A person whose name external mail must not show: the name and their own addresses."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    addresses: tuple[str, ...] = ()

    @field_validator("addresses")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(a.strip().lower() for a in value if a.strip())


class DisplayNameAddressSettings(DetectorSettings):
    """Options of the impersonation detector."""

    ignore_domains: tuple[str, ...] = ()
    protected_people: tuple[ProtectedPerson, ...] = ()
    protected_domains: tuple[str, ...] = ()
    organisation_names: tuple[str, ...] = ()
    brands: bool = True
    freemail_domains: tuple[str, ...] = Field(
        default_factory=lambda: tuple(sorted(load_wordlist("freemail")))
    )

    @field_validator("ignore_domains", "protected_domains", "freemail_domains")
    @classmethod
    def _normalise(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(normalise_host(d) for d in value if d.strip())


ImpersonationSettings = DisplayNameAddressSettings


class _Phrase(NamedTuple):
    """A brand name as display-name tokens; ``exact``: the words an exact name needs in case."""

    tokens: tuple[str, ...]
    exact: frozenset[str] | None
    brand: brand_data.Brand


@functools.lru_cache(maxsize=4)
def _brand_phrases(registry: brand_data.BrandRegistry) -> dict[str, tuple[_Phrase, ...]]:
    """The registry's brand names as display-name tokens, by first token, longest first.

    Names and exact names count; strict names (ordinary words and first names: "Chase",
    "Target", "Delta") are left to checks that weigh them against more evidence.
    """
    out: dict[str, list[_Phrase]] = {}
    for brand in registry.brands.values():
        named: list[tuple[str, frozenset[str] | None]] = [(n, None) for n in brand.names]
        named += [(n, frozenset(_case_tokens(n))) for n in brand.exact_names]
        for name, exact in named:
            tokens = _tokens(name)
            if tokens:
                out.setdefault(tokens[0], []).append(_Phrase(tokens, exact, brand))
    return {
        first: tuple(sorted(found, key=lambda p: -len(p.tokens))) for first, found in out.items()
    }


def _case_tokens(text: str) -> tuple[str, ...]:
    decomposed = unicodedata.normalize("NFKD", text)
    return tuple(
        re.findall(r"[^\W_]+", "".join(c for c in decomposed if not unicodedata.combining(c)))
    )


#: How many sender domains' lookalike answers :meth:`DisplayNameAddressDetector._match` keeps.
_MATCHES_KEPT = 8192


def _symbol(weight: float, description: str) -> SymbolSpec:
    return SymbolSpec(weight, _GROUP, description)


class DisplayNameAddressDetector:
    """Reports senders dressed up as a person, domain or brand the reader trusts."""

    name: ClassVar[str] = "impersonation"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "IMP_DISPLAY_NAME_ADDRESS": _symbol(
            6.0, "The From display name shows an address or domain of another domain."
        ),
        "IMP_FROM_MULTIPLE": _symbol(5.0, "The From header does not hold exactly one mailbox."),
        "IMP_PROTECTED_NAME": _symbol(
            7.0, "External mail shows the name of a protected person from another address."
        ),
        "IMP_LOOKALIKE_DOMAIN": _symbol(
            8.0, "A sender domain imitates a protected domain or a well-known brand."
        ),
        "IMP_BRAND_DISPLAY_NAME": SymbolSpec(
            4.0, "brand",
            "The display name claims a brand or the organisation; the domain is not theirs.",
        ),
        "IMP_BRAND_NAME_FREEMAIL": SymbolSpec(
            4.0, "brand",
            "The display name claims a brand or the organisation from free webmail.",
        ),
        "IMP_REPLY_TO_DIVERT": _symbol(
            3.0, "Replies go to free webmail or an unrelated domain, not to the sender."
        ),
        "IMP_FIRST_TIME_SENDER": SymbolSpec(
            1.0, "history", "The organisation has never received mail from this sender address."
        ),
    }
    timeout: ClassVar[float] = 2.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[DisplayNameAddressSettings]] = DisplayNameAddressSettings

    def __init__(self, settings: DisplayNameAddressSettings) -> None:
        self.settings = settings
        self._freemail = frozenset(settings.freemail_domains)
        self._people = tuple(
            (p, person_tokens(p.name), frozenset(p.addresses)) for p in settings.protected_people
        )
        shipped = settings.brands
        self._brand_domains = load_wordlist("brands") if shipped else frozenset()
        #: :meth:`_match` by (host, own domains): senders' domains come back message after
        #: message, and the answer depends on nothing else that changes
        self._matched: dict[tuple[str, tuple[str, ...]], LookalikeMatch | None] = {}

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        findings: list[Finding] = []
        multiple = self._from_multiple(msg)
        if multiple is not None:
            findings.append(multiple)
        for sender in msg.from_:
            finding = None if list_rewritten(msg, sender) else self._display_name(sender)
            if finding is not None:
                findings.append(finding)
                break
        single = msg.from_[0] if len(msg.from_) == 1 else None
        if single is not None and "@" in single.address:
            sender = single
            own = self._own_domains(ctx)
            external = not in_domains(organisation_domain(sender.domain), own)
            brands = brand_data.registry_for(ctx.settings.brands.file)
            registry = brands if self.settings.brands else None
            checks = (
                self._protected_name(sender) if external else None,
                self._brand_display_name(sender, ctx, registry),
                self._reply_to_divert(msg, sender, own, registry),
                await self._first_time(sender, ctx) if external else None,
            )
            findings.extend(f for f in checks if f is not None)
        lookalike = self._lookalike(msg, ctx)
        if lookalike is not None:
            findings.append(lookalike)
        return findings

    # -- the original checks ----------------------------------------------------------------

    def _from_multiple(self, msg: ParsedMessage) -> Finding | None:
        headers = msg.header_all("From")
        if len(headers) > 1:
            explanation = (
                f"The message has {len(headers)} From headers, so mail programs may show "
                "a different sender than the one that was checked."
            )
            evidence = tuple(h.strip() for h in headers)
        elif not msg.from_:
            explanation = "The message has no readable From address, so its sender is unknown."
            evidence = tuple(h.strip() for h in headers)
        elif len(msg.from_) > 1:
            explanation = (
                f"The From header lists {len(msg.from_)} senders, so which one sent the "
                "message cannot be told."
            )
            evidence = tuple(a.address for a in msg.from_)
        else:
            return None
        return self._finding("IMP_FROM_MULTIPLE", explanation, evidence)

    def _display_name(self, sender: Address) -> Finding | None:
        if not sender.display_name or "@" not in sender.address:
            return None
        real = organisation_domain(sender.domain or sender.address.rpartition("@")[2])
        ignore = self.settings.ignore_domains
        if in_domains(real, ignore):
            return None
        foreign: list[ShownDomain] = [
            shown
            for shown in find_domains(sender.display_name)
            if shown.domain != real and not in_domains(shown.domain, ignore)
        ]
        if not foreign:
            return None
        # An address in the name ("ceo@example.com") is a deliberate claim; a bare domain
        # ("News.com") is often just a brand's name and counts for less on its own.
        address_shown = any(
            "@" in s.text or "://" in s.text or s.text.lower().startswith("www.") for s in foreign
        )
        return self._finding(
            "IMP_DISPLAY_NAME_ADDRESS",
            f'The sender\'s name shows "{foreign[0].text}" but the mail comes from '
            f"{sender.address}.",
            (sender.display_name, sender.address, *(s.domain for s in foreign)),
            factor=1.0 if address_shown else 0.5,
        )

    # -- people, brands and replies ---------------------------------------------------------

    def _own_domains(self, ctx: ScanContext) -> tuple[str, ...]:
        return tuple(normalise_host(d) for d in ctx.accepted_domains) + (
            self.settings.protected_domains
        )

    def _protected_name(self, sender: Address) -> Finding | None:
        if not self._people:  # no one protected (the default): no name to read
            return None
        shown = person_tokens(sender.display_name)
        address = sender.address.strip().lower()
        for person, tokens, addresses in self._people:
            if address not in addresses and names_match(shown, tokens):
                return self._finding(
                    "IMP_PROTECTED_NAME",
                    f'The sender calls themselves "{sender.display_name}", the name of '
                    f"{person.name}, but writes from {sender.address}, not one of their "
                    "addresses.",
                    (sender.display_name, sender.address, person.name),
                )
        return None

    @cached_property
    def _org_names(self) -> dict[tuple[str, ...], frozenset[str]]:
        return {_tokens(n): frozenset() for n in self.settings.organisation_names if _tokens(n)}

    def _claimed_brand(
        self, display_name: str, registry: brand_data.BrandRegistry | None
    ) -> tuple[tuple[str, ...], frozenset[str]] | None:
        """The brand the display name is made of (plus generic words only), with its domains."""
        shown = _tokens(display_name)
        generic = load_wordlist("brand_generic_words")

        def only_generic(at: int, size: int) -> bool:
            rest = shown[:at] + shown[at + size :]
            return all(t in generic or t.isdigit() for t in rest)

        for org_phrase, owners in self._org_names.items():
            size = len(org_phrase)
            for at in range(len(shown) - size + 1):
                if shown[at : at + size] == org_phrase and only_generic(at, size):
                    return org_phrase, owners
        if registry is None:
            return None
        phrases = _brand_phrases(registry)
        written: frozenset[str] | None = None
        for at, token in enumerate(shown):
            for phrase in phrases.get(token, ()):
                size = len(phrase.tokens)
                if shown[at : at + size] != phrase.tokens or not only_generic(at, size):
                    continue
                if phrase.exact is not None:  # "TIM" the operator, not "Tim" the person
                    written = written or frozenset(_case_tokens(display_name))
                    if not phrase.exact <= written:
                        continue
                return phrase.tokens, registry.owned_domains(phrase.brand)
        return None

    def _brand_display_name(
        self, sender: Address, ctx: ScanContext, registry: brand_data.BrandRegistry | None
    ) -> Finding | None:
        name = sender.display_name
        claimed = self._claimed_brand(name, registry) if name else None
        if claimed is None:
            return None
        phrase, owners = claimed
        if not owners:
            owners = frozenset(self._own_domains(ctx))
        host = normalise_host(sender.domain)
        real = organisation_domain(host)
        ignore = self.settings.ignore_domains
        if in_domains(real, ignore) or any(in_domains(o, ignore) for o in owners):
            return None
        freemail = real in self._freemail
        if not freemail and (
            in_domains(real, tuple(owners)) or real.split(".", 1)[0] == "".join(phrase)
        ):
            return None
        symbol = "IMP_BRAND_NAME_FREEMAIL" if freemail else "IMP_BRAND_DISPLAY_NAME"
        where = "a free webmail address" if freemail else real
        return self._finding(
            symbol,
            f'The sender\'s name "{sender.display_name}" claims to be {" ".join(phrase).title()}'
            f", but the mail comes from {where} ({sender.address}).",
            (sender.display_name, sender.address),
        )

    def _related(
        self, one: str, other: str, own: tuple[str, ...], registry: brand_data.BrandRegistry | None
    ) -> bool:
        if in_domains(one, own) and in_domains(other, own):
            return True
        a, b = one.split(".", 1)[0], other.split(".", 1)[0]
        if len(a) >= 4 and len(b) >= 4 and (a in b or b in a):
            return True
        brand = registry.brand_for_domain(one) if registry is not None else None
        return brand is not None and registry is not None and registry.owns(brand, other)

    def _mailing_list_reply(self, msg: ParsedMessage, reply: Address, sender: Address) -> bool:
        """The message came through a mailing list whose host is the Reply-To's (replies go to
        the list) or the From's (the list rewrote the From and put the author in Reply-To)."""
        text = " ".join(v for h in _LIST_HEADERS for v in msg.header_all(h))
        found = re.findall(r"[\w-]+(?:\.[\w-]+)+", text.replace("@", " "))
        hosts = {organisation_domain(h) for h in found}
        return bool(hosts & {organisation_domain(reply.domain), organisation_domain(sender.domain)})

    def _reply_to_divert(
        self,
        msg: ParsedMessage,
        sender: Address,
        own: tuple[str, ...],
        registry: brand_data.BrandRegistry | None,
    ) -> Finding | None:
        real = organisation_domain(sender.domain)
        for reply in msg.reply_to:
            target = organisation_domain(reply.domain)
            ignored = in_domains(target, self.settings.ignore_domains)
            if not reply.domain or target == real or ignored:
                continue
            if self._mailing_list_reply(msg, reply, sender):
                continue
            freemail = target in self._freemail
            same_person = _local(reply.address) == _local(sender.address)
            if not freemail and (same_person or self._related(real, target, own, registry)):
                continue
            kind = "a free webmail address" if freemail else "an unrelated domain"
            return self._finding(
                "IMP_REPLY_TO_DIVERT",
                f"Replies go to {reply.address}, {kind}, not to the sender {sender.address}.",
                (sender.address, reply.address),
                factor=1.0 if freemail else 0.7,
            )
        return None

    async def _first_time(self, sender: Address, ctx: ScanContext) -> Finding | None:
        history: Any = ctx.clients.get("history")
        if history is None or await history.seen(sender.address) is not None:
            return None
        return self._finding(
            "IMP_FIRST_TIME_SENDER",
            f"This is the first mail the organisation receives from {sender.address}.",
            (sender.address,),
        )

    # -- lookalike domains ------------------------------------------------------------------

    def _sender_domains(self, msg: ParsedMessage, ctx: ScanContext) -> list[tuple[str, str]]:
        roles = [("sender's", a.domain) for a in msg.from_[:1]]
        roles += [("reply address's", a.domain) for a in msg.reply_to]
        if ctx.envelope is not None and "@" in ctx.envelope.mail_from:
            roles.append(("envelope sender's", ctx.envelope.mail_from.rpartition("@")[2]))
        return [(role, normalise_host(host)) for role, host in roles if host]

    def _match(self, host: str, own: tuple[str, ...]) -> LookalikeMatch | None:
        """:meth:`_match_anew`, kept for the next message from the same domain."""
        key = (host, own)
        if key in self._matched:
            return self._matched[key]
        found = self._match_anew(host, own)
        if len(self._matched) >= _MATCHES_KEPT:
            self._matched.clear()
        self._matched[key] = found
        return found

    def _match_anew(self, host: str, own: tuple[str, ...]) -> LookalikeMatch | None:
        real = organisation_domain(host)
        known = real in self._brand_domains or real in self._freemail  # no union made per call
        if in_domains(real, own + self.settings.ignore_domains) or known:
            return None
        found = find_lookalike(host, own)
        if found is None and self._brand_domains:
            found = find_lookalike(host, self._brand_domains, strict=True)
        return found

    def _lookalike(self, msg: ParsedMessage, ctx: ScanContext) -> Finding | None:
        own = self._own_domains(ctx)
        for role, host in self._sender_domains(msg, ctx):
            found = self._match(host, own)
            if found is None:
                continue
            detail = f" ({found.detail})" if found.detail else ""
            return self._finding(
                "IMP_LOOKALIKE_DOMAIN",
                f"The {role} domain {host} looks like {found.protected}{detail}.",
                (host, found.protected, found.technique),
            )
        return None

    def _finding(
        self, symbol: str, explanation: str, evidence: tuple[str, ...], factor: float = 1.0
    ) -> Finding:
        return Finding(symbol, explanation, evidence, factor=factor, detector=self.name)


ImpersonationDetector = DisplayNameAddressDetector


