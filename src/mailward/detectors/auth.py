"""Sender authentication: SPF, DKIM, ARC and DMARC, as RFC 8601 results and findings.

Detects
  - a sending server that the envelope sender's domain does not allow (SPF fail, softfail);
  - a DKIM signature that does not match the message (changed after signing, or forged);
  - a broken ARC chain (the forwarding history of a message was tampered with);
  - a From domain whose DMARC policy says the message is not from it: neither SPF nor any
    DKIM signature passed for an identifier aligned with the From domain;
  - a From that names several senders (or several From headers), so which domain DMARC should
    protect cannot be told: a known way to slip a spoofed sender past DMARC. The raw header
    block is read the ways different programs read it (espoofer / "Composition Kills"):
    "From :" and folded or NUL-bearing From lines, no From but a Sender, encoded words,
    source routes, quoted local parts, comments or escapes that hide an address
    (:mod:`mailward.detectors._from_header`).
  - for such an ambiguous From, DMARC is checked for every domain a reader may see (up to
    MAX_DMARC_DOMAINS): a reading whose domain's DMARC fails (no aligned SPF or DKIM pass)
    raises AUTH_DMARC_FAIL, factored by the strongest failing policy, besides
    AUTH_FROM_AMBIGUOUS. The Authentication-Results keep ``dmarc=permerror`` (RFC 7489 6.6.1:
    there is no single author domain to report), with the failing readings in the comment,
    e.g. ``dmarc=permerror (ambiguous From; fail p=reject legit.example)``: a consumer of the
    header must never read one reading's result as the message's.

Every method result is also added to ``ScanContext.auth_results`` ("spf=pass
smtp.mailfrom=...", "dkim=fail header.d=...", "dmarc=fail (p=reject) header.from=...",
"arc=none"), which policy writes into the Authentication-Results header. All DNS goes through
the ``dns`` client (:mod:`mailward.dns`); without one the detector does nothing. A lookup that
fails for now gives a ``temperror`` result and no finding. Mail from authenticated or internal
clients gets no SPF or DMARC check (the peer is a client, not a mail server of the domain).

Symbols (default weight, group "auth")
  AUTH_SPF_FAIL         3  SPF says the sending server may not send for the envelope domain
  AUTH_SPF_SOFTFAIL     1  SPF says the sending server is probably not allowed
  AUTH_DKIM_FAIL        2  a DKIM signature whose key was found does not verify
  AUTH_ARC_FAIL         1  the ARC chain does not validate
  AUTH_DMARC_FAIL       8  DMARC fails; factor by policy: reject 1.0, quarantine 0.8, none 0.3
  AUTH_FROM_AMBIGUOUS   5  From can be read as several senders, or hides its address

Settings ``[detectors.auth]``
  trust_authentication_results_from  authserv-ids whose Authentication-Results header (the
                  topmost one of theirs) supplies the spf, dkim and arc results instead of our
                  own checks: for a gateway behind another MTA that already checked. Default none.
  check_spf, check_dkim, check_arc, check_dmarc   switch single methods off (default on).
  lookup_timeout  seconds one DNS lookup of pyspf/dkimpy may wait (default 4).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import ClassVar

from pydantic import Field, field_validator

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
from mailward.detectors._from_header import FromReadings, from_readings
from mailward.dns import DnsClient, DnsTempError, SyncDnsBridge
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Finding, ParsedMessage

_GROUP = "auth"
_POLICY_FACTOR = {"reject": 1.0, "quarantine": 0.8, "none": 0.3}
_COMMENT = re.compile(r"\([^()]*\)")
#: The most From domains whose DMARC is checked for one ambiguous From.
MAX_DMARC_DOMAINS = 8

_Record = DmarcRecord | DnsTempError | None


class AuthSettings(DetectorSettings):
    """Options of the auth detector."""

    trust_authentication_results_from: tuple[str, ...] = ()
    check_spf: bool = True
    check_dkim: bool = True
    check_arc: bool = True
    check_dmarc: bool = True
    lookup_timeout: float = Field(4.0, gt=0)

    @field_validator("trust_authentication_results_from")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in value if v.strip())


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
        "AUTH_FROM_AMBIGUOUS": SymbolSpec(
            5.0, _GROUP, "From names several senders, so DMARC cannot protect it."
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
            return []
        bridge = SyncDnsBridge(client, asyncio.get_running_loop(), self.settings.lookup_timeout)
        trusted = trusted_results(
            msg.header_all("Authentication-Results"),
            self.settings.trust_authentication_results_from,
        )
        readings = from_readings(msg)
        domains = _dmarc_domains(msg, readings)
        if not (self.settings.check_dmarc and _external(ctx)):
            readings, domains = FromReadings("", ()), ()
        spf_r, dkims, arc_r, dmarc_recs = await asyncio.gather(
            self._spf(ctx, bridge, trusted),
            self._dkim(msg, bridge, trusted),
            self._arc(msg, bridge, trusted),
            self._dmarc_records(client, domains),
        )
        outcomes = [
            _dmarc_outcome(d, r, spf_r, dkims) for d, r in zip(domains, dmarc_recs, strict=True)
        ]
        dmarc_r = _dmarc_result(outcomes, readings.reason)
        results = [r for r in (spf_r, *dkims, arc_r, dmarc_r) if r is not None]
        ctx.auth_results.extend(r.header_text() for r in results)
        findings = self._findings(msg, ctx, results)
        failed = [(d, policy) for d, result, policy in outcomes if result == "fail"]
        if failed:
            peer = ctx.envelope.peer_ip if ctx.envelope else "unknown"
            findings.append(_dmarc_finding(failed, peer, bool(readings.reason), self.name))
        if readings.reason:
            findings.append(_ambiguous_finding(msg, readings, self.name))
        return findings

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

    def _findings(
        self,
        msg: ParsedMessage,
        ctx: ScanContext,
        results: Sequence[MethodResult],
    ) -> list[Finding]:
        peer = ctx.envelope.peer_ip if ctx.envelope else "unknown"
        findings: list[Finding] = []
        for result in results:
            finding = _finding(result, peer)
            if finding is not None and finding.symbol not in {f.symbol for f in findings}:
                findings.append(finding)
        return [f if f.detector else _named(f, self.name) for f in findings]


def _named(finding: Finding, name: str) -> Finding:
    return dataclasses.replace(finding, detector=name)


def _external(ctx: ScanContext) -> bool:
    """Mail from outside: not from an authenticated user or an internal network."""
    env = ctx.envelope
    return env is None or not (env.authenticated_as or env.internal)


def _dmarc_domains(msg: ParsedMessage, readings: FromReadings) -> tuple[str, ...]:
    """The From domains DMARC is checked for: every reading's when From is ambiguous."""
    if readings.reason:
        return readings.domains[:MAX_DMARC_DOMAINS]
    if len(msg.from_) == 1 and msg.from_[0].domain:
        return (msg.from_[0].domain.lower(),)
    return ()


