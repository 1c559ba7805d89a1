"""`mailward clawback`: take delivered copies of a message back out of the mailboxes.

``mailward clawback --message-id ID --rcpt R [--rcpt R2] --reason TEXT [--actor A]
[--imap|--maildir] [--mode move|delete] [--spool-id ID] [--json]`` or ``--from-hunt FILE.json``
(what ``mailward hunt --json`` prints: a JSON list, JSON lines, or an object with ``hits``;
each item needs ``message_id`` and ``recipients``, and may have ``spool_id`` and ``sha256``).
The back end is IMAP when ``[clawback] imap_host`` is set, else the local Maildirs; every
removal is written to the audit log. Exit code 1 when any copy failed or was refused.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from mailward.cluster.jobs import exclusive
from mailward.config.settings import Settings
from mailward.errors import ConfigError
from mailward.response.clawback import (
    ClawbackResult,
    ClawbackSettings,
    ClawbackTarget,
    clawback_tool,
)
from mailward.store import open_store


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("clawback", help="take delivered mail back out of mailboxes (audited)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--message-id", help="the Message-ID of the message to take back")
    what.add_argument("--from-hunt", type=Path, metavar="FILE.json",
                      help="the JSON output of `mailward hunt --json`")
    p.add_argument("--rcpt", action="append", default=[],
                   help="a recipient (repeatable); with --from-hunt, only these recipients")
    p.add_argument("--spool-id", help="the spool id of the delivery (exact Maildir match)")
    p.add_argument("--reason", required=True, help="why (written to the audit log)")
    p.add_argument("--actor", default=None, help="who (default: the login name)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--imap", dest="backend", action="store_const", const="imap")
    where.add_argument("--maildir", dest="backend", action="store_const", const="maildir")
    p.add_argument("--mode", choices=("move", "delete"), default=None,
                   help="override [clawback] mode")
    p.add_argument("--json", action="store_true", help="one JSON object per result")
    p.set_defaults(run=run)


def clawback_settings(settings: Settings) -> ClawbackSettings:
    """The [clawback] section (defaults while Settings has none)."""
    return settings.clawback


def _recipients(item: dict[str, Any]) -> tuple[str, ...]:
    value = item.get("recipients", item.get("rcpt_tos", item.get("recipient", ())))
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def _items(text: str) -> Iterator[dict[str, Any]]:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(data, dict):
        data = data.get("hits", data.get("results", [data]))
    for item in data if isinstance(data, list) else []:
        if isinstance(item, dict):
            yield item


def load_hunt(path: Path, only: list[str]) -> list[ClawbackTarget]:
    """Targets from a hunt's JSON output, limited to ``only`` recipients when given."""
    try:
        items = list(_items(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read hunt results {path}: {exc}") from exc
    wanted = {r.lower() for r in only}
    targets = []
    for item in items:
        rcpts = tuple(r for r in _recipients(item) if not wanted or r.lower() in wanted)
        if item.get("message_id") and rcpts:
            targets.append(ClawbackTarget(str(item["message_id"]), rcpts,
                                          item.get("spool_id") or None, item.get("sha256") or None))
    return targets


def _targets(args: argparse.Namespace) -> list[ClawbackTarget]:
    if args.from_hunt is not None:
        return load_hunt(args.from_hunt, args.rcpt)
    if not args.rcpt:
        raise ConfigError("--message-id needs at least one --rcpt")
    return [ClawbackTarget(args.message_id, tuple(args.rcpt), args.spool_id)]


def run(args: argparse.Namespace, settings: Settings) -> int:
    conf = clawback_settings(settings)
    if args.mode:
        conf = conf.model_copy(update={"mode": args.mode})
    targets = _targets(args)
    store = open_store(settings.store_url)
    try:
        tool = clawback_tool(settings, store, backend=args.backend, conf=conf)
        with exclusive(settings, "clawback"):  # one claw-back at a time in a cluster
            results = tool.claw_back(targets, actor=args.actor or getpass.getuser(),
                                     reason=args.reason)
    finally:
        store.close()
    _print(results, as_json=args.json)
    return 1 if any(r.status in ("error", "rejected") for r in results) else 0


def _print(results: list[ClawbackResult], *, as_json: bool) -> None:
    if as_json:
        for r in results:
            sys.stdout.write(json.dumps(r.to_json()) + "\n")
        return
    table = Table("recipient", "message-id", "status", "mailbox", "uid", "detail")
    for r in results:
        table.add_row(r.recipient, r.message_id, r.status, r.mailbox or "", r.uid or "",
                      r.reason)
    Console().print(table)
