"""The auth detector's findings and its dmarc= result, from the method results it gathered.

Also reads a trusted upstream's Authentication-Results (``trust_authentication_results_from``).
"""

from __future__ import annotations

from collections.abc import Sequence

from mailward.detectors._auth_methods import MethodResult
from mailward.detectors._dmarc_policy import DmarcOutcome, parse_results
from mailward.detectors._from_header import FromReadings
from mailward.model import Finding, ParsedMessage

_POLICY_FACTOR = {"reject": 1.0, "quarantine": 0.8, "none": 0.65}
_POLICY_SYMBOL = {"reject": "AUTH_DMARC_REJECT", "quarantine": "AUTH_DMARC_QUARANTINE"}


def method_finding(result: MethodResult, peer: str) -> Finding | None:
    """The finding for a failing SPF, DKIM or ARC result; None for the others."""
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


def dmarc_result(outcomes: Sequence[DmarcOutcome], readings: FromReadings) -> MethodResult | None:
    """The one dmarc= result: permerror when the From mailbox is uncertain (failing readings
    noted); the From domain's own result when only the display name shows another domain."""
    fails = [f"fail {o.comment} {o.domain}" for o in outcomes if o.result == "fail"]
    if readings.tricks and not readings.display_only:
        return MethodResult("dmarc", "permerror", reason="; ".join(["ambiguous From", *fails]))
    own = [o for o in outcomes if o.domain == readings.author]
    if not own:
        return None
    first = own[0]
    shown = [f"display name shows {o.domain}: fail {o.comment}"
             for o in outcomes if o is not first and o.result == "fail"]  # fmt: skip
    reason = "; ".join(x for x in (first.comment, *shown) if x)
    return MethodResult("dmarc", first.result, (("header.from", first.domain),), reason=reason)


def dmarc_findings(
    outcomes: Sequence[DmarcOutcome], peer: str, readings: FromReadings, name: str
) -> list[Finding]:
    """AUTH_DMARC_FAIL for the failing From domains a reader may see, factored by the
    strongest policy, and the policy symbol of the strongest disposition applied here.
    A failure a trusted ARC forwarder vouched for does not count, nor one of a p=none domain
    that only the display name shows."""
    name_only = readings.display_only or not readings.tricks
    failed = [
        o for o in outcomes
        if o.result == "fail" and not o.by_arc
        # a domain only the display name shows counts when its owner asks for enforcement
        and (o.domain == readings.author or not name_only or o.weighs_as != "none")
    ]  # fmt: skip
    if not failed:
        return []
    ranked = sorted(failed, key=lambda o: -_POLICY_FACTOR.get(o.weighs_as, 0.65))
    top = ranked[0]
    if top.domain == readings.author:
        claim = "The sender claims to be"
    elif name_only:
        claim = "The sender's display name shows"
    else:
        claim = "Some mail programs show the sender as"
    others = [f"{o.domain} (p={o.policy})" for o in ranked[1:]]
    also = f" DMARC fails for {', '.join(others)} too." if others else ""
    findings = [
        Finding(
            symbol="AUTH_DMARC_FAIL",
            explanation=(
                f"{claim} {top.domain}, but {top.domain}'s DMARC policy ({top.policy}) says "
                f"this server ({peer}) may not send for it.{also}"
            ),
            evidence=tuple(
                dict.fromkeys((top.domain, f"p={top.policy}", peer, *(o.domain for o in ranked)))
            ),
            factor=_POLICY_FACTOR.get(top.weighs_as, 0.65),
            detector=name,
        )
    ]
    strongest = max(failed, key=lambda o: o.rank)
    symbol = _POLICY_SYMBOL.get(strongest.disposition)
    if symbol is not None:
        how = f" ({strongest.note})" if strongest.note else ""
        findings.append(
            Finding(
                symbol=symbol,
                explanation=(
                    f"{strongest.domain} asks receivers to {strongest.disposition} mail that "
                    f"fails DMARC (p={strongest.policy}); this message fails it{how}."
                ),
                evidence=(strongest.domain, f"p={strongest.policy}",
                          f"dis={strongest.disposition}"),
                detector=name,
            )
        )  # fmt: skip
    return findings


def ambiguous_finding(msg: ParsedMessage, readings: FromReadings, name: str) -> Finding:
    senders = [a.address for a in msg.from_] or msg.header_all("From")
    return Finding(
        symbol="AUTH_FROM_AMBIGUOUS",
        explanation=(
            f"The sender cannot be told for sure ({readings.reason}), so mail programs may "
            "show another sender than the one authenticated; a known way to spoof a sender."
        ),
        evidence=tuple(dict.fromkeys([*(s.strip() for s in senders), *readings.domains])),
        factor=0.5 if readings.display_only else 1.0,
        detector=name,
    )


def trusted_results(
    headers: Sequence[str], trusted: Sequence[str]
) -> dict[str, list[MethodResult]]:
    """Method results of the topmost Authentication-Results header from a trusted authserv-id."""
    if not trusted:
        return {}
    for value in headers:
        authserv_id, results = parse_results(value)
        if authserv_id not in trusted:
            continue
        out: dict[str, list[MethodResult]] = {}
        for result in results:
            out.setdefault(result.method, []).append(result)
        return out
    return {}
