"""The detector contract: what a detector declares and what it is given.

A detector is a class with a ``name`` (also its config section under ``[detectors.<name>]``),
the ``symbols`` it may raise with their default weight, group and description, a ``timeout``,
a pydantic ``Settings`` model for its options, and ``async check(msg, ctx)`` that returns
Findings. A detector that weighs what others found (the identity detector reads the DKIM and
DMARC results) declares ``stage: ClassVar[int] = 1``: detectors of one stage run concurrently,
stage by stage, and a later stage sees ``ctx.findings``, ``ctx.auth_results`` and
``ctx.expansions`` (the archives detector's expansions of the attachments) of earlier ones.
A detector never decides what happens to a message, and does I/O only through clients in the
ScanContext.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from mailward.config.settings import Settings
from mailward.model import Envelope, Finding, ParsedMessage

if TYPE_CHECKING:
    from mailward.attachments import ExpansionResult


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """A symbol's defaults; configuration may override weight, group and description."""

    weight: float
    group: str
    description: str


class DetectorSettings(BaseModel):
    """Base of a detector's settings model: unknown keys fail at start-up."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class ScanContext:
    """What a detector may know beyond the message: the envelope and the organisation."""

    envelope: Envelope | None
    settings: Settings
    clients: Mapping[str, Any] = field(default_factory=dict)
    #: RFC 8601 method results ("spf=pass smtp.mailfrom=example.com") detectors add.
    auth_results: list[str] = field(default_factory=list)
    #: Findings of the earlier stages, for a detector of a later stage (``stage`` > 0).
    findings: list[Finding] = field(default_factory=list)
    #: Archive expansions of this message's attachments, by the attachment's sha256: the
    #: archives detector publishes them so a later stage reads members without expanding again.
    expansions: dict[str, ExpansionResult] = field(default_factory=dict)

    @property
    def accepted_domains(self) -> tuple[str, ...]:
        return self.settings.organisation.accepted_domains


class Detector(Protocol):
    name: ClassVar[str]
    symbols: ClassVar[Mapping[str, SymbolSpec]]
    timeout: ClassVar[float]
    #: A failure of this detector must not let mail through unscanned.
    fail_closed: ClassVar[bool]

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]: ...


class DetectorFactory(Protocol):
    """A detector class: built from its validated settings."""

    @property
    def name(self) -> str: ...
    @property
    def symbols(self) -> Mapping[str, SymbolSpec]: ...
    @property
    def Settings(self) -> type[DetectorSettings]: ...

    def __call__(self, settings: Any) -> Detector: ...
