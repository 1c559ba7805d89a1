"""`mailward lockdown [status | LEVEL --reason R | release]`: lock mail down without losing it.

LEVEL is normal, heightened, hold-external or hold-all (see mailward.response.lockdown). Every
change is audited; `release` re-scans the held backlog with the rules in force now, delivers
what passes in paced batches, quarantines what fails and prints the counts. In a cluster
(``[cluster] redis_url``) the change is announced to every node, and `release` files a release
order the nodes share (docs/cluster.md): it takes part until the order is done, or with
`--detach` returns at once and leaves it to the running nodes.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import getpass
from typing import TYPE_CHECKING

from rich.console import Console

from mailward.cli._gateway import offline_gateway
from mailward.cluster.held import HeldStore
from mailward.cluster.notify import RELEASE, publish
from mailward.cluster.redis import RedisLink
from mailward.config.settings import Settings
from mailward.response.lockdown import Level, LockdownState
from mailward.spool.queue import Spool
from mailward.store import open_store

if TYPE_CHECKING:
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
    if args.what != "release":  # the level alone: no engine to build
        return _level(args, settings, console)
    if args.detach and settings.cluster.redis_url:
        return _file_order(args, settings, console)
    from mailward.response.release import release_held  # noqa: PLC0415 (the engine, as gw's)

    gw = offline_gateway(settings)
    try:
        if gw.cluster is not None:
            return _cluster_release(args, gw, console)
        report = asyncio.run(release_held(
            gw.spool, gw.processor, settings.lockdown,
            progress=lambda done, total: console.print(f"released {done}/{total}"),
        ))
        console.print(
            f"held {report.held}: delivered {report.delivered}, "
            f"quarantined {report.quarantined}, other {dict(report.outcomes)}"
        )
        return 0
    finally:
        gw.close()


def _level(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """Show the level (and what is held), or change it (audited; announced in a cluster)."""
    store = open_store(settings.store_url)
    state = LockdownState.for_settings(settings)
    try:
        if args.what == "status":
            status = state.status()
            since = datetime.datetime.fromtimestamp(status.changed_at, datetime.UTC)
            console.print(f"lockdown: {status.level}"
                          + (f" since {since:%Y-%m-%d %H:%M:%S} UTC by {status.actor}: "
                             f"{status.reason}" if status.changed_at else ""))
            spool = Spool(settings.spool_dir)
            console.print(f"held in the spool: {len(spool.held())}; "
                          f"queued in all: {spool.count()}")
            if settings.cluster.redis_url:
                held = HeldStore(settings.store_url)
                try:
                    console.print(f"held in the cluster store: {held.count()}")
                finally:
                    held.close()
            return 0
        if not args.reason:
            console.print("mailward: --reason is needed to change the lockdown level")
            return 2
        actor = args.actor or getpass.getuser()
        status = state.set(Level(args.what), actor=actor, reason=args.reason, store=store)
        console.print(f"lockdown is now {status.level}")
        return 0
    finally:
        state.close()
        store.close()


def _file_order(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """--detach in a cluster: file the release order (audited, announced) and return."""
    link = RedisLink.from_settings(settings)
    assert link is not None
    actor = args.actor or getpass.getuser()
    reason = args.reason or "lockdown release"
    store = open_store(settings.store_url)
    held = HeldStore(settings.store_url)
    try:
        store.audit(actor, "lockdown-release", "lockdown", [], reason)
        order_id = held.add_order(actor, reason, link.node)
    finally:
        held.close()
        store.close()
    publish(link, RELEASE, {"order": order_id})
    console.print(f"release order {order_id} filed; the cluster's nodes release it",
                  soft_wrap=True)
    return 0


def _cluster_release(args: argparse.Namespace, gw: Gateway, console: Console) -> int:
    """File a release order every node sees; unless --detach, take part until it is done."""
    assert gw.cluster is not None
    actor = args.actor or getpass.getuser()
    reason = args.reason or "lockdown release"
    gw.store.audit(actor, "lockdown-release", "lockdown", [], reason)
    order_id, report = asyncio.run(gw.cluster.release_everything(
        actor, reason,
        progress=lambda done: console.print(f"released {done} here") if done % 50 == 0 else None,
    ))
    assert report is not None
    total = gw.cluster.held.released_by_order(order_id)
    console.print(
        f"held {report.held}: delivered {report.delivered}, "
        f"quarantined {report.quarantined}, other {dict(report.outcomes)} (by this node); "
        f"release order {order_id}: {total} released in the cluster", soft_wrap=True,
    )
    return 0
