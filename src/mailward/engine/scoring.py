"""Scoring: findings -> scored findings and a total, with weights, group caps and composites.

Weights, groups and descriptions start from each detector's SymbolSpec and are overridden by
``[scoring.symbols.<SYMBOL>]``. A group's ``max_score`` caps what its symbols add together
(rspamd's group limit): the strongest findings count first, the rest are clipped. Composites
fire when their expression matches the raised symbols and may replace their members' scores.

A group may count only its strongest finding (``strongest_only``: several symbols saying the
same thing, such as one brand claim seen by three detectors). A group may be barred from
deciding alone (``alone_at_most``, by default the content model's: it may tag, never quarantine
or reject on its own; after one of its ``silenced_by`` symbols, such as a sender proven by
DKIM/DMARC whose claims and links are its own, not even tag): when such a group scores and no
finding of another group reaches that group's ``corroborated_at``, the ScanResult carries a
ceiling that policy applies to the action chosen by score.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mailward.config.settings import DEFAULT_COMPOSITES, ScoringSettings
from mailward.engine._finding_copy import with_score
from mailward.engine.composites import CompositeExpression, parse_composite
from mailward.engine.contract import SymbolSpec
from mailward.errors import ConfigError
from mailward.model import Action, Finding, ScanResult


@dataclass(frozen=True, slots=True)
class _Composite:
    symbol: str
    expression: CompositeExpression
    weight: float
    description: str
    replace_members: bool


class Scorer:
    """Turns raw findings into a ScanResult. Built once from configuration."""

    def __init__(self, specs: Mapping[str, SymbolSpec], settings: ScoringSettings) -> None:
        self.specs = _apply_overrides(specs, settings)
        self.group_caps = {
            name: group.max_score
            for name, group in settings.groups.items()
            if group.max_score is not None
        }
        self.composites = _build_composites(settings, self.specs)
        self.strongest_only = frozenset(
            name for name, group in settings.groups.items() if group.strongest_only
        )
        self.silent_groups = frozenset(
            name for name, group in settings.groups.items() if not group.corroborates
        )
        self.alone_limits = {
            name: (group.alone_at_most, group.corroborated_at, frozenset(group.silenced_by))
            for name, group in settings.groups.items()
            if group.alone_at_most is not None
        }

    def weight(self, symbol: str) -> float:
        spec = self.specs.get(symbol)
        return spec.weight if spec else 0.0

    def score(self, findings: Iterable[Finding], elapsed_ms: float) -> ScanResult:
        weighted = [with_score(f, round(self.weight(f.symbol) * f.factor, 4)) for f in findings]
        weighted.extend(self._composite_findings(weighted))
        capped = self._apply_group_caps(self._keep_strongest(weighted))
        total = round(sum(f.score for f in capped), 4)
        ceiling, why = self._ceiling(capped)
        return ScanResult(
            findings=tuple(capped), score=total, elapsed_ms=elapsed_ms,
            ceiling=ceiling, ceiling_reason=why,
        )

    def _group(self, symbol: str) -> str:
        spec = self.specs.get(symbol)
        return spec.group if spec else ""

    def _ceiling(self, findings: list[Finding]) -> tuple[Action | None, str]:
        """The lowest ``alone_at_most`` of the scoring groups that nothing else corroborates."""
        if not self.alone_limits:
            return None, ""
        ceiling: Action | None = None
        why = ""
        raised = {f.symbol for f in findings}
        for group, (most, needed, silencers) in self.alone_limits.items():
            if not any(f.score > 0 and self._group(f.symbol) == group for f in findings):
                continue
            if any(
                f.score >= needed and self._group(f.symbol) not in (group, *self.silent_groups)
                for f in findings
            ):
                continue
            silenced = sorted(silencers & raised)
            limit = Action.DELIVER if silenced else most
            if ceiling is None or limit.severity < ceiling.severity:
                ceiling = limit
                why = (f"group {group} may cause at most {limit} without a finding of another "
                       f"group scoring {needed:g} or more"
                       + (f" ({', '.join(silenced)})" if silenced else ""))
        return ceiling, why

    def _composite_findings(self, findings: list[Finding]) -> list[Finding]:
        raised = frozenset(f.symbol for f in findings)
        fired: list[Finding] = []
        for comp in self.composites:
            if not comp.expression.matches(raised):
                continue
            fired.append(
                Finding(
                    symbol=comp.symbol,
                    explanation=comp.description or f"Composite {comp.expression.source} matched.",
                    evidence=tuple(sorted(comp.expression.positive_members & raised)),
                    score=comp.weight,
                    detector="composite",
                )
            )
            if comp.replace_members:
                members = comp.expression.positive_members
                for i, f in enumerate(findings):
                    if f.symbol in members:
                        findings[i] = with_score(f, 0.0)
        return fired

    def _keep_strongest(self, findings: list[Finding]) -> list[Finding]:
        """In ``strongest_only`` groups, every positive finding but the strongest scores 0."""
        if not self.strongest_only:
            return findings
        best: dict[str, int] = {}
        for i, f in enumerate(findings):
            group = self._group(f.symbol)
            if group not in self.strongest_only or f.score <= 0:
                continue
            if group not in best or f.score > findings[best[group]].score:
                best[group] = i
        return [
            with_score(f, 0.0)
            if f.score > 0 and self._group(f.symbol) in best and best[self._group(f.symbol)] != i
            else f
            for i, f in enumerate(findings)
        ]

    def _apply_group_caps(self, findings: list[Finding]) -> list[Finding]:
        if not self.group_caps:
            return findings
        used: dict[str, float] = {}
        order = sorted(range(len(findings)), key=lambda i: -findings[i].score)
        out = list(findings)
        for i in order:
            f = findings[i]
            spec = self.specs.get(f.symbol)
            cap = self.group_caps.get(spec.group) if spec else None
            if cap is None or f.score <= 0 or spec is None:
                continue
            room = max(cap - used.get(spec.group, 0.0), 0.0)
            allowed = min(f.score, room)
            used[spec.group] = used.get(spec.group, 0.0) + allowed
            if allowed != f.score:
                out[i] = with_score(f, round(allowed, 4))
        return out


def _apply_overrides(
    specs: Mapping[str, SymbolSpec], settings: ScoringSettings
) -> dict[str, SymbolSpec]:
    out = dict(specs)
    for symbol, override in settings.symbols.items():
        base = out.get(symbol)
        if base is None:
            raise ConfigError(f"scoring.symbols.{symbol}: unknown symbol (no detector raises it)")
        out[symbol] = SymbolSpec(
            weight=base.weight if override.weight is None else override.weight,
            group=override.group or base.group,
            description=override.description or base.description,
        )
    return out


def _build_composites(
    settings: ScoringSettings, specs: dict[str, SymbolSpec]
) -> tuple[_Composite, ...]:
    out = []
    for symbol, comp in settings.composites.items():
        try:
            expression = parse_composite(comp.expression)
        except ValueError as exc:
            raise ConfigError(f"scoring.composites.{symbol}.expression: {exc}") from exc
        unknown = sorted(expression.members - specs.keys())
        if unknown and DEFAULT_COMPOSITES.get(symbol) == comp:
            continue  # shipped, and a member's detector is not enabled here
        if unknown:
            raise ConfigError(
                f"scoring.composites.{symbol}.expression: unknown symbol(s) {', '.join(unknown)}"
            )
        out.append(
            _Composite(symbol, expression, comp.weight, comp.description, comp.replace_members)
        )
    for c in out:
        specs[c.symbol] = SymbolSpec(c.weight, "composite", c.description)
    return tuple(out)
