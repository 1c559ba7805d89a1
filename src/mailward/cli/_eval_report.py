"""What `mailward eval` counts and prints: per class, per (class, kind), per (class, source),
the false positives (ham not delivered) and the missed phish and malware (delivered).

``caught`` is any action other than deliver, ``blocked`` is quarantine or reject. Each listed
message shows its path relative to DIR, kind, action, score and its top scored symbols.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mailward.cli._labels import Label
from mailward.model import Action, Verdict

BLOCKED = {str(Action.QUARANTINE), str(Action.REJECT)}
ACTIONS = [str(a) for a in Action]
DELIVER = str(Action.DELIVER)
HAM = "ham"
#: Classes whose delivered messages are listed as missed.
MISSED_CLASSES = ("phish", "malware")
#: Missed messages listed in the text output (--json lists them all).
MISSED_SHOWN = 30
TOP_LISTED_SYMBOLS = 3


@dataclass
class Stats:
    name: str
    actions: Counter[str] = field(default_factory=Counter)
    symbols: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.actions.values())

    @property
    def caught(self) -> float:
        return (self.total - self.actions[DELIVER]) / self.total if self.total else 0.0

    @property
    def blocked(self) -> float:
        return sum(self.actions[a] for a in BLOCKED) / self.total if self.total else 0.0

    def add(self, action: str, symbols: list[str]) -> None:
        self.actions[action] += 1
        self.symbols.update(symbols)

    def cells(self) -> list[str]:
        counts = (str(self.actions[a]) for a in ACTIONS)
        return [str(self.total), *counts, f"{self.caught:.2%}", f"{self.blocked:.2%}"]

    def to_json(self) -> dict[str, object]:
        return {
            "messages": self.total,
            "actions": {a: self.actions[a] for a in ACTIONS},
            "caught_rate": round(self.caught, 4),
            "blocked_rate": round(self.blocked, 4),
            "top_symbols": dict(self.symbols.most_common(10)),
        }


@dataclass(frozen=True, slots=True)
class Listed:
    """One false positive or missed message."""

    path: str
    source: str | None
    kind: str | None
    action: str
    score: float
    symbols: tuple[tuple[str, float], ...]

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path, "source": self.source, "kind": self.kind, "action": self.action,
            "score": round(self.score, 2), "top_symbols": dict(self.symbols),
        }  # fmt: skip

    def cells(self) -> list[str]:
        top = " ".join(f"{symbol}:{score:.2f}" for symbol, score in self.symbols) or "-"
        return [self.path, self.kind or "-", self.action, f"{self.score:.2f}", top]


@dataclass
class Report:
    """Counts of one eval run; ``labels`` is the labels file read, or None."""

    labels: Path | None = None
    classes: dict[str, Stats] = field(default_factory=dict)
    by_kind: dict[tuple[str, str], Stats] = field(default_factory=dict)
    by_source: dict[tuple[str, str], Stats] = field(default_factory=dict)
    false_positives: list[Listed] = field(default_factory=list)
    missed: list[Listed] = field(default_factory=list)

    def add_class(self, cls: str) -> None:
        self.classes.setdefault(cls, Stats(cls))

    def add(self, cls: str, path: str, label: Label | None, verdict: Verdict) -> None:
        action = str(verdict.action)
        symbols = [f.symbol for f in verdict.findings if f.score]
        self.classes.setdefault(cls, Stats(cls)).add(action, symbols)
        if label is not None:
            self.by_kind.setdefault((cls, label.kind), Stats(label.kind)).add(action, symbols)
            self.by_source.setdefault((cls, label.source), Stats(label.source)).add(
                action, symbols
            )
        if cls == HAM and action != DELIVER:
            self.false_positives.append(_listed(path, label, verdict))
        elif cls in MISSED_CLASSES and action == DELIVER:
            self.missed.append(_listed(path, label, verdict))

    @property
    def total(self) -> int:
        return sum(s.total for s in self.classes.values())


def _listed(path: str, label: Label | None, verdict: Verdict) -> Listed:
    scored = sorted((f for f in verdict.findings if f.score > 0), key=lambda f: -f.score)
    top = tuple((f.symbol, round(f.score, 2)) for f in scored[:TOP_LISTED_SYMBOLS])
    return Listed(
        path, label.source if label else None, label.kind if label else None,
        str(verdict.action), verdict.score, top,
    )  # fmt: skip


def _nested(groups: dict[tuple[str, str], Stats]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for (cls, name), stats in sorted(groups.items()):
        out.setdefault(cls, {})[name] = stats.to_json()
    return out


def summary_json(report: Report, wall: float, cpu: float) -> dict[str, object]:
    total = report.total
    return {
        "classes": {name: s.to_json() for name, s in report.classes.items()},
        "messages": total,
        "seconds": round(wall, 2),
        "messages_per_second": round(total / wall, 1) if wall else 0.0,
        "cpu_ms_per_message": round(cpu * 1000 / total, 2) if total else 0.0,
        "labels": str(report.labels) if report.labels else None,
        "by_kind": _nested(report.by_kind),
        "by_source": _nested(report.by_source),
        "false_positives": [m.to_json() for m in report.false_positives],
        "missed": [m.to_json() for m in report.missed],
    }


def print_report(report: Report, summary: dict[str, object]) -> None:
    # a pipe or a file gets the whole table, not one cut to 80 columns
    console = Console() if sys.stdout.isatty() else Console(width=140)
    rates = ("caught", "blocked")
    table = Table("class", "messages", *ACTIONS, *rates, title="mailward eval")
    for stats in report.classes.values():
        table.add_row(stats.name, *stats.cells())
    console.print(table)
    for column, groups in (("kind", report.by_kind), ("source", report.by_source)):
        if groups:
            table = Table("class", column, "messages", *ACTIONS, *rates, title=f"by {column}")
            for (cls, _), stats in sorted(groups.items()):
                table.add_row(cls, stats.name, *stats.cells())
            console.print(table)
    _print_listed(report)
    console.print(
        f"{summary['messages']} messages in {summary['seconds']} s: "
        f"{summary['messages_per_second']} messages/s, "
        f"{summary['cpu_ms_per_message']} CPU ms/message "
        "(caught = any action but deliver; for ham that is the false-positive rate)"
    )


def _print_listed(report: Report) -> None:
    ham = report.classes.get(HAM)
    if ham is not None:
        print(f"\nfalse positives: {len(report.false_positives)} of {ham.total} ham not delivered")
        _print_rows(report.false_positives)
    missed_of = sum(report.classes[c].total for c in MISSED_CLASSES if c in report.classes)
    if missed_of:
        classes = "/".join(c for c in MISSED_CLASSES if c in report.classes)
        shown = report.missed[:MISSED_SHOWN]
        more = f" (the first {len(shown)})" if len(shown) < len(report.missed) else ""
        print(f"\nmissed: {len(report.missed)} of {missed_of} {classes} delivered{more}")
        _print_rows(shown)
        if more:
            print(f"  ... and {len(report.missed) - len(shown)} more (--json lists them all)")
    print()


def _print_rows(rows: list[Listed]) -> None:
    cells = [row.cells() for row in rows]
    widths = [max((len(c[i]) for c in cells), default=0) for i in range(4)]
    for c in cells:
        # path and kind left-aligned, action left, score right, then the symbols
        print(f"  {c[0]:<{widths[0]}}  {c[1]:<{widths[1]}}  {c[2]:<{widths[2]}}  "
              f"{c[3]:>{widths[3]}}  {c[4]}")
