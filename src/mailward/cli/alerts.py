"""`mailward alerts list|show|ack|close`: the incidents the activity checks raised.

``list`` (newest first; ``--state`` open, acknowledged, closed, active or all) and ``show``
print a table, or with ``--json`` one JSON object per alert per line. ``ack`` marks an alert
acknowledged; ``close`` closes it and undoes its automatic responses: mail held by
hold_outbound is released through the quarantine's release path and delivered, a lockdown it
raised goes back to the level it found. Both are audited with who and why, and told to the
webhook and syslog.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import getpass
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from mailward.activity.alerts import STATES, Alert
from mailward.activity.monitor import ActivityMonitor
from mailward.cli._gateway import offline_gateway
from mailward.config.settings import Settings
from mailward.errors import StoreError
from mailward.store import open_store


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("alerts", help="list, show, acknowledge or close activity alerts")
    asub = p.add_subparsers(dest="acommand", required=True)
    ls = asub.add_parser("list", help="list alerts, newest first")
    ls.add_argument("--state", default="active",
                    choices=[*STATES, "active", "all"], help="active: open or acknowledged")
    ls.add_argument("--kind", choices=["account", "auth", "campaign"])
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    show = asub.add_parser("show", help="one alert with its evidence and responses")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    for name, what in (("ack", "acknowledge"), ("close", "close (and undo its responses)")):
        act = asub.add_parser(name, help=f"{what} an alert")
        act.add_argument("id", type=int)
        act.add_argument("--reason", required=True, help="why (written to the audit log)")
        act.add_argument("--actor", default=None, help="who (default: the login name)")
        act.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.acommand == "close":
        return _close(args, settings)
    store = open_store(settings.store_url)
    monitor = ActivityMonitor(settings, store)
    try:
        if args.acommand == "list":
            state = None if args.state == "all" else args.state
            _print_list(monitor.alerts.list(state, args.kind, args.limit), args.json)
            return 0
        if args.acommand == "show":
            alert = _get(monitor, args.id)
            _print_one(alert, monitor.held_messages(alert.id),
                       monitor.held_messages(alert.id, released=True), args.json)
            return 0
        alert = monitor.acknowledge(args.id, args.actor or getpass.getuser(), args.reason)
        _print_one(alert, [], [], args.json, brief=True)
        return 0
    finally:
        monitor.notifier.join()
        monitor.close()
        store.close()


def _close(args: argparse.Namespace, settings: Settings) -> int:
    from mailward.response.requeue import requeue  # noqa: PLC0415 (with the engine, as the gateway)

    gw = offline_gateway(settings)
    monitor = gw.activity or ActivityMonitor(settings, gw.store, gw.lockdown)
    actor = args.actor or getpass.getuser()

    def release(message_id: str, reason: str, rescan: bool) -> None:
        done = requeue(settings, gw.store, message_id, None, actor, reason, rescan=rescan)
        asyncio.run(gw.processor.process(done.spool_id))

    try:
        _get(monitor, args.id)
        alert, released = monitor.close_alert(args.id, actor, args.reason, release)
        if args.json:
            print(json.dumps({**alert.to_json(), "released": released}, sort_keys=True))
        else:
            Console().print(f"alert {alert.id} closed; released {len(released)} held messages")
        return 0
    finally:
        monitor.notifier.join()
        if monitor is not gw.activity:
            monitor.close()
        gw.close()


def _get(monitor: ActivityMonitor, alert_id: int) -> Alert:
    alert = monitor.alerts.get(alert_id)
    if alert is None:
        raise StoreError(f"no alert with id {alert_id}")
    return alert


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _print_list(alerts: list[Alert], as_json: bool) -> None:
    if as_json:
        for alert in alerts:
            print(json.dumps(alert.to_json(), sort_keys=True))
        return
    table = Table("id", "opened (UTC)", "kind", "subject", "severity", "state", "symbols")
    for a in alerts:
        table.add_row(str(a.id), _when(a.created_at), a.kind, a.subject, a.severity, a.state,
                      ", ".join(a.symbols))
    Console().print(table)


def _print_one(alert: Alert, held: list[str], released: list[str], as_json: bool,
               brief: bool = False) -> None:
    if as_json:
        extra: dict[str, Any] = {} if brief else {"held": held, "released": released}
        print(json.dumps({**alert.to_json(), **extra}, sort_keys=True))
        return
    console = Console()
    console.print(f"[bold]alert {alert.id}[/bold]  {alert.kind} {alert.subject}  "
                  f"{alert.severity} (score {alert.score:g})  {alert.state}")
    if brief:
        return
    console.print(f"opened {_when(alert.created_at)}, updated {_when(alert.updated_at)}")
    if alert.acted_by:
        console.print(f"last action by {alert.acted_by} at {_when(alert.acted_at)}: {alert.note}")
    for f in alert.evidence:
        console.print(f"  {_when(float(f['at']))} {f['symbol']} ({f['weight']:g}): "
                      f"{f['explanation']}")
        console.print(f"    evidence: {json.dumps(f['evidence'], sort_keys=True)}", markup=False)
    if alert.responses:
        console.print(f"responses: {json.dumps(alert.responses, sort_keys=True)}", markup=False)
    if held or released:
        console.print(f"held messages: {', '.join(held) or 'none'}; "
                      f"released: {', '.join(released) or 'none'}")
