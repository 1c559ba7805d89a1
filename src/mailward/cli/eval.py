"""`mailward eval DIR [--json]`: detection and false-positive rates on labelled folders.

DIR holds one folder per class (ham, spam, phish, malware, or any other name). For every class
it counts the actions given; ``caught`` is any action other than deliver, ``blocked`` is
quarantine or reject. For ham, caught is the false-positive rate. Throughput is messages per
second of wall time and CPU milliseconds per message of this process.

With a labels file (``--sources FILE``, else ``DIR/SOURCES.csv`` when it exists; see
:mod:`mailward.cli._labels`) it also counts per (class, kind) and per (class, source). The false
positives and the missed phish are listed either way (:mod:`mailward.cli._eval_report`).
``--disable`` leaves detectors out of the run, as ``engine.disabled`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mailward.classifier.split import in_holdout
from mailward.cli._disable import add_disable_argument, with_disabled
from mailward.cli._eval_report import Report, print_report, summary_json
from mailward.cli._labels import LABELS_NAME, Labels, load_labels
from mailward.cli.sources import SourceError, count_files, iter_messages
from mailward.config.settings import Settings
from mailward.engine.pipeline import Engine
from mailward.runtime.clients import build_clients


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
    labels = p.add_mutually_exclusive_group()
    labels.add_argument(
        "--sources", type=Path, default=None, metavar="FILE",
        help=f"labels file (CSV: file,class,source,kind; file relative to DIR) for counts per "
        f"kind and per source (default: DIR/{LABELS_NAME} when it exists)",
    )  # fmt: skip
    labels.add_argument("--no-sources", action="store_true",
                        help=f"do not read DIR/{LABELS_NAME}")
    add_disable_argument(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    root: Path = args.dir
    if not root.is_dir():
        raise SourceError(f"{root}: not a folder of class folders")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise SourceError(f"{root}: holds no class folders (ham, spam, phish, ...)")
    labels = _labels(args)
    settings = with_disabled(settings, args.disable)
    report, wall, cpu = asyncio.run(_evaluate(root, classes, settings, args, labels))
    summary = summary_json(report, wall, cpu)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_report(report, summary)
    return 0


def _labels(args: argparse.Namespace) -> Labels | None:
    if args.no_sources:
        return None
    path: Path | None = args.sources
    if path is None:
        path = args.dir / LABELS_NAME
        if not path.is_file():
            return None
    return load_labels(path)


async def _evaluate(
    root: Path, classes: list[Path], settings: Settings, args: argparse.Namespace,
    labels: Labels | None,
) -> tuple[Report, float, float]:
    limit: int = args.limit
    engine = Engine(settings, clients=build_clients(settings, offline=not args.dns))
    report = Report(labels.path if labels else None)
    total = sum(min(count_files([c]), limit or 10**9) for c in classes)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("scanning", total=total)
        for folder in classes:
            report.add_class(folder.name)
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
                rel = Path(source.path).relative_to(root).as_posix()
                label = labels.get(rel) if labels else None
                report.add(folder.name, rel, label, outcome.verdict)
    return report, time.perf_counter() - wall0, time.process_time() - cpu0
