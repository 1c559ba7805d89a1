"""`mailward eval DIR [--json]`: detection and false-positive rates on labelled folders.

DIR holds one folder per class (ham, spam, phish, malware, or any other name). For every class
it counts the actions given; ``caught`` is any action other than deliver, ``blocked`` is
quarantine or reject. For ham, caught is the false-positive rate. Throughput is messages per
second of wall time and CPU milliseconds per message of this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from mailward.classifier.split import in_holdout
from mailward.cli.sources import SourceError, count_files, iter_messages
from mailward.config.settings import Settings
from mailward.engine.pipeline import Engine
from mailward.model import Action
from mailward.runtime.clients import build_clients

BLOCKED = {str(Action.QUARANTINE), str(Action.REJECT)}
ACTIONS = [str(a) for a in Action]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("eval", help="measure detection on folders labelled by class")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--limit", type=int, default=0, help="at most this many messages per class")
    part = p.add_mutually_exclusive_group()
    part.add_argument(
        "--holdout", action="store_true",
        help="scan only the held-out part that `mailward train` leaves out "
        "(sha256 of the file bytes, first 8 hex digits as an integer, %% 4 == 0)",
    )
    part.add_argument(
        "--training-part", action="store_true",
        help="scan only the part `mailward train` learns from (the rest of the above)",
    )
    p.add_argument("--dns", action="store_true",
                   help="let checks look things up in DNS (off: checks needing DNS are skipped)")
    p.set_defaults(run=run)


@dataclass
class ClassStats:
    name: str
    actions: Counter[str] = field(default_factory=Counter)
    symbols: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.actions.values())

    @property
    def caught(self) -> float:
        return (self.total - self.actions[str(Action.DELIVER)]) / self.total if self.total else 0.0

    @property
    def blocked(self) -> float:
        return sum(self.actions[a] for a in BLOCKED) / self.total if self.total else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "messages": self.total,
            "actions": {a: self.actions[a] for a in ACTIONS},
            "caught_rate": round(self.caught, 4),
            "blocked_rate": round(self.blocked, 4),
            "top_symbols": dict(self.symbols.most_common(10)),
        }


def run(args: argparse.Namespace, settings: Settings) -> int:
    root: Path = args.dir
    if not root.is_dir():
        raise SourceError(f"{root}: not a folder of class folders")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise SourceError(f"{root}: holds no class folders (ham, spam, phish, ...)")
    stats, wall, cpu = asyncio.run(_evaluate(classes, settings, args))
    total = sum(s.total for s in stats)
    summary = {
        "classes": {s.name: s.to_json() for s in stats},
        "messages": total,
        "seconds": round(wall, 2),
        "messages_per_second": round(total / wall, 1) if wall else 0.0,
        "cpu_ms_per_message": round(cpu * 1000 / total, 2) if total else 0.0,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_table(stats, summary)
    return 0


async def _evaluate(
    classes: list[Path], settings: Settings, args: argparse.Namespace
) -> tuple[list[ClassStats], float, float]:
    limit: int = args.limit
    engine = Engine(settings, clients=build_clients(settings, offline=not args.dns))
    stats = []
    total = sum(min(count_files([c]), limit or 10**9) for c in classes)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("scanning", total=total)
        for folder in classes:
            cls = ClassStats(folder.name)
            progress.update(task, description=f"scanning {folder.name}")
            n = 0
            for source in iter_messages([folder]):
                progress.advance(task)
                if (args.holdout or args.training_part) and in_holdout(source.raw) != args.holdout:
                    continue
                if limit and n >= limit:
                    break
                n += 1
                outcome = await engine.scan(source.raw)
                cls.actions[str(outcome.verdict.action)] += 1
                cls.symbols.update(f.symbol for f in outcome.verdict.findings if f.score)
            stats.append(cls)
    return stats, time.perf_counter() - wall0, time.process_time() - cpu0


def _print_table(stats: list[ClassStats], summary: dict[str, object]) -> None:
    # a pipe or a file gets the whole table, not one cut to 80 columns
    console = Console() if sys.stdout.isatty() else Console(width=140)
    table = Table("class", "messages", *ACTIONS, "caught", "blocked", title="mailward eval")
    for s in stats:
        table.add_row(
            s.name, str(s.total), *(str(s.actions[a]) for a in ACTIONS),
            f"{s.caught:.2%}", f"{s.blocked:.2%}",
        )
    console.print(table)
    console.print(
        f"{summary['messages']} messages in {summary['seconds']} s: "
        f"{summary['messages_per_second']} messages/s, "
        f"{summary['cpu_ms_per_message']} CPU ms/message "
        "(caught = any action but deliver; for ham that is the false-positive rate)"
    )
