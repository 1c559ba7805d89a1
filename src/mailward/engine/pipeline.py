"""The scan pipeline: bytes -> ParsedMessage -> detectors (concurrent, timed) -> score -> verdict.

A parse failure does not stop the pipeline: it becomes a MIME_* finding, and policy's force
rules keep the message in quarantine. A detector that raises or times out becomes an
ENGINE_* finding of weight 0 and is logged; a fail-closed one also raises ENGINE_FAIL_CLOSED.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mailward.config.settings import Settings
from mailward.engine import _inline
from mailward.engine._finding_copy import with_detector
from mailward.engine.contract import Detector, ScanContext
from mailward.engine.registry import build_detectors, symbol_table
from mailward.engine.scoring import Scorer
from mailward.errors import LimitExceeded, ParseError
from mailward.mime import parse_message
from mailward.model import (
    Envelope,
    Finding,
    ParsedMessage,
    ScanResult,
    TextSignature,
    Verdict,
)
from mailward.policy.decide import FAIL_CLOSED_SYMBOL, decide
from mailward.response.lockdown import Level, is_external

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """Everything one scan produced."""

    parsed: ParsedMessage | None
    result: ScanResult
    verdict: Verdict
    #: The campaign signature, when the scan process made it (see TextSignature); None from
    #: an in-process scan: the campaigns make it themselves then.
    text_signature: TextSignature | None = None

    @property
    def message_id(self) -> str:
        return self.parsed.message_id if self.parsed else ""


class Engine:
    """Runs the configured detectors over messages. Build once; scan many."""

    def __init__(
        self,
        settings: Settings,
        detectors: Sequence[Detector] | None = None,
        clients: Mapping[str, Any] | None = None,
        lockdown: Callable[[], Level] | None = None,
        *,
        prepare: bool = True,
    ) -> None:
        """``lockdown`` tells the level in force (see mailward.response.lockdown).

        ``prepare``: build now what detectors would build on their first scan (their
        ``prepare()``: the lure phrases, a second to compile), so that no scan pays for it;
        False for an engine whose detectors never scan (IsolatedEngine's, in the gateway)."""
        self.settings = settings
        self.lockdown = lockdown
        self.detectors = list(build_detectors(settings) if detectors is None else detectors)
        if prepare:
            for detector in self.detectors:
                ready = getattr(detector, "prepare", None)
                if callable(ready):
                    ready()
        self.scorer = Scorer(symbol_table(self.detectors), settings.scoring)
        self.clients = dict(clients or {})
        self._plan: tuple[tuple[Detector, ...], list[list[Detector]]] = ((), [])

    def _stages(self) -> list[list[Detector]]:
        """The detectors grouped by stage, stages in order (worked out again only when
        ``self.detectors`` changes)."""
        current = tuple(self.detectors)
        if self._plan[0] != current:
            stages = sorted({detector_stage(d) for d in current})
            groups = [[d for d in current if detector_stage(d) == stage] for stage in stages]
            self._plan = (current, groups)
        return self._plan[1]

    async def scan(self, raw: bytes, envelope: Envelope | None = None) -> ScanOutcome:
        started = time.perf_counter()
        ctx = ScanContext(envelope=envelope, settings=self.settings, clients=self.clients)
        parsed: ParsedMessage | None = None
        try:
            parsed = parse_message(raw, self.settings.limits)
        except LimitExceeded as exc:
            findings: list[Finding] = [_mime_finding("MIME_TOO_COMPLEX", exc)]
        except ParseError as exc:
            findings = [_mime_finding("MIME_UNPARSEABLE", exc)]
        else:
            findings = await self._run_detectors(parsed, ctx)
        elapsed = (time.perf_counter() - started) * 1000
        result = self.scorer.score(findings, elapsed)
        level = self.lockdown() if self.lockdown is not None else Level.NORMAL
        accepted = self.settings.organisation.accepted_domains
        policy = self.settings.policy
        if envelope is not None and (envelope.internal or envelope.authenticated_as):
            policy = policy.for_outbound()  # [policy.outbound]: mail from inside
        verdict = decide(
            result,
            policy,
            authserv_id=self.settings.organisation.authserv_id,
            auth_results=ctx.auth_results,
            heightened=self.settings.lockdown if level.tightened else None,
            external_links=bool(
                envelope is not None and parsed is not None and parsed.urls
                and is_external(envelope, accepted)
            ),
        )
        return ScanOutcome(parsed=parsed, result=result, verdict=verdict)

    async def _run_detectors(self, msg: ParsedMessage, ctx: ScanContext) -> list[Finding]:
        """Detectors of one stage run concurrently; a later stage sees the earlier ones'
        findings and authentication results (``ctx.findings``, ``ctx.auth_results``).

        Each detector's coroutine is first run inline (:mod:`mailward.engine._inline`): one
        that finishes without waiting for anything costs no task; the ones that suspend (DNS, a
        thread, a socket) go on concurrently, each under its timeout."""
        findings: list[Finding] = []
        for stage in self._stages():
            batches: list[Sequence[Finding] | None] = []
            waiting: list[Awaitable[Sequence[Finding]]] = []
            slots: list[int] = []
            for detector in stage:
                started = time.monotonic()
                try:
                    first = _inline.step(detector.check(msg, ctx))
                except Exception as exc:
                    batches.append(_error(detector, msg, exc))
                    continue
                if isinstance(first, _inline.Done):
                    batches.append(_labelled(detector, first.value))
                    continue
                slots.append(len(batches))
                batches.append(None)
                waiting.append(self._finish(detector, msg, first, started))
            if waiting:
                for slot, batch in zip(slots, await asyncio.gather(*waiting), strict=True):
                    batches[slot] = batch
            for done in batches:
                findings.extend(done or ())
            ctx.findings[:] = findings
        return findings

    async def _finish(
        self,
        detector: Detector,
        msg: ParsedMessage,
        rest: _inline.Suspended[Sequence[Finding]],
        started: float,
    ) -> Sequence[Finding]:
        """The rest of a detector that suspended, under what is left of its timeout."""
        timeout = min(detector.timeout, self.settings.engine.detector_timeout)
        left = max(0.0, timeout - (time.monotonic() - started))
        try:
            found = await asyncio.wait_for(rest, left)
        except TimeoutError:
            log.warning("detector %s timed out on %s", detector.name, msg.message_id)
            return _failure(detector, "ENGINE_DETECTOR_TIMEOUT", f"ran out of {timeout:g}s")
        except Exception as exc:
            return _error(detector, msg, exc)
        return _labelled(detector, found)


def detector_stage(detector: Detector) -> int:
    """The detector's stage (``stage`` ClassVar, 0 when it declares none)."""
    return int(getattr(detector, "stage", 0))


def _with_detector(finding: Finding, name: str) -> Finding:
    return with_detector(finding, name)


def _labelled(detector: Detector, found: Sequence[Finding]) -> list[Finding]:
    """``found`` with the detector's name on every finding that does not carry one."""
    return [f if f.detector else _with_detector(f, detector.name) for f in found]


def _error(detector: Detector, msg: ParsedMessage, exc: Exception) -> list[Finding]:
    log.exception("detector %s failed on %s", detector.name, msg.message_id, exc_info=exc)
    return _failure(detector, "ENGINE_DETECTOR_ERROR", f"{type(exc).__name__}: {exc}")


def _failure(detector: Detector, symbol: str, what: str) -> list[Finding]:
    out = [
        Finding(
            symbol=symbol,
            explanation=f"Detector {detector.name} {what}; its checks are missing from this scan.",
            evidence=(detector.name,),
            detector="engine",
        )
    ]
    if detector.fail_closed:
        out.append(
            Finding(
                symbol=FAIL_CLOSED_SYMBOL,
                explanation=f"Detector {detector.name} must finish before mail passes.",
                evidence=(detector.name,),
                detector="engine",
            )
        )
    return out


def _mime_finding(symbol: str, exc: Exception) -> Finding:
    what = "breaks a parsing limit" if symbol == "MIME_TOO_COMPLEX" else "cannot be parsed"
    return Finding(
        symbol=symbol,
        explanation=f"The message {what} ({exc}); it is kept for a person to review.",
        evidence=(str(exc),),
        detector="mime",
    )
