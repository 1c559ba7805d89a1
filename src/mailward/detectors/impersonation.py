"""Impersonation through the From header: names that show another domain, unreadable senders.

Detects
  - a From display name that shows an email address or a domain ("ceo@example.com",
    "paypal.com") whose registrable domain differs from the one the mail really comes from;
  - a message whose From cannot be read as exactly one mailbox (none, several, or several
    From headers), so what the reader sees may not be what was checked.

Symbols (default weight, group "impersonation")
  IMP_DISPLAY_NAME_ADDRESS  6   the display name shows a different domain than the address
  IMP_FROM_MULTIPLE         5   zero or several From mailboxes, or several From headers

Settings ``[detectors.impersonation]``
  ignore_domains  registrable domains (and their subdomains) never reported, on either side;
                  e.g. a mailing-list host that writes "'alice@x.com' via list" names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from pydantic import field_validator

from mailward.detectors._domains import (
    ShownDomain,
    find_domains,
    in_domains,
    normalise_host,
    organisation_domain,
)
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Address, Finding, ParsedMessage

_GROUP = "impersonation"


class DisplayNameAddressSettings(DetectorSettings):
    """Options of the impersonation detector."""

    ignore_domains: tuple[str, ...] = ()

    @field_validator("ignore_domains")
    @classmethod
    def _normalise(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(normalise_host(d) for d in value if d.strip())


class DisplayNameAddressDetector:
    """Reports From display names that show a foreign address or domain, and unreadable From."""

    name: ClassVar[str] = "impersonation"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "IMP_DISPLAY_NAME_ADDRESS": SymbolSpec(
            6.0, _GROUP, "The From display name shows an address or domain of another domain."
        ),
        "IMP_FROM_MULTIPLE": SymbolSpec(
            5.0, _GROUP, "The From header does not hold exactly one mailbox."
        ),
    }
    timeout: ClassVar[float] = 2.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[DisplayNameAddressSettings]] = DisplayNameAddressSettings

    def __init__(self, settings: DisplayNameAddressSettings) -> None:
        self.settings = settings

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        findings: list[Finding] = []
        multiple = self._from_multiple(msg)
        if multiple is not None:
            findings.append(multiple)
        for sender in msg.from_:
            finding = self._display_name(sender)
            if finding is not None:
                findings.append(finding)
                break
        return findings

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
        return Finding(
            symbol="IMP_FROM_MULTIPLE",
            explanation=explanation,
            evidence=evidence,
            detector=self.name,
        )

    def _display_name(self, sender: Address) -> Finding | None:
        if not sender.display_name or "@" not in sender.address:
            return None
        real_host = sender.domain or sender.address.rpartition("@")[2]
        real = organisation_domain(real_host)
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
        shown_text = foreign[0].text
        return Finding(
            symbol="IMP_DISPLAY_NAME_ADDRESS",
            explanation=(
                f'The sender\'s name shows "{shown_text}" but the mail comes from {sender.address}.'
            ),
            evidence=(sender.display_name, sender.address, *(s.domain for s in foreign)),
            detector=self.name,
        )
