"""The authentication methods behind the auth detector: SPF, DKIM, ARC and DMARC.

SPF runs pyspf, DKIM and ARC run dkimpy; both libraries are synchronous, so they run in a worker
thread and do their DNS through :class:`mailward.dns.SyncDnsBridge`, i.e. through the scan's
async :class:`~mailward.dns.DnsClient` (its name servers, port, timeout and cache).

pyspf has no per-query resolver hook: ``spf.query.dns`` calls the module function
``spf.DNSLookup``. This module replaces that function once, at import, with a dispatcher that
uses the bridge found in a ContextVar and falls back to pyspf's own lookup when none is set.
``asyncio.to_thread`` copies the caller's context into the worker, so concurrent scans each see
their own bridge and there is no shared mutable state.

DMARC (RFC 7489) is evaluated here from those results and the ``_dmarc`` TXT record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import dkim
import dns.exception
import dns.name
import dns.reversename
import spf

from mailward.detectors._domains import normalise_host, organisation_domain
from mailward.dns import DnsClient, DnsTempError, SyncDnsBridge

log = logging.getLogger("mailward.detectors.auth")

#: The most DKIM-Signature headers verified per message.
MAX_DKIM_SIGNATURES = 5

_SPF_BRIDGE: ContextVar[SyncDnsBridge | None] = ContextVar("mailward_spf_bridge", default=None)
_PYSPF_LOOKUP = spf.DNSLookup


def _spf_dns_lookup(name: str, qtype: str, strict: Any = True, timeout: Any = None) -> list[Any]:
    """pyspf's DNSLookup, answered by the bridge of the current context when there is one."""
    bridge = _SPF_BRIDGE.get()
    if bridge is None:
        return list(_PYSPF_LOOKUP(name, qtype, strict, timeout))
    try:
        values = bridge.run(_spf_answer(bridge.client, name, qtype))
    except DnsTempError as exc:
        raise spf.TempError(f"DNS {exc}") from exc
    return [((name, qtype), value) for value in values]


async def _spf_answer(client: DnsClient, name: str, qtype: str) -> list[Any]:
    """Values in the shapes pyspf's dnspython lookup gives them."""
    if qtype == "TXT":
        return [(text.encode("utf-8"),) for text in await client.txt(name)]
    if qtype == "A":
        return list(await client.a(name))
    if qtype == "AAAA":
        return list(await client.aaaa(name))
    if qtype == "MX":
        return list(await client.mx(name))
    if qtype == "PTR":
        try:
            ip = dns.reversename.to_address(dns.name.from_text(name))
        except (ValueError, dns.exception.DNSException):
            return []
        return list(await client.ptr(ip))
    return []  # type SPF (99) and anything else: not published any more


spf.DNSLookup = _spf_dns_lookup


@dataclass(frozen=True, slots=True)
class MethodResult:
    """One RFC 8601 method result: ``method=result`` plus its properties."""

    method: str
    result: str
    props: tuple[tuple[str, str], ...] = ()
    reason: str = ""

    def prop(self, name: str) -> str:
        return next((v for k, v in self.props if k == name), "")

    def header_text(self) -> str:
        parts = [f"{self.method}={self.result}"]
        if self.reason:
            parts.append(f"({self.reason})")
        parts.extend(f"{k}={v}" for k, v in self.props if v)
        return " ".join(parts)


async def check_spf(bridge: SyncDnsBridge, ip: str, mail_from: str, helo: str) -> MethodResult:
    """SPF for MAIL FROM (or postmaster@HELO for the null sender)."""
    sender = mail_from or f"postmaster@{helo}"
    domain = normalise_host(sender.rpartition("@")[2])
    prop = ("smtp.mailfrom", sender) if mail_from else ("smtp.helo", helo)
    token = _SPF_BRIDGE.set(bridge)
    try:
        result, _ = await asyncio.to_thread(spf.check2, i=ip, s=sender, h=helo or domain)
    finally:
        _SPF_BRIDGE.reset(token)
    return MethodResult("spf", str(result).lower(), (prop,), reason=f"domain {domain}")


def _dkim_tags(header: str) -> dict[str, str]:
    try:
        tags = dkim.util.parse_tag_value("".join(header.split()).encode("utf-8", "replace"))
    except Exception:  # dkimpy raises its own tag errors; any means "unreadable"
        return {}
    return {k.decode("ascii", "replace"): v.decode("ascii", "replace") for k, v in tags.items()}


def _verify_dkim(raw: bytes, idx: int, bridge: SyncDnsBridge) -> str:
    keys: list[bytes | None] = []

    def dnsfunc(name: bytes, timeout: float = 5.0) -> bytes | None:
        keys.append(bridge.dkim_txt(name, timeout))
        return keys[-1]

    before = bridge.temp_errors
    try:
        ok = dkim.DKIM(raw, logger=log).verify(idx, dnsfunc=dnsfunc)
    except dkim.ValidationError as exc:
        # the body hash does not match: the message was changed (RFC 6376 6.1.3)
        return "fail" if "body hash mismatch" in str(exc) else "permerror"
    except dkim.DKIMException:
        return "permerror"
    if ok:
        return "pass"
    if bridge.temp_errors > before:
        return "temperror"
    return "permerror" if keys and keys[-1] is None else "fail"


