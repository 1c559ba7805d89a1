"""Sender authentication: SPF, DKIM, ARC and DMARC, as RFC 8601 results and findings.

Evidence an attacker can forge is not evidence: a From is a claim, and only SPF or DKIM aligned
with the domain a reader sees proves it.

Detects
  - a sending server that the envelope sender's domain does not allow (SPF fail, softfail);
  - a DKIM signature that does not match the message (changed after signing, or forged);
  - a broken ARC chain (the forwarding history of a message was tampered with);
  - a From domain whose DMARC policy says the message is not from it: neither SPF nor any
    DKIM signature passed for an identifier aligned with the From domain. The domain's policy
    is applied (:mod:`mailward.detectors._dmarc_policy`): ``p=``/``sp=`` with ``pct``, unless
    the operator overrides it or a trusted ARC forwarder vouches that the message passed
    DMARC when it reached them (then the failure does not count);
  - a From that readers could see as another identity (:mod:`mailward.detectors._from_header`):
    several From headers or mailboxes, "From :" and folded or NUL-bearing From lines, no From
    but a Sender or Resent-From, encoded words in the address, UTF-7 and other odd charsets,
    source routes, quoted local parts, comments or escapes that hide an address, invisible
    characters, addresses simple readers take otherwise, and a display name that shows an
    address of another domain (espoofer, "Composition Kills", ESpoofing). A bare domain in
    the display name is no trick on its own (often the sender's brand), but its DMARC
    policy is applied when it fails and asks for quarantine or reject;
  - for such a From, DMARC is checked for every domain a reader may see (up to
    MAX_DMARC_DOMAINS): a reading whose domain's DMARC fails (no aligned SPF or DKIM pass)
    raises AUTH_DMARC_FAIL and its policy symbol, factored by the strongest failing policy,
    besides AUTH_FROM_AMBIGUOUS. When the From mailbox itself is uncertain the
    Authentication-Results keep ``dmarc=permerror`` (RFC 7489 6.6.1: there is no single author
    domain to report), with the failing readings in the comment, e.g. ``dmarc=permerror
    (ambiguous From; fail p=reject legit.example)``; when only the display name shows another
    domain, the From domain's result is reported with the display name's in the comment. A
    p=none failure of a domain that only the display name shows does not count.

Every method result is also added to ``ScanContext.auth_results`` ("spf=pass
smtp.mailfrom=...", "dkim=fail header.d=...", "dmarc=fail (p=reject) header.from=...",
"arc=none"), which policy writes into the Authentication-Results header. All DNS goes through
the ``dns`` client (:mod:`mailward.dns`); without one (DNS off) only the From header's own
tricks are checked (AUTH_FROM_AMBIGUOUS: they need no lookup to be seen). A lookup that
fails for now gives a ``temperror`` result and no finding. Mail from authenticated or internal
clients gets no SPF or DMARC check (the peer is a client, not a mail server of the domain).

Symbols (default weight, group "auth")
  AUTH_SPF_FAIL          3  SPF says the sending server may not send for the envelope domain
  AUTH_SPF_SOFTFAIL      1  SPF says the sending server is probably not allowed
  AUTH_DKIM_FAIL         2  a DKIM signature whose key was found does not verify
  AUTH_ARC_FAIL          1  the ARC chain does not validate
  AUTH_DMARC_FAIL        8  DMARC fails: the From domain is not proven; factor by policy:
                            reject 1.0, quarantine 0.8, none 0.65 (so a p=none failure alone
                            reaches the default tag_at of 5)
  AUTH_DMARC_REJECT      0  the failing domain's policy, as applied here, is reject
  AUTH_DMARC_QUARANTINE  0  ... is quarantine (both only mark the policy for force rules)
  AUTH_FROM_AMBIGUOUS    5  From can be read as another sender, or hides its address
                            (factor 0.5 when the tricks are all in the display name, which
                            the impersonation detector scores too)
Default force rules (``[policy] force``): AUTH_DMARC_REJECT -> reject (quarantine once the
message was accepted), AUTH_DMARC_QUARANTINE -> quarantine, AUTH_FROM_AMBIGUOUS -> tag.

Settings ``[detectors.auth]``
  trust_authentication_results_from  authserv-ids whose Authentication-Results header (the
                  topmost one of theirs) supplies the spf, dkim and arc results instead of our
                  own checks: for a gateway behind another MTA that already checked. Default
                  none. Their headers are also kept on delivery (all others are removed, see
                  ``[policy] strip_inbound_headers``).
  honour_dmarc_policy  apply the sender domain's DMARC policy (default true); false: a
                  failure only scores.
  dmarc_policy_override  {"example.org" = "none"}: the policy applied to a domain and its
                  subdomains instead of the published one (none, quarantine or reject).
  trusted_arc_sealers  ARC sealers (d= of the ARC-Seal, or a parent domain) whose
                  ARC-Authentication-Results are believed when the chain validates: mailing
                  lists and forwarders the organisation relies on. Default none.
  check_spf, check_dkim, check_arc, check_dmarc   switch single methods off (default on).
  lookup_timeout  seconds one DNS lookup of pyspf/dkimpy may wait (default 4).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from mailward.detectors._auth_findings import (
    ambiguous_finding,
    dmarc_findings,
    dmarc_result,
    method_finding,
    trusted_results,
)
from mailward.detectors._auth_methods import (
    DmarcRecord,
    MethodResult,
    applied_policy,
    check_arc,
    check_dkim,
    check_spf,
    evaluate_dmarc,
    fetch_dmarc,
)
from mailward.detectors._dmarc_policy import (
    ArcSet,
    DmarcOutcome,
    LocalPolicy,
    dispose,
    latest_arc_set,
)
from mailward.detectors._from_header import FromReadings, clean_domain, from_readings
from mailward.dns import DnsClient, DnsTempError, SyncDnsBridge
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Finding, ParsedMessage

__all__ = ["MAX_DMARC_DOMAINS", "AuthDetector", "AuthSettings", "trusted_results"]

_GROUP = "auth"
#: The most From domains whose DMARC is checked for one ambiguous From.
MAX_DMARC_DOMAINS = 8

_Record = DmarcRecord | DnsTempError | None


class AuthSettings(DetectorSettings):
    """Options of the auth detector."""

    trust_authentication_results_from: tuple[str, ...] = ()
    honour_dmarc_policy: bool = True
    dmarc_policy_override: dict[str, Literal["none", "quarantine", "reject"]] = Field(
        default_factory=dict
    )
    trusted_arc_sealers: tuple[str, ...] = ()
    check_spf: bool = True
    check_dkim: bool = True
    check_arc: bool = True
    check_dmarc: bool = True
    lookup_timeout: float = Field(4.0, gt=0)

    @field_validator("trust_authentication_results_from", "trusted_arc_sealers")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower().rstrip(".") for v in value if v.strip())

    @field_validator("dmarc_policy_override")
    @classmethod
    def _lower_keys(cls, value: dict[str, str]) -> dict[str, str]:
        return {k.strip().lower().rstrip("."): v for k, v in value.items() if k.strip()}

    @property
    def local_policy(self) -> LocalPolicy:
        return LocalPolicy(
            self.honour_dmarc_policy, self.dmarc_policy_override, self.trusted_arc_sealers
        )


class AuthDetector:
    """Checks SPF, DKIM, ARC and DMARC; reports failures and records the results."""

    name: ClassVar[str] = "auth"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "AUTH_SPF_FAIL": SymbolSpec(
            3.0, _GROUP, "SPF says the sending server may not send for the sender's domain."
        ),
        "AUTH_SPF_SOFTFAIL": SymbolSpec(
            1.0, _GROUP, "SPF says the sending server is probably not allowed to send."
        ),
        "AUTH_DKIM_FAIL": SymbolSpec(2.0, _GROUP, "A DKIM signature does not verify."),
        "AUTH_ARC_FAIL": SymbolSpec(1.0, _GROUP, "The ARC chain does not validate."),
        "AUTH_DMARC_FAIL": SymbolSpec(
            8.0, _GROUP, "The From domain's DMARC policy says the message is not from it."
        ),
        "AUTH_DMARC_REJECT": SymbolSpec(
            0.0, _GROUP, "The failing From domain's DMARC policy, as applied here, is reject."
        ),
        "AUTH_DMARC_QUARANTINE": SymbolSpec(
            0.0, _GROUP, "The failing From domain's DMARC policy, as applied here, is quarantine."
        ),
        "AUTH_FROM_AMBIGUOUS": SymbolSpec(
            5.0, _GROUP, "From can be read as another sender, so DMARC cannot protect it."
        ),
    }
    timeout: ClassVar[float] = 8.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[AuthSettings]] = AuthSettings

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        client: DnsClient | None = ctx.clients.get("dns")
        if client is None:
            return self._from_header_only(msg, ctx)
        bridge = SyncDnsBridge(client, asyncio.get_running_loop(), self.settings.lookup_timeout)
        trusted = trusted_results(
            msg.header_all("Authentication-Results"),
            self.settings.trust_authentication_results_from,
        )
        readings = from_readings(msg)
        domains = _dmarc_domains(msg, readings)
        if not (self.settings.check_dmarc and _external(ctx)):
            readings, domains = FromReadings((), ()), ()
        spf_r, dkims, arc_r, dmarc_recs = await asyncio.gather(
            self._spf(ctx, bridge, trusted),
            self._dkim(msg, bridge, trusted),
            self._arc(msg, bridge, trusted),
            self._dmarc_records(client, domains),
        )
        arc = _validated_arc_set(msg, arc_r)
        outcomes = [
            dispose(_dmarc_outcome(d, r, spf_r, dkims), _record(r), msg.raw,
                    self.settings.local_policy, arc)
            for d, r in zip(domains, dmarc_recs, strict=True)
        ]  # fmt: skip
        dmarc_r = dmarc_result(outcomes, readings)
        results = [r for r in (spf_r, *dkims, arc_r, dmarc_r) if r is not None]
        ctx.auth_results.extend(r.header_text() for r in results)
        findings = self._findings(ctx, results)
        peer = ctx.envelope.peer_ip if ctx.envelope else "unknown"
        findings.extend(dmarc_findings(outcomes, peer, readings, self.name))
        if readings.tricks:
            findings.append(ambiguous_finding(msg, readings, self.name))
        return findings

    def _from_header_only(self, msg: ParsedMessage, ctx: ScanContext) -> list[Finding]:
        """Without DNS: the From header's own tricks, which need no lookup to be seen."""
        if not (self.settings.check_dmarc and _external(ctx)):
            return []
        if not from_readings(msg, domains_too=False).tricks:
            return []  # the usual case: no domain needs reading
        return [ambiguous_finding(msg, from_readings(msg), self.name)]

    async def _spf(
        self, ctx: ScanContext, bridge: SyncDnsBridge, trusted: Mapping[str, list[MethodResult]]
    ) -> MethodResult | None:
        if not self.settings.check_spf or not _external(ctx):
            return None
        if "spf" in trusted:
            return trusted["spf"][0]
        env = ctx.envelope
        if env is None or not env.peer_ip or not (env.mail_from or env.helo):
            return None
        return await check_spf(bridge, env.peer_ip, env.mail_from, env.helo)

    async def _dkim(
        self, msg: ParsedMessage, bridge: SyncDnsBridge, trusted: Mapping[str, list[MethodResult]]
    ) -> list[MethodResult]:
        if not self.settings.check_dkim:
            return []
        if "dkim" in trusted:
            return trusted["dkim"]
        return await check_dkim(msg.raw, msg.header_all("DKIM-Signature"), bridge)

    async def _arc(
        self, msg: ParsedMessage, bridge: SyncDnsBridge, trusted: Mapping[str, list[MethodResult]]
    ) -> MethodResult | None:
        if not self.settings.check_arc:
            return None
        if "arc" in trusted:
            return trusted["arc"][0]
        return await check_arc(msg.raw, bool(msg.header_all("ARC-Seal")), bridge)

    async def _dmarc_records(self, client: DnsClient, domains: Sequence[str]) -> list[_Record]:
        return list(await asyncio.gather(*(_dmarc_record(client, d) for d in domains)))

    def _findings(self, ctx: ScanContext, results: Sequence[MethodResult]) -> list[Finding]:
        peer = ctx.envelope.peer_ip if ctx.envelope else "unknown"
        findings: list[Finding] = []
        for result in results:
            finding = method_finding(result, peer)
            if finding is not None and finding.symbol not in {f.symbol for f in findings}:
                findings.append(finding)
        return [f if f.detector else dataclasses.replace(f, detector=self.name) for f in findings]