async def _dmarc_record(client: DnsClient, domain: str) -> _Record:
    try:
        return await fetch_dmarc(client, domain)
    except DnsTempError as exc:
        return exc


def _dmarc_outcome(
    domain: str, record: _Record, spf_r: MethodResult | None, dkims: Sequence[MethodResult]
) -> tuple[str, str, str]:
    """(domain, DMARC result, policy that applies or "") for one From domain."""
    if isinstance(record, DnsTempError):
        return domain, "temperror", ""
    if record is None:
        return domain, "none", ""
    result, _ = evaluate_dmarc(record, domain, spf_r, dkims)
    return domain, result, applied_policy(record, domain)


def _dmarc_result(outcomes: Sequence[tuple[str, str, str]], ambiguous: str) -> MethodResult | None:
    """The one dmarc= result: permerror for an ambiguous From (failing readings noted)."""
    if ambiguous:
        fails = [f"fail p={policy} {domain}" for domain, result, policy in outcomes
                 if result == "fail"]  # fmt: skip
        return MethodResult("dmarc", "permerror", reason="; ".join(["ambiguous From", *fails]))
    if not outcomes:
        return None
    domain, result, policy = outcomes[0]
    reason = f"p={policy}" if policy else ""
    return MethodResult("dmarc", result, (("header.from", domain),), reason=reason)