async def check_dkim(
    raw: bytes, signatures: Sequence[str], bridge: SyncDnsBridge
) -> list[MethodResult]:
    """One result per DKIM-Signature (the first MAX_DKIM_SIGNATURES); ``dkim=none`` if none."""
    if not signatures:
        return [MethodResult("dkim", "none")]
    out: list[MethodResult] = []
    for idx, header in enumerate(signatures[:MAX_DKIM_SIGNATURES]):
        tags = _dkim_tags(header)
        result = await asyncio.to_thread(_verify_dkim, raw, idx, bridge)
        props = (("header.d", tags.get("d", "").lower()), ("header.s", tags.get("s", "")))
        out.append(MethodResult("dkim", result, props))
    return out


def _verify_arc(raw: bytes, bridge: SyncDnsBridge) -> str:
    before = bridge.temp_errors
    cv, _, _ = dkim.arc_verify(raw, logger=log, dnsfunc=bridge.dkim_txt)
    result = bytes(cv).decode("ascii", "replace").lower()
    return "temperror" if result == "fail" and bridge.temp_errors > before else result


async def check_arc(raw: bytes, has_arc: bool, bridge: SyncDnsBridge) -> MethodResult:
    """The ARC chain validation result (RFC 8617): pass, fail, none or temperror."""
    if not has_arc:
        return MethodResult("arc", "none")
    return MethodResult("arc", await asyncio.to_thread(_verify_arc, raw, bridge))


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    """The parts of a DMARC record this detector uses."""

    domain: str  # where it was found
    policy: str
    subdomain_policy: str
    adkim: str
    aspf: str
    pct: int


def parse_dmarc(domain: str, text: str) -> DmarcRecord | None:
    """A ``v=DMARC1`` record's tags; None when it is not a DMARC record."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags.setdefault(key.strip().lower(), value.strip())
    if tags.get("v", "").upper() != "DMARC1":
        return None
    policy = tags.get("p", "none").lower()
    policy = policy if policy in {"none", "quarantine", "reject"} else "none"
    sub = tags.get("sp", policy).lower()
    try:
        pct = max(0, min(100, int(tags.get("pct", "100"))))
    except ValueError:
        pct = 100
    return DmarcRecord(
        domain=domain,
        policy=policy,
        subdomain_policy=sub if sub in {"none", "quarantine", "reject"} else policy,
        adkim="s" if tags.get("adkim", "r").lower() == "s" else "r",
        aspf="s" if tags.get("aspf", "r").lower() == "s" else "r",
        pct=pct,
    )


async def fetch_dmarc(client: DnsClient, from_domain: str) -> DmarcRecord | None:
    """The DMARC record for ``from_domain``, else its organisational domain's (RFC 7489 6.6.3)."""
    org = organisation_domain(from_domain)
    for domain in dict.fromkeys((from_domain, org)):
        records = [r for r in await client.txt(f"_dmarc.{domain}") if parse_dmarc(domain, r)]
        if len(records) == 1:
            return parse_dmarc(domain, records[0])
        if records:
            return None  # several records: no DMARC (RFC 7489 6.6.3 step 5)
    return None


def aligned(domain: str, from_domain: str, mode: str) -> bool:
    """Identifier alignment: exact in strict mode, same organisational domain in relaxed."""
    domain, from_domain = normalise_host(domain), normalise_host(from_domain)
    if not domain:
        return False
    if mode == "s":
        return domain == from_domain
    return organisation_domain(domain) == organisation_domain(from_domain)


def applied_policy(record: DmarcRecord, from_domain: str) -> str:
    """p= for the domain the record is published at, sp= for its subdomains (``pct`` is
    applied by :func:`mailward.detectors._dmarc_policy.dispose`)."""
    if normalise_host(from_domain) == record.domain:
        return record.policy
    return record.subdomain_policy


def evaluate_dmarc(
    record: DmarcRecord,
    from_domain: str,
    spf_result: MethodResult | None,
    dkims: Sequence[MethodResult],
) -> tuple[str, str]:
    """("pass" | "fail", how): pass when SPF or a DKIM signature passes aligned."""
    if spf_result is not None and spf_result.result == "pass":
        identity = spf_result.prop("smtp.mailfrom") or spf_result.prop("smtp.helo")
        spf_domain = identity.rpartition("@")[2]
        if aligned(spf_domain, from_domain, record.aspf):
            return "pass", f"spf {spf_domain}"
    for result in dkims:
        if result.result == "pass" and aligned(result.prop("header.d"), from_domain, record.adkim):
            return "pass", f"dkim {result.prop('header.d')}"
    return "fail", ""
