"""`mailward quarantine list|show|release|delete`: review and act on quarantined mail.

A release puts the message back into the spool for delivery to the released recipients (without
another scan) and delivers it at once when it can; the running gateway finishes anything left.
Every release and deletion is written to the audit log with who, when and why.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import getpass

from rich.console import Console
from rich.table import Table

from mailward.cli._gateway import offline_gateway
from mailward.config.settings import Settings
from mailward.response.quarantine_release import held_entry, release_quarantined
from mailward.store import Store, open_store


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("quarantine", help="list, show, release or delete quarantined mail")
    qsub = p.add_subparsers(dest="qcommand", required=True)
    ls = qsub.add_parser("list", help="list quarantined messages")
    ls.add_argument("--status", default="held", help="held, released, deleted, partial or all")
    ls.add_argument("--limit", type=int, default=100)
    show = qsub.add_parser("show", help="show one entry with its findings and audit trail")
    show.add_argument("id")
    show.add_argument("--raw", action="store_true", help="print the raw message")
    for name in ("release", "delete"):
        act = qsub.add_parser(name, help=f"{name} a message for all or some recipients")
        act.add_argument("id")
        act.add_argument("--rcpt", action="append", help="only this recipient (repeatable)")
        act.add_argument("--reason", required=True, help="why (written to the audit log)")
        act.add_argument("--actor", default=None, help="who (default: the login name)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings.store_url)
    try:
        if args.qcommand == "list":
            return _list(store, args)
        if args.qcommand == "show":
            return _show(store, args.id, args.raw)
        actor = args.actor or getpass.getuser()
        if args.qcommand == "release":
            return release(settings, store, args.id, args.rcpt, actor, args.reason)
        deleted = store.delete(args.id, args.rcpt, actor, args.reason)
        Console().print(f"deleted {args.id} for {', '.join(deleted) or 'nobody (none held)'}")
        return 0
    finally:
        store.close()


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _list(store: Store, args: argparse.Namespace) -> int:
    status = None if args.status == "all" else args.status
    table = Table("id", "received (UTC)", "from", "to", "subject", "score", "status", "reason")
    for e in store.list_quarantine(status=status, limit=args.limit):
        table.add_row(e.id, _when(e.received_at), e.mail_from, ", ".join(e.rcpt_tos),
                      e.subject[:60], f"{e.score:.1f}", e.status, e.reason)
    Console().print(table)
    return 0


def _show(store: Store, entry_id: str, raw: bool) -> int:
    entry = held_entry(store, entry_id)
    console = Console()
    if raw:
        console.out((store.quarantine_raw(entry_id) or b"").decode("utf-8", "replace"))
        return 0
    console.print(f"[bold]{entry.id}[/bold]  {entry.status}  score {entry.score:.1f}")
    console.print(f"from {entry.mail_from}  subject {entry.subject!r}  {entry.size} bytes")
    console.print(f"reason: {entry.reason}")
    for rcpt, status in entry.recipients.items():
        console.print(f"  {rcpt}: {status}")
    for f in entry.findings:
        console.print(f"  {f.symbol} ({f.score:+.1f}): {f.explanation}")
    for a in store.audit_log(entry_id):
        console.print(f"  audit {_when(a.at)} {a.actor} {a.action} "
                      f"{', '.join(a.recipients)}: {a.reason}")
    return 0


def release(
    settings: Settings, store: Store, entry_id: str, rcpts: list[str] | None,
    actor: str, reason: str,
) -> int:
    done = release_quarantined(settings, store, entry_id, rcpts, actor, reason)
    # The gateway's own processor, so the release is journaled (hunts and claw-back see it).
    gw = offline_gateway(settings)
    try:
        outcome = asyncio.run(gw.processor.process(done.spool_id))
    finally:
        gw.close()
    state = "delivered" if outcome and outcome.finished else "queued for delivery"
    Console().print(
        f"released {entry_id} for {', '.join(done.released)}: {state} ({done.spool_id})"
    )
    return 0