def _external(ctx: ScanContext) -> bool:
    """Mail from outside: not from an authenticated user or an internal network."""
    env = ctx.envelope
    return env is None or not (env.authenticated_as or env.internal)


def _dmarc_domains(msg: ParsedMessage, readings: FromReadings) -> tuple[str, ...]:
    """The From domains DMARC is checked for: every reading's when From is ambiguous, else
    the From domain's and those its display name shows bare."""
    if readings.tricks:
        return readings.domains[:MAX_DMARC_DOMAINS]
    if len(msg.from_) == 1 and msg.from_[0].domain:
        domain = clean_domain(msg.from_[0].domain)
        return (domain, *readings.shown)[:MAX_DMARC_DOMAINS] if "." in domain else ()
    return ()


def _validated_arc_set(msg: ParsedMessage, arc_r: MethodResult | None) -> ArcSet | None:
    """The latest ARC set, only when the chain validates (its results are then the sealer's)."""
    if arc_r is None or arc_r.result != "pass":
        return None
    return latest_arc_set(msg.header_all("ARC-Seal"), msg.header_all("ARC-Authentication-Results"))


async def _dmarc_record(client: DnsClient, domain: str) -> _Record:
    try:
        return await fetch_dmarc(client, domain)
    except DnsTempError as exc:
        return exc


def _record(record: _Record) -> DmarcRecord | None:
    return record if isinstance(record, DmarcRecord) else None


def _dmarc_outcome(
    domain: str, record: _Record, spf_r: MethodResult | None, dkims: Sequence[MethodResult]
) -> DmarcOutcome:
    """DMARC's result for one From domain, and the policy its record gives it."""
    if isinstance(record, DnsTempError):
        return DmarcOutcome(domain, "temperror")
    if record is None:
        return DmarcOutcome(domain, "none")
    result, _ = evaluate_dmarc(record, domain, spf_r, dkims)
    return DmarcOutcome(domain, result, applied_policy(record, domain))
