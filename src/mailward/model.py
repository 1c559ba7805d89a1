"""The data that travels through the gateway, as frozen dataclasses.

Envelope      what the SMTP session said (MAIL FROM, RCPT TO, peer, HELO, TLS, auth)
ParsedMessage what the message bytes say, decoded: headers, text, HTML, URLs, attachments
Finding       one thing a detector noticed: SYMBOL, score, one-sentence explanation, evidence
ScanResult    all findings of one scan, scored
Verdict       what policy decided to do with the message (an Action) and why
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal


class Action(enum.StrEnum):
    """What happens to a message. Ordered from mildest to strongest by ``severity``."""

    DELIVER = "deliver"
    TAG = "tag"
    DISARM = "disarm"
    QUARANTINE = "quarantine"
    HOLD = "hold"
    REJECT = "reject"
    TEMPFAIL = "tempfail"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {
    Action.DELIVER: 0,
    Action.TAG: 1,
    Action.DISARM: 2,
    Action.QUARANTINE: 3,
    Action.HOLD: 3,
    Action.REJECT: 4,
    Action.TEMPFAIL: 4,
}


@dataclass(frozen=True, slots=True)
class Envelope:
    """The SMTP envelope of one message, as the front end received it."""

    mail_from: str  # "" for the null sender <>
    rcpt_tos: tuple[str, ...]
    peer_ip: str = "127.0.0.1"
    helo: str = ""
    received_at: float = 0.0
    authenticated_as: str | None = None
    tls: bool = False
    internal: bool = False  # the peer is in a configured internal network


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox from an address header: display name, address, lower-cased domain."""

    display_name: str
    address: str
    domain: str


@dataclass(frozen=True, slots=True)
class Url:
    """One link found in the message.

    ``host`` is lower-case ASCII (IDNA form where the link used Unicode), ``domain`` its
    registrable domain (public-suffix aware) or the IP literal. ``anchor_text`` is the text a
    reader sees for an HTML link, None for links found in plain text.
    """

    url: str
    scheme: str
    host: str
    domain: str
    source: Literal["text", "html", "attachment"]
    anchor_text: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attached (or inline non-text) part, with its type found from content."""

    filename: str | None
    declared_type: str  # Content-Type as the sender declared it
    detected_type: str  # MIME type found from the bytes (libmagic)
    detected_description: str  # libmagic's human-readable description
    size: int
    sha256: str
    content: bytes = field(repr=False)
    inline: bool = False
    #: Every name a mail program could show for the part (``filename`` among them): see
    #: :mod:`mailward.mime._names`. Empty for attachments not built by the parser.
    names: tuple[str, ...] = ()
    #: MD5 and SHA-1 (hex) when known already: a scan process sends them back to the gateway
    #: instead of ``content`` (then empty); "" when not computed.
    md5: str = ""
    sha1: str = ""

    @property
    def all_names(self) -> tuple[str, ...]:
        """``filename`` and ``names``, once each."""
        first = (self.filename,) if self.filename else ()
        return tuple(dict.fromkeys((*first, *self.names)))


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """A message decoded for the detectors. Built by :mod:`mailward.mime`; never mutated."""

    raw: bytes = field(repr=False)
    headers: tuple[tuple[str, str], ...]
    message_id: str
    subject: str
    from_: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    text: str
    html: str
    urls: tuple[Url, ...]
    attachments: tuple[Attachment, ...]
    defects: tuple[str, ...] = ()
    #: MIME ambiguities ("code: explanation"), see :mod:`mailward.mime._ambiguity`; the text,
    #: links and attachments above are then the union of every reading of the message.
    ambiguities: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive), or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        """Every header called ``name``, in order."""
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]


@dataclass(frozen=True, slots=True)
class TextSignature:
    """A message's campaign signature (the MinHash of its normalised text, see
    :mod:`mailward.activity.campaign_text`), made by the scan process that parsed it and sent
    back with the verdict, so the gateway does not normalise and hash the text again. The
    settings it was made with travel along: one made with others is not used."""

    num_perm: int
    shingle_words: int
    #: The MinHash values, little-endian uint32 (``campaign_text.to_bytes``).
    hashvalues: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Finding:
    """One symbol a detector raised.

    Detectors set ``factor`` (0..1, how strongly the symbol applies; rspamd's dynamic score);
    scoring fills ``score`` = configured weight x factor.
    """

    symbol: str
    explanation: str
    evidence: tuple[str, ...] = ()
    factor: float = 1.0
    score: float = 0.0
    detector: str = ""


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The scored findings of one scan."""

    findings: tuple[Finding, ...]
    score: float
    elapsed_ms: float
    #: The strongest action the score may cause: set when only groups that may not decide
    #: alone (``[scoring.groups.<g>] alone_at_most``) speak; None for no ceiling.
    ceiling: Action | None = None
    #: Why the ceiling applies, for the verdict's reason.
    ceiling_reason: str = ""

    @property
    def symbols(self) -> frozenset[str]:
        return frozenset(f.symbol for f in self.findings)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What policy decided: the action, why, and the headers to add when delivering."""

    action: Action
    score: float
    reason: str
    findings: tuple[Finding, ...] = ()
    forced_by: str | None = None
    add_headers: tuple[tuple[str, str], ...] = ()
    subject_prefix: str | None = None

    def to_json(self) -> Mapping[str, object]:
        return {
            "action": str(self.action),
            "score": round(self.score, 2),
            "reason": self.reason,
            "findings": [finding_to_json(f) for f in self.findings],
        }


def finding_to_json(finding: Finding) -> dict[str, object]:
    return {
        "symbol": finding.symbol,
        "score": round(finding.score, 2),
        "explanation": finding.explanation,
        "evidence": list(finding.evidence),
    }


def findings_from_json(items: Sequence[Mapping[str, object]]) -> tuple[Finding, ...]:
    out: list[Finding] = []
    for item in items:
        evidence = item.get("evidence", [])
        out.append(
            Finding(
                symbol=str(item["symbol"]),
                explanation=str(item.get("explanation", "")),
                evidence=tuple(str(e) for e in evidence) if isinstance(evidence, list) else (),
                score=float(str(item.get("score", 0.0))),
            )
        )
    return tuple(out)
