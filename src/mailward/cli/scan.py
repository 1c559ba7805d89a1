"""`mailward scan [--json] PATH...`: scan messages from files and print their verdicts."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mailward.cli._disable import add_disable_argument, with_disabled
from mailward.cli.sources import iter_messages
from mailward.config.settings import Settings
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.model import finding_to_json
from mailward.runtime.clients import build_clients


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("scan", help="scan .eml files, folders of them or mbox files")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--json", action="store_true", help="one JSON object per message")
    p.add_argument("--dns", action="store_true",
                   help="let checks look things up in DNS (off: checks needing DNS are skipped)")
    add_disable_argument(p)
    p.set_defaults(run=run)


def outcome_json(path: str, outcome: ScanOutcome) -> dict[str, object]:
    return {
        "path": path,
        "message_id": outcome.message_id,
        "action": str(outcome.verdict.action),
        "score": round(outcome.verdict.score, 2),
        "reason": outcome.verdict.reason,
        "findings": [finding_to_json(f) for f in outcome.verdict.findings],
        "elapsed_ms": round(outcome.result.elapsed_ms, 2),
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_scan(args, with_disabled(settings, args.disable)))


async def _scan(args: argparse.Namespace, settings: Settings) -> int:
    engine = Engine(settings, clients=build_clients(settings, offline=not args.dns))
    console = Console()
    table = Table("path", "action", "score", "findings", show_lines=False)
    for source in iter_messages(args.paths):
        outcome = await engine.scan(source.raw)
        if args.json:
            sys.stdout.write(json.dumps(outcome_json(source.path, outcome)) + "\n")
            sys.stdout.flush()
        else:
            table.add_row(
                source.path,
                str(outcome.verdict.action),
                f"{outcome.verdict.score:.1f}",
                "\n".join(f"{f.symbol}: {f.explanation}" for f in outcome.verdict.findings),
            )
    if not args.json:
        console.print(table)
    return 0