def _finding(result: MethodResult, peer: str) -> Finding | None:
    key = (result.method, result.result)
    if key in {("spf", "fail"), ("spf", "softfail")}:
        domain = (result.prop("smtp.mailfrom") or result.prop("smtp.helo")).rpartition("@")[2]
        hedge = "is not" if result.result == "fail" else "is probably not"
        return Finding(
            symbol=f"AUTH_SPF_{result.result.upper()}",
            explanation=(
                f"The sending server {peer} {hedge} allowed to send mail for {domain}, "
                f"according to {domain}'s SPF record."
            ),
            evidence=(domain, peer, result.header_text()),
        )
    if key == ("dkim", "fail"):
        domain = result.prop("header.d")
        return Finding(
            symbol="AUTH_DKIM_FAIL",
            explanation=(
                f"The DKIM signature of {domain} does not match the message, so it was "
                "changed after signing or the signature is forged."
            ),
            evidence=(domain, result.header_text()),
        )
    if key == ("arc", "fail"):
        return Finding(
            symbol="AUTH_ARC_FAIL",
            explanation="The message's ARC chain, the record of earlier forwarding, is broken.",
            evidence=(result.header_text(),),
        )
    return None


def _ambiguous_finding(msg: ParsedMessage, readings: FromReadings, name: str) -> Finding:
    senders = [a.address for a in msg.from_] or msg.header_all("From")
    return Finding(
        symbol="AUTH_FROM_AMBIGUOUS",
        explanation=(
            f"The sender cannot be told for sure ({readings.reason}), so mail programs may "
            "show another sender than the one authenticated; a known way to spoof a sender."
        ),
        evidence=tuple(dict.fromkeys([*(s.strip() for s in senders), *readings.domains])),
        detector=name,
    )


def _dmarc_finding(
    failed: Sequence[tuple[str, str]], peer: str, ambiguous: bool, name: str
) -> Finding:
    """One AUTH_DMARC_FAIL for the failing From domains, factored by the strongest policy."""
    ranked = sorted(failed, key=lambda item: -_POLICY_FACTOR.get(item[1], 0.3))
    domain, policy = ranked[0]
    claim = "Some mail programs show the sender as" if ambiguous else "The sender claims to be"
    others = [f"{d} (p={p})" for d, p in ranked[1:]]
    also = f" DMARC fails for {', '.join(others)} too." if others else ""
    return Finding(
        symbol="AUTH_DMARC_FAIL",
        explanation=(
            f"{claim} {domain}, but {domain}'s DMARC policy ({policy}) says this server "
            f"({peer}) may not send for it.{also}"
        ),
        evidence=tuple(dict.fromkeys((domain, f"p={policy}", peer, *(d for d, _ in ranked)))),
        factor=_POLICY_FACTOR.get(policy, 0.3),
        detector=name,
    )


def trusted_results(
    headers: Sequence[str], trusted: Sequence[str]
) -> dict[str, list[MethodResult]]:
    """Method results of the topmost Authentication-Results header from a trusted authserv-id."""
    if not trusted:
        return {}
    for value in headers:
        parts = [p.strip() for p in _COMMENT.sub(" ", value).split(";")]
        words = parts[0].split()
        if not words or words[0].lower() not in trusted:
            continue
        out: dict[str, list[MethodResult]] = {}
        for part in parts[1:]:
            tokens = part.split()
            if not tokens or "=" not in tokens[0]:
                continue
            method, _, result = tokens[0].partition("=")
            method = method.split("/")[0].lower()
            props = tuple((k, v) for k, _, v in (t.partition("=") for t in tokens[1:]) if v)
            out.setdefault(method, []).append(MethodResult(method, result.lower(), props))
        return out
    return {}
