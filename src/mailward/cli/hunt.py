"""`mailward hunt`: find delivered mail in the journal by indicator, or re-scan it.

    mailward hunt --url U | --domain D | --hash H | --sender S | --subject PATTERN
                  | --message-id M   [--since ISO | --hours N] [--until ISO] [--limit N] [--json]
    mailward hunt --rescan [--hours N | --since ISO] [--until ISO] [--json]

Lookups answer from the journal's indexes: which messages (id, time, sender, subject) went to
whom and where each copy went. ``--rescan`` re-runs today's engine (offline: no DNS) over the
raw messages of the window (default: the last 24 hours) and lists those it would now
quarantine or reject, with their findings. Times without a zone are read as UTC.
With --json: one object per line. Exit status 0 when something was found, 1 when not.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time

from rich.console import Console
from rich.table import Table

from mailward.config.settings import Settings
from mailward.response.hunt import HuntQuery, RescanReport, hunt, rescan
from mailward.response.journal import Journal, JournalHit

DEFAULT_RESCAN_HOURS = 24.0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("hunt", help="find delivered mail by indicator, or re-scan it")
    what = p.add_argument_group("what to look for (several are OR-ed)")
    what.add_argument("--url", help="a link (scheme and default port ignored)")
    what.add_argument("--domain", help="link host, link domain or sender domain")
    what.add_argument("--hash", help="attachment SHA-256, SHA-1 or MD5")
    what.add_argument("--sender", help="envelope or From address; without @: a sender domain")
    what.add_argument("--subject", help="subject substring (* wildcard) or variant")
    what.add_argument("--message-id", dest="message_id", help="Message-ID header")
    what.add_argument("--rescan", action="store_true",
                      help="re-scan journaled mail with today's rules; list what would be "
                           "clawed back")
    window = p.add_mutually_exclusive_group()
    window.add_argument("--since", type=_iso, help="from this time (ISO 8601)")
    window.add_argument("--hours", type=float, help="the last N hours")
    p.add_argument("--until", type=_iso, help="up to this time (ISO 8601)")
    p.add_argument("--limit", type=int, default=1000, help="at most this many messages")
    p.add_argument("--json", action="store_true", help="one JSON object per message")
    p.set_defaults(run=run)


def _iso(text: str) -> float:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _since(args: argparse.Namespace, default_hours: float | None) -> float | None:
    if args.since is not None:
        return float(args.since)
    hours = args.hours if args.hours is not None else default_hours
    return None if hours is None else time.time() - hours * 3600


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")


def run(args: argparse.Namespace, settings: Settings) -> int:
    journal = Journal(settings.store_url)
    try:
        if args.rescan:
            return _rescan(args, settings, journal)
        return _lookup(args, journal)
    finally:
        journal.close()


def _lookup(args: argparse.Namespace, journal: Journal) -> int:
    query = HuntQuery(
        url=args.url, domain=args.domain, hash=args.hash, sender=args.sender,
        subject=args.subject, message_id=args.message_id,
        since=_since(args, None), until=args.until, limit=args.limit,
    )
    if query.empty:
        print("mailward hunt: give an indicator (--url, --domain, --hash, --sender, --subject, "
              "--message-id) or --rescan", file=sys.stderr)
        return 2
    hits = hunt(journal, query)
    if args.json:
        for hit in hits:
            data = hit.to_json()
            data["received"] = _when(hit.received_at)
            _emit(data)
    else:
        _print_hits(hits)
    return 0 if hits else 1


def _emit(data: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def _print_hits(hits: list[JournalHit]) -> None:
    table = Table("id", "received", "sender", "subject", "copies", "matched")
    for hit in hits:
        table.add_row(
            hit.spool_id, _when(hit.received_at), hit.from_address or hit.mail_from, hit.subject,
            "\n".join(f"{r} -> {loc}" for r, loc in hit.copies) or ", ".join(hit.recipients),
            "\n".join(hit.matched),
        )
    Console().print(table)
    Console(stderr=True).print(f"{len(hits)} message(s)")


def _rescan(args: argparse.Namespace, settings: Settings, journal: Journal) -> int:
    from mailward.engine.pipeline import Engine  # noqa: PLC0415 (a re-scan only)
    from mailward.runtime.clients import build_clients  # noqa: PLC0415

    engine = Engine(settings, clients=build_clients(settings, offline=True))
    report = asyncio.run(rescan(journal, engine, _since(args, DEFAULT_RESCAN_HOURS), args.until))
    if args.json:
        for result in report.flagged:
            data = result.to_json()
            data["received"] = _when(result.hit.received_at)
            _emit(data)
    else:
        _print_rescan(report)
    print(f"re-scanned {report.scanned}, without bytes {report.missing_raw}, "
          f"would claw back {len(report.flagged)}", file=sys.stderr)
    return 0 if report.flagged else 1


def _print_rescan(report: RescanReport) -> None:
    table = Table("id", "received", "sender", "subject", "now", "copies", "findings")
    for result in report.flagged:
        hit, verdict = result.hit, result.verdict
        table.add_row(
            hit.spool_id, _when(hit.received_at), hit.from_address or hit.mail_from, hit.subject,
            f"{verdict.action} ({verdict.score:.1f})",
            "\n".join(f"{r} -> {loc}" for r, loc in hit.copies) or ", ".join(hit.recipients),
            "\n".join(f"{f.symbol}: {f.explanation}" for f in verdict.findings),
        )
    Console().print(table)
