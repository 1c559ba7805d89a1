"""`mailward campaigns list|show|bad`: the campaigns the gateway clustered.

``list`` (most recently active first; ``--state`` active or bad) and ``show`` (the campaign
with its members: spool id, time, senders, recipients, subject, verdict, how it joined) print
a table, or with ``--json`` one JSON object per campaign per line. ``show`` (and ``bad``) of
a campaign merged into another says so and acts on the one it is part of. ``bad`` is the
analyst's report: the campaign is marked bad, an alert of kind ``campaign`` is raised and, with
``[campaigns] clawback`` on, every delivered member is clawed back (audited).
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import json

from rich.console import Console
from rich.table import Table

from mailward.activity.campaign_reads import Campaign, summarize
from mailward.activity.campaigns import Campaigns
from mailward.activity.monitor import ActivityMonitor
from mailward.config.settings import Settings
from mailward.errors import StoreError
from mailward.response.journal import Journal
from mailward.store import open_store


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("campaigns", help="list or show campaigns; report one as bad")
    csub = p.add_subparsers(dest="ccommand", required=True)
    ls = csub.add_parser("list", help="list campaigns, most recently active first")
    ls.add_argument("--state", choices=["active", "bad"])
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    show = csub.add_parser("show", help="one campaign with its members")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    bad = csub.add_parser("bad", help="report a campaign bad: alert, claw back its members")
    bad.add_argument("id")
    bad.add_argument("--reason", required=True, help="why (written to the audit log)")
    bad.add_argument("--actor", default=None, help="who (default: the login name)")
    bad.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings.store_url)
    journal = Journal(settings.store_url) if settings.journal.enabled else None
    monitor = ActivityMonitor(settings, store) if settings.activity.enabled else None
    found = Campaigns(settings, store, journal, monitor)
    try:
        if args.ccommand == "list":
            _print_list(found.recent(args.limit, args.state), args.json)
            return 0
        campaign = found.get(args.id)
        into = found.merged_into(args.id) if campaign is None else None
        if into is not None:
            campaign = found.get(into)
            if not args.json:
                Console().print(f"campaign {args.id} was merged into {into}", markup=False)
        if campaign is None:
            raise StoreError(f"no campaign {args.id}")
        if args.ccommand == "show":
            _print_one(found, campaign, args.json, requested=args.id)
            return 0
        actor = args.actor or getpass.getuser()
        hits = found.found_bad(campaign.id, f"reported by {actor}: {args.reason}",
                               source="analyst", actor=actor)
        if args.json:
            print(json.dumps({"id": campaign.id, "state": "bad",
                              "clawed_back": [h.spool_id for h in hits]
                              if settings.campaigns.clawback else []}, sort_keys=True))
        else:
            Console().print(f"campaign {campaign.id} marked bad; {len(hits)} delivered members"
                            + (" clawed back" if settings.campaigns.clawback else ""))
        return 0
    finally:
        if monitor is not None:
            monitor.notifier.join()
            monitor.close()
        found.close()
        if journal is not None:
            journal.close()
        store.close()


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _print_list(campaigns: list[Campaign], as_json: bool) -> None:
    if as_json:
        for c in campaigns:
            print(json.dumps(c.to_json(), sort_keys=True))
        return
    table = Table("id", "first seen (UTC)", "last seen (UTC)", "members", "state", "indicators")
    for c in campaigns:
        table.add_row(c.id, _when(c.first_seen), _when(c.last_seen), str(c.members), c.state,
                      ", ".join(c.indicators[:4]))
    Console().print(table)


def _print_one(found: Campaigns, campaign: Campaign, as_json: bool, requested: str) -> None:
    members = found.members(campaign.id)
    data = campaign.to_json()
    if requested != campaign.id:
        data["requested"] = requested  # a merged campaign's id: this is the one it joined
    data.update(summarize(members))
    if as_json:
        print(json.dumps({**data, "member_list": members}, sort_keys=True))
        return
    console = Console()
    console.print(f"[bold]campaign {campaign.id}[/bold]  {campaign.members} members  "
                  f"{campaign.state}  {_when(campaign.first_seen)} .. "
                  f"{_when(campaign.last_seen)}")
    if campaign.bad_why:
        console.print(f"found bad: {campaign.bad_why}", markup=False)
    console.print(f"verdicts: {json.dumps(data['verdicts'])}; "
                  f"{len(data['recipients'])} recipients; {len(data['senders'])} senders",
                  markup=False)
    console.print(f"indicators: {', '.join(campaign.indicators)}", markup=False)
    if campaign.merged:
        console.print(f"merged into it: {', '.join(campaign.merged)}", markup=False)
    table = Table("spool id", "time (UTC)", "from", "recipients", "subject", "verdict", "joined")
    for m in members:
        table.add_row(m["spool_id"], _when(m["at"]), m["from"] or m["mail_from"],
                      ", ".join(m["recipients"]), m["subject"], m["action"], m["joined_by"])
    console.print(table)
