"""Claimed identity against evidence: brand impersonation, and senders that prove who they are.

Detects
  - a message that claims a brand (in its From display name, subject, link or image text, or
    body) while nothing it shows supports the claim: the From domain, a verified DKIM domain
    and the envelope sender are none of the brand's domains, and its links lead elsewhere
    ("Microsoft 365" from a web host's address with a link to a form on another site);
  - the opposite: a sender whose claims are its own and whose links stay with it ("x.com"
    mail whose links go to x.com, through its sending service when it uses one); with DNS on,
    proven by DKIM alignment or DMARC. This lowers the score: the wording of a real receipt
    or password reset is then not the thing to judge it by.

Also reports, as zero-weight context, mail that says it comes through a list or from a machine
(List-Id, Precedence, Auto-Submitted, a no-reply sender: :mod:`mailward.detectors._mail_kind`).
Anyone can write those headers, so they never lower a score: the same phishing gets the same
action with and without them; an operator's composites may use them.

Brands and their domains come from the brand registry (:mod:`mailward.data.brands`, the
shipped ``data/brands.toml`` plus the operator's ``[brands] file``). The analysis itself is
:mod:`mailward.identity`. Runs in stage 1, after the auth detector, so it can read the DKIM
and DMARC results (``ScanContext.auth_results``).

Symbols (default weight, group "identity"; ID_BRAND_IMPERSONATION in group "brand", which it
shares with the older brand-claim symbols IMP_BRAND_DISPLAY_NAME, IMP_BRAND_NAME_FREEMAIL and
URL_BRAND_UNRELATED: only the strongest of them counts, so one claim counts once)
  ID_BRAND_IMPERSONATION  7   a brand is claimed and nothing the message shows supports it;
                              factor: where it is claimed (display name 1, subject 0.6)
                              times 1 with links elsewhere, 0.5 with links elsewhere and
                              to the brand, 0.75 with no links, 0.6 with only neutral links
  ID_CONSISTENT          -3   the sender names itself (or a person, or no one), its claims
                              are its own, and its links go to it and stay with it (or it has
                              none); factor 0.6: nothing proves the From domain (no DNS, no
                              aligned DKIM); never after a DMARC failure or a threat-feed
                              hit (FEED_*, stage 0), never for webmail
  ID_CONSISTENT_PROVEN   -3   the same, with the From domain proven by aligned DKIM or DMARC;
                              the content model may then not even tag on its own
                              (``[scoring.groups.content] silenced_by``)
  ID_ORG_FROM_FREEMAIL  2.5   the display name reads as an organisation's or a service's
                              ("Device Safety Alerts", "ETHER GET", digits, symbols), but the
                              address is a free mailbox (webmail, or a brand's mailbox domain
                              such as gmail.com); a brand name there is ID_BRAND_IMPERSONATION
  ID_LIST_MAIL            0   context: List-Id, List-Post, List-Unsubscribe, Precedence: list
  ID_AUTOMATED            0   context: Auto-Submitted, Precedence: bulk, a no-reply sender

Settings ``[detectors.identity]``
  min_claim_strength     the weakest place a claim may be reported from (default 0.6: the
                         display name, link text and subject; a brand named in the body or
                         an image's alt text is common in real mail and only feeds the model)
  ignore_brands          brand ids never reported (e.g. the organisation's own brand when
                         it mails through partners)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from pydantic import Field

from mailward.detectors._mail_kind import MailKind, mail_kind
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.identity import IdentityReport, analyse, registry_for
from mailward.identity.analysis import BrandVerdict
from mailward.model import Finding, ParsedMessage

_GROUP = "identity"
_NO_LINKS, _NEUTRAL_LINKS, _ALSO_TO_BRAND = 0.75, 0.6, 0.5
_UNPROVEN = 0.6


class IdentitySettings(DetectorSettings):
    """Options of the identity detector (see the module docstring)."""

    min_claim_strength: float = Field(0.6, ge=0.0, le=1.0)
    ignore_brands: tuple[str, ...] = ()


class IdentityDetector:
    """Compares the identity a message claims with the evidence it shows."""

    name: ClassVar[str] = "identity"
    stage: ClassVar[int] = 1
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "ID_BRAND_IMPERSONATION": SymbolSpec(
            7.0, "brand", "The message claims a brand that nothing it shows supports."
        ),
        "ID_CONSISTENT": SymbolSpec(
            -3.0, _GROUP, "The sender shows what it claims and its links stay with it."
        ),
        "ID_CONSISTENT_PROVEN": SymbolSpec(
            -3.0, _GROUP,
            "DKIM or DMARC proves the sender, which shows what it claims; its links stay with it.",
        ),
        "ID_ORG_FROM_FREEMAIL": SymbolSpec(
            2.5, _GROUP,
            "The sender's name is an organisation's, the address a free mailbox anyone can open.",
        ),
        "ID_LIST_MAIL": SymbolSpec(
            0.0, _GROUP, "The message says it comes through a mailing list (context only)."
        ),
        "ID_AUTOMATED": SymbolSpec(
            0.0, _GROUP, "The message says a machine sent it (context only)."
        ),
    }
    timeout: ClassVar[float] = 5.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[IdentitySettings]] = IdentitySettings

    def __init__(self, settings: IdentitySettings) -> None:
        self.settings = settings

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        brands = registry_for(ctx.settings)
        envelope_sender = ctx.envelope.mail_from if ctx.envelope else ""
        report = analyse(msg, brands, ctx.auth_results, envelope_sender)
        findings = [
            f for v in report.unsupported
            if (f := self._impersonation(v, report, msg)) is not None
        ]  # fmt: skip
        out = _strongest(findings)
        if not out and report.freemail and report.name_is_organisation:
            out.append(_org_from_freemail(msg, report))
        # a threat feed naming the message outweighs any consistency: no credit then
        named_by_feed = any(f.symbol.startswith("FEED_") for f in ctx.findings)
        if not out and report.consistent and not named_by_feed:
            out.append(_consistent(report))
        return out + _context(mail_kind(msg))

    def _impersonation(
        self, verdict: BrandVerdict, report: IdentityReport, msg: ParsedMessage
    ) -> Finding | None:
        claim = verdict.claim
        if claim.brand.id in self.settings.ignore_brands:
            return None
        if claim.strength < self.settings.min_claim_strength:
            return None
        if verdict.foreign and verdict.to_brand:
            links = f"its links go to {', '.join(verdict.foreign[:3])} as well as to the brand"
            link_factor = _ALSO_TO_BRAND
        elif verdict.foreign:
            links, link_factor = f"its links go to {', '.join(verdict.foreign[:3])}", 1.0
        elif report.link_orgs:
            links, link_factor = "its links go to no site of the brand", _NEUTRAL_LINKS
        else:
            links, link_factor = "it has no link to the brand", _NO_LINKS
        sender = report.sender_domain or "no readable address"
        return Finding(
            symbol="ID_BRAND_IMPERSONATION",
            explanation=(
                f"The message claims to be from {claim.brand.name} ({claim.place}: "
                f"{claim.said!r}) but is sent from {sender}, which is not {claim.brand.name}'s, "
                f"and {links}."
            ),
            evidence=(claim.brand.id, claim.place, claim.said, sender, *verdict.foreign[:3]),
            factor=round(claim.strength * link_factor, 3),
        )


def _consistent(report: IdentityReport) -> Finding:
    proven = report.proven
    how = "proven by DKIM/DMARC" if proven else "not proven by DKIM/DMARC"
    return Finding(
        symbol="ID_CONSISTENT_PROVEN" if proven else "ID_CONSISTENT",
        explanation=(
            f"The sender {report.sender_org} ({how}) claims no one else and its links stay "
            f"with it ({', '.join(report.link_orgs[:4])})."
        ),
        evidence=(report.sender_org, *report.link_orgs[:4]),
        factor=1.0 if proven else _UNPROVEN,
    )


def _org_from_freemail(msg: ParsedMessage, report: IdentityReport) -> Finding:
    name = msg.from_[0].display_name if msg.from_ else ""
    return Finding(
        "ID_ORG_FROM_FREEMAIL",
        f"The sender's name {name!r} reads as an organisation's or a service's, but the mail "
        f"comes from a free mailbox at {report.sender_domain} that anyone can open.",
        (name, report.sender_domain),
    )


def _context(kind: MailKind) -> list[Finding]:
    """Zero-weight context: list or machine mail, as the message says of itself."""
    out = []
    if kind.is_list:
        out.append(Finding(
            "ID_LIST_MAIL",
            "The message says it comes through a mailing list; this changes no score, as "
            "anyone can write these headers.",
            kind.list_markers[:3],
        ))
    if kind.is_automated:
        out.append(Finding(
            "ID_AUTOMATED",
            "The message says a machine sent it; this changes no score, as anyone can "
            "write these headers.",
            kind.machine_markers[:3],
        ))
    return out


def _strongest(findings: list[Finding]) -> list[Finding]:
    """One impersonation finding, the strongest: claiming two brands is not twice as bad."""
    return [max(findings, key=lambda f: f.factor)] if findings else []
