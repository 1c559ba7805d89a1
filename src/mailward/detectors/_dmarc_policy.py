"""What a DMARC failure means for the message: the sender domain's policy as applied here.

RFC 7489 6.6.4: a failing message gets the policy of its From domain (``p=``, or ``sp=`` for a
subdomain); ``pct`` below 100 applies it to that share of messages only, the rest get the next
lower policy (reject -> quarantine -> none). The share is picked by a hash of the message bytes,
so a re-scan of the same message decides the same way.

Local policy (as OpenARC and rspamd allow) may change that, in this order:

1. a trusted ARC forwarder: when the ARC chain validates, the latest ARC set was sealed by a
   domain in ``trusted_arc_sealers``, and that sealer's ARC-Authentication-Results say the
   message passed DMARC for this From domain when it arrived there (``dmarc=pass`` for it, or
   an SPF or DKIM pass aligned with it), the failure is explained by the forwarding and is not
   held against the message (reported as ``dis=none, overridden: arc from <sealer>``).
   A chain that does not validate, or a sealer not trusted, changes nothing;
2. ``dmarc_policy_override``: the operator's policy for a domain and its subdomains;
3. ``honour_dmarc_policy = false``: failures only score, no policy is applied.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mailward.detectors._auth_methods import DmarcRecord, MethodResult, aligned, applied_policy
from mailward.detectors._domains import normalise_host, parent_domains

_COMMENT = re.compile(r"\([^()]*\)")
_LOWER = {"reject": "quarantine", "quarantine": "none", "none": "none"}
_RANK = {"reject": 3, "quarantine": 2, "none": 1, "": 0}


@dataclass(frozen=True, slots=True)
class DmarcOutcome:
    """DMARC for one From domain: its result, policy, and what is applied here."""

    domain: str
    result: str  # pass, fail, none, temperror
    policy: str = ""  # the record's policy for this domain (p= or sp=); "" without a record
    disposition: str = ""  # what is applied to a failing message: reject, quarantine or none
    note: str = ""  # why the disposition is not the policy
    by_arc: bool = False  # a trusted ARC forwarder vouched for the message

    @property
    def comment(self) -> str:
        """``p=reject``, or ``p=reject dis=none, overridden: arc from lists.example.net``."""
        if not self.policy:
            return ""
        if self.disposition in ("", self.policy) and not self.note:
            return f"p={self.policy}"
        return ", ".join(x for x in (f"p={self.policy} dis={self.disposition}", self.note) if x)

    @property
    def weighs_as(self) -> str:
        """The policy that sets how much the failure scores: the operator's own when set."""
        return self.disposition if self.note.startswith("local policy") else self.policy

    @property
    def rank(self) -> int:
        return _RANK.get(self.disposition, 0)


@dataclass(frozen=True, slots=True)
class ArcSet:
    """The latest ARC set of a message: who sealed it and what it found on arrival."""

    sealer: str
    results: tuple[MethodResult, ...]


@dataclass(frozen=True, slots=True)
class LocalPolicy:
    """The operator's settings that change what a DMARC failure leads to."""

    honour: bool = True
    overrides: Mapping[str, str] | None = None
    trusted_sealers: Sequence[str] = ()


def parse_results(value: str) -> tuple[str, list[MethodResult]]:
    """(authserv-id, method results) of an Authentication-Results value (no ``i=`` tag)."""
    parts = [p.strip() for p in _COMMENT.sub(" ", value).split(";")]
    words = parts[0].split()
    out: list[MethodResult] = []
    for part in parts[1:]:
        tokens = part.split()
        if not tokens or "=" not in tokens[0]:
            continue
        method, _, result = tokens[0].partition("=")
        props = tuple((k, v) for k, _, v in (t.partition("=") for t in tokens[1:]) if v)
        out.append(MethodResult(method.split("/")[0].lower(), result.lower(), props))
    return (words[0].lower() if words else ""), out


def _tags(value: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, val = part.partition("=")
        if sep:
            tags.setdefault(key.strip().lower(), "".join(val.split()))
    return tags


def latest_arc_set(seals: Sequence[str], results: Sequence[str]) -> ArcSet | None:
    """The highest-instance ARC set, from the ARC-Seal and ARC-Authentication-Results values."""
    instances: dict[int, str] = {}
    for seal in seals:
        tags = _tags(seal)
        if tags.get("i", "").isdigit() and tags.get("d"):
            instances[int(tags["i"])] = tags["d"].lower()
    if not instances:
        return None
    top = max(instances)
    for value in results:
        head, sep, rest = value.partition(";")
        if sep and head.strip().lower().replace(" ", "") == f"i={top}":
            return ArcSet(instances[top], tuple(parse_results(rest)[1]))
    return ArcSet(instances[top], ())


def _trusted(sealer: str, trusted: Sequence[str]) -> bool:
    return bool(set(parent_domains(normalise_host(sealer))) & set(trusted))


def arc_vouches(arc: ArcSet, domain: str, record: DmarcRecord) -> bool:
    """The sealer saw DMARC pass for ``domain``: dmarc=pass for it, or SPF or DKIM aligned."""
    for r in arc.results:
        if r.result != "pass":
            continue
        if r.method == "dmarc" and normalise_host(r.prop("header.from")) == domain:
            return True
        if r.method == "dkim" and aligned(r.prop("header.d"), domain, record.adkim):
            return True
        if r.method == "spf":
            identity = r.prop("smtp.mailfrom") or r.prop("smtp.helo")
            if aligned(identity.rpartition("@")[2], domain, record.aspf):
                return True
    return False


def sampled_in(record: DmarcRecord, raw: bytes) -> bool:
    """Whether this message is in the ``pct`` share the policy applies to (RFC 7489 6.6.4)."""
    if record.pct >= 100:
        return True
    return int.from_bytes(hashlib.sha256(raw).digest()[:4], "big") % 100 < record.pct


def dispose(
    outcome: DmarcOutcome,
    record: DmarcRecord | None,
    raw: bytes,
    local: LocalPolicy,
    arc: ArcSet | None,
) -> DmarcOutcome:
    """``outcome`` with the disposition applied here to a failing message; see the docstring."""
    if outcome.result != "fail" or record is None:
        return outcome
    policy = outcome.policy or applied_policy(record, outcome.domain)
    domain = outcome.domain

    def done(disposition: str, note: str = "", by_arc: bool = False) -> DmarcOutcome:
        return DmarcOutcome(domain, "fail", policy, disposition, note, by_arc)

    trusted = arc is not None and _trusted(arc.sealer, local.trusted_sealers)
    if arc is not None and trusted and arc_vouches(arc, domain, record):
        return done("none", f"overridden: arc from {arc.sealer}", by_arc=True)
    override = _override(domain, local.overrides or {})
    if override:
        return done(override, f"local policy {override}")
    if not local.honour:
        return done("none", "policy not enforced here")
    if not sampled_in(record, raw):
        return done(_LOWER[policy], f"pct={record.pct} sampled out")
    return done(policy)


def _override(domain: str, overrides: Mapping[str, str]) -> str:
    for name in parent_domains(normalise_host(domain)):
        if name in overrides:
            return overrides[name]
    return ""
