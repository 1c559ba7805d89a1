"""`mailward lockdown [status | LEVEL --reason R | release]`: lock mail down without losing it.

LEVEL is normal, heightened, hold-external or hold-all (see mailward.response.lockdown). Every
change is audited; `release` re-scans the held backlog with the rules in force now, delivers
what passes in paced batches, quarantines what fails and prints the counts.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import getpass

from rich.console import Console

from mailward.config.settings import Settings
from mailward.response.lockdown import Level
from mailward.response.release import release_held
from mailward.runtime.gateway import Gateway

ACTIONS = ["status", "release", *(str(level) for level in Level)]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("lockdown", help="show or change the lockdown level, or release held mail")
    p.add_argument("what", nargs="?", default="status", choices=ACTIONS,
                   metavar="LEVEL|status|release", help=f"one of: {', '.join(ACTIONS)}")
    p.add_argument("--reason", help="why (written to the audit log); needed to change the level")
    p.add_argument("--actor", default=None, help="who (default: the login name)")
    p.add_argument("--detach", action="store_true",
                   help="in a cluster: file the release order and return (the nodes release)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    console = Console()
    gw = Gateway.build(settings, history=False, offline=True)
    try:
        if args.what == "status":
            status = gw.lockdown.status()
            since = datetime.datetime.fromtimestamp(status.changed_at, datetime.UTC)
            console.print(f"lockdown: {status.level}"
                          + (f" since {since:%Y-%m-%d %H:%M:%S} UTC by {status.actor}: "
                             f"{status.reason}" if status.changed_at else ""))
            console.print(f"held in the spool: {len(gw.spool.held())}; "
                          f"queued in all: {gw.spool.count()}")
            if gw.cluster is not None:
                console.print(f"held in the cluster store: {gw.cluster.held.count()}")
            return 0
        if args.what == "release" and gw.cluster is not None:
            return _cluster_release(args, gw, console)
        if args.what == "release":
            report = asyncio.run(release_held(
                gw.spool, gw.processor, settings.lockdown,
                progress=lambda done, total: console.print(f"released {done}/{total}"),
            ))
            console.print(
                f"held {report.held}: delivered {report.delivered}, "
                f"quarantined {report.quarantined}, other {dict(report.outcomes)}"
            )
            return 0
        if not args.reason:
            console.print("mailward: --reason is needed to change the lockdown level")
            return 2
        actor = args.actor or getpass.getuser()
        status = gw.lockdown.set(Level(args.what), actor=actor, reason=args.reason, store=gw.store)
        console.print(f"lockdown is now {status.level}")
        return 0
    finally:
        gw.close()


def _cluster_release(args: argparse.Namespace, gw: Gateway, console: Console) -> int:
    """File a release order every node sees; unless --detach, take part until it is done."""
    assert gw.cluster is not None
    actor = args.actor or getpass.getuser()
    reason = args.reason or "lockdown release"
    gw.store.audit(actor, "lockdown-release", "lockdown", [], reason)
    order_id, report = asyncio.run(gw.cluster.release_everything(
        actor, reason, wait=not args.detach,
        progress=lambda done: console.print(f"released {done} here") if done % 50 == 0 else None,
    ))
    if report is None:
        console.print(f"release order {order_id} filed; the cluster's nodes release it",
                      soft_wrap=True)
        return 0
    total = gw.cluster.held.released_by_order(order_id)
    console.print(
        f"held {report.held}: delivered {report.delivered}, "
        f"quarantined {report.quarantined}, other {dict(report.outcomes)} (by this node); "
        f"release order {order_id}: {total} released in the cluster", soft_wrap=True,
    )
    return 0
