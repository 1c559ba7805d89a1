"""Per-account behaviour baselines in the store: what each account normally does.

An *account* is the AUTH login of an authenticated client, or the envelope sender of mail from
an internal network. For each one :class:`Baselines` keeps hourly counters (messages,
recipients, external recipients, new recipients and recipient domains, engine-flagged messages,
AUTH successes and failures), who it has written to, the client networks it used, and the raw
events of the last hours that the windowed checks read. Everything lives in SQL tables (see
:mod:`mailward.activity._schema`), on SQLite or PostgreSQL, and survives restarts.

Observing the same message twice (a re-scan) counts it once: events are keyed by spool id.
Failures raise :class:`mailward.errors.StoreError`.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from mailward.activity import _schema as t
from mailward.store._engine import open_tables, transaction


@functools.lru_cache(maxsize=4096)
def network_of(ip: str, v4_prefix: int = 24, v6_prefix: int = 64) -> str:
    """The client network an address belongs to (``198.51.100.0/24``); "" if not an IP.
    Remembered for the last 4,096 (address, prefixes): a client sends many messages, and the
    campaigns and the activity monitor both ask for each one."""
    try:
        addr = ipaddress.ip_address(ip.strip().strip("[]"))
    except ValueError:
        return ""
    prefix = v4_prefix if addr.version == 4 else v6_prefix
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


@dataclass(frozen=True, slots=True)
class MessageObservation:
    """One message from inside, as the activity checks see it."""

    ref: str  # the spool id
    account: str
    at: float
    network: str
    recipients: tuple[str, ...]
    external: int  # recipients outside the accepted domains
    flagged: bool
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What recording one message learned: None from :meth:`Baselines.record_message` when
    the message had been observed already."""

    first_seen: float  # of the account (before this message)
    new_recipients: tuple[str, ...]
    new_domains: tuple[str, ...]
    new_network: bool
    known_networks: int  # before this message (counted only for a new network)
    network_last_seen: float | None = None  # before this message; None for a new network


@dataclass(frozen=True, slots=True)
class WindowEvent:
    ref: str
    at: float
    network: str
    recipients: int
    new_recipients: int
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuthSpread:
    """Failed AUTH across networks in a window: counts and samples."""

    logins: int
    networks: int
    sample_logins: list[str]
    sample_networks: list[str]


def _hour(at: float) -> int:
    return int(at // 3600)


@functools.lru_cache(maxsize=65536)
def local_hour(epoch_hour: int, zone: str) -> int:
    """The hour of day (0..23) an epoch hour starts at, in the IANA time zone ``zone``."""
    if zone == "UTC":
        return epoch_hour % 24
    return datetime.datetime.fromtimestamp(epoch_hour * 3600, ZoneInfo(zone)).hour


class Baselines:
    """The baseline tables on a SQLAlchemy URL (the store's). Blocking; run in a thread."""

    def __init__(self, url: str) -> None:
        self._engine = open_tables(url, t.ACTIVITY_METADATA, "activity")

    @property
    def engine(self) -> Any:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def tx(self, what: str, *, write: bool = False) -> Iterator[Connection]:
        with transaction(self._engine, what, write=write) as conn:
            yield conn

    # -- recording -------------------------------------------------------------------------

    def record_message(self, obs: MessageObservation) -> MessageFacts | None:
        """Count ``obs`` in the baselines; None when its spool id was counted before."""
        for attempt in range(2):
            try:
                with self.tx("record account activity", write=True) as conn:
                    return self._record(conn, obs)
            except IntegrityError:
                if attempt:
                    return None  # the event row exists: observed already
        return None

    def _record(self, conn: Connection, obs: MessageObservation) -> MessageFacts | None:
        # a message seen before: the unique ``ref`` of its event makes this transaction fail
        # (IntegrityError: nothing of it is kept) and record_message answer None
        first_seen = self._touch_account(conn, obs.account, obs.at, messages=1)
        rcpts = sorted({r.strip().lower() for r in obs.recipients if r.strip()})
        domains = sorted({"@" + r.rpartition("@")[2] for r in rcpts})
        known = set(conn.execute(
            select(t.correspondents.c.recipient).where(
                t.correspondents.c.account == obs.account,
                t.correspondents.c.recipient.in_([*rcpts, *domains]),
            )
        ).scalars())
        new_rcpts = tuple(r for r in rcpts if r not in known)
        new_domains = tuple(d for d in domains if d not in known)
        for value in (*new_rcpts, *new_domains):
            conn.execute(t.correspondents.insert().values(
                account=obs.account, recipient=value, first_seen=obs.at))
        known_nets, last_seen = self._touch_network(conn, obs.account, obs.network, obs.at)
        conn.execute(t.events.insert().values(
            ref=obs.ref, account=obs.account, kind="message", at=obs.at, network=obs.network,
            recipients=len(rcpts), new_recipients=len(new_rcpts), flagged=int(obs.flagged),
            detail=obs.detail,
        ))
        self._count(conn, obs.account, obs.at, messages=1, recipients=len(rcpts),
                    external_recipients=obs.external, new_recipients=len(new_rcpts),
                    new_domains=len(new_domains), flagged=int(obs.flagged))
        return MessageFacts(first_seen, new_rcpts, new_domains, bool(obs.network) and
                            last_seen is None, known_nets, last_seen)

    def record_auth(
        self, ref: str, login: str, network: str, at: float, ok: bool
    ) -> MessageFacts | None:
        """Count one AUTH attempt; on success the network joins the account's networks.
        The facts' ``new_network`` says whether a successful login came from a new one."""
        with self.tx("record an AUTH attempt", write=True) as conn:
            conn.execute(t.events.insert().values(
                ref=ref, account=login, kind="auth_ok" if ok else "auth_fail", at=at,
                network=network, recipients=0, new_recipients=0, flagged=0, detail={},
            ))
            if not ok:
                self._count(conn, login, at, auth_failed=1)
                return None
            first_seen = self._touch_account(conn, login, at, messages=0)
            known_nets, last_seen = self._touch_network(conn, login, network, at)
            self._count(conn, login, at, auth_ok=1)
            return MessageFacts(first_seen, (), (), bool(network) and last_seen is None,
                                known_nets, last_seen)

    def _touch_account(self, conn: Connection, account: str, at: float, messages: int) -> float:
        a = t.accounts
        row = conn.execute(select(a).where(a.c.account == account)).first()
        if row is None:
            conn.execute(a.insert().values(account=account, first_seen=at, last_seen=at,
                                           messages=messages))
            return at
        conn.execute(update(a).where(a.c.account == account).values(
            first_seen=min(row.first_seen, at), last_seen=max(row.last_seen, at),
            messages=row.messages + messages))
        return float(row.first_seen)

    def _touch_network(
        self, conn: Connection, account: str, network: str, at: float
    ) -> tuple[int, float | None]:
        """(networks known before, when ``network`` was last seen: None if new); "" is no
        network. The count is only looked up for a new network (0 otherwise)."""
        n = t.networks
        if not network:
            return 0, None
        row = conn.execute(select(n.c.last_seen, n.c.count).where(
            n.c.account == account, n.c.network == network)).first()
        if row is None:
            known = conn.execute(
                select(func.count()).select_from(n).where(n.c.account == account)).scalar_one()
            conn.execute(n.insert().values(account=account, network=network, first_seen=at,
                                           last_seen=at, count=1))
            return int(known), None
        conn.execute(update(n).where(n.c.account == account, n.c.network == network).values(
            last_seen=max(row.last_seen, at), count=row._mapping["count"] + 1))
        return 0, float(row.last_seen)

    def _count(self, conn: Connection, account: str, at: float, **counts: int) -> None:
        h = t.hourly
        key = (h.c.account == account) & (h.c.hour == _hour(at))
        row = conn.execute(select(h).where(key)).first()
        if row is None:
            values = {c: counts.get(c, 0) for c in t.COUNTERS}
            conn.execute(h.insert().values(account=account, hour=_hour(at), **values))
            return
        conn.execute(update(h).where(key).values(
            **{c: getattr(row, c) + v for c, v in counts.items()}))

    # -- reading ---------------------------------------------------------------------------

    def window(self, account: str, since: float, kind: str = "message") -> list[WindowEvent]:
        """The account's events of ``kind`` since ``since``, oldest first (without detail)."""
        e = t.events
        query = select(e.c.ref, e.c.at, e.c.network, e.c.recipients, e.c.new_recipients).where(
            e.c.account == account, e.c.kind == kind, e.c.at >= since)
        with self.tx("read account activity") as conn:
            rows = conn.execute(query.order_by(e.c.at, e.c.id)).all()
        return [WindowEvent(r.ref, r.at, r.network, r.recipients, r.new_recipients, {})
                for r in rows]

    def networks_since(self, account: str, since: float) -> set[str]:
        """Networks the account sent or logged in from since ``since``."""
        e = t.events
        query = select(e.c.network).distinct().where(
            e.c.account == account, e.c.at >= since, e.c.kind.in_(("message", "auth_ok")),
            e.c.network != "")
        with self.tx("read account networks") as conn:
            return {str(n) for n in conn.execute(query).scalars()}

    def peak_hour(self, account: str, since: float, before: float, counter: str) -> int:
        """The account's highest hourly ``counter`` in [since, before) (0 when none)."""
        h = t.hourly
        query = select(func.max(getattr(h.c, counter))).where(
            h.c.account == account, h.c.hour >= _hour(since), h.c.hour < _hour(before))
        with self.tx("read the baseline") as conn:
            value = conn.execute(query).scalar()
        return int(value or 0)

    def hours_of_day(self, account: str, since: float, before: float, zone: str) -> list[int]:
        """Messages the account sent in each hour of day (0..23, in time zone ``zone``) over
        the epoch hours in [since, before)."""
        h = t.hourly
        query = select(h.c.hour, h.c.messages).where(
            h.c.account == account, h.c.hour >= _hour(since), h.c.hour < _hour(before),
            h.c.messages > 0)
        with self.tx("read the baseline") as conn:
            rows = conn.execute(query).all()
        counts = [0] * 24
        for hour, messages in rows:
            counts[local_hour(int(hour), zone)] += int(messages)
        return counts

    def hourly(self, account: str) -> list[dict[str, int]]:
        """Every hourly row of the account, oldest first (for analysts and tests)."""
        h = t.hourly
        with self.tx("read the baseline") as conn:
            rows = conn.execute(select(h).where(h.c.account == account).order_by(h.c.hour))
            return [{"hour": r.hour, **{c: int(getattr(r, c)) for c in t.COUNTERS}}
                    for r in rows]

    def known_networks(self, account: str) -> list[str]:
        n = t.networks
        with self.tx("read account networks") as conn:
            rows = conn.execute(select(n.c.network).where(n.c.account == account)
                                .order_by(n.c.first_seen)).scalars()
            return [str(r) for r in rows]

    def failed_auth(self, since: float, *, login: str | None = None,
                    network: str | None = None) -> list[tuple[str, str]]:
        """(login, network) of failed AUTH attempts since ``since``, for one login or from
        one network."""
        e = t.events
        query = select(e.c.account, e.c.network).where(e.c.kind == "auth_fail", e.c.at >= since)
        if login is not None:
            query = query.where(e.c.account == login)
        if network is not None:
            query = query.where(e.c.network == network)
        with self.tx("read AUTH failures") as conn:
            return [(str(a), str(n)) for a, n in conn.execute(query)]

    def failed_auth_spread(self, since: float, sample: int = 20) -> AuthSpread:
        """Failed AUTH since ``since`` across every network: distinct logins and networks,
        leaving out logins that also succeeded since then (a mistyped password)."""
        e = t.events
        succeeded = select(e.c.account).where(e.c.kind == "auth_ok", e.c.at >= since)
        failed = select(e.c.account, e.c.network).where(
            e.c.kind == "auth_fail", e.c.at >= since, e.c.network != "",
            e.c.account.not_in(succeeded)).subquery()
        counts = select(func.count(failed.c.account.distinct()),
                        func.count(failed.c.network.distinct()))
        with self.tx("read AUTH failures") as conn:
            logins, nets = conn.execute(counts).one()
            some_logins = conn.execute(select(failed.c.account).distinct()
                                       .order_by(failed.c.account).limit(sample)).scalars()
            some_nets = conn.execute(select(failed.c.network).distinct()
                                     .order_by(failed.c.network).limit(sample)).scalars()
            return AuthSpread(int(logins), int(nets), [str(a) for a in some_logins],
                              [str(n) for n in some_nets])

    def purge(self, events_before: float, hours_before: float) -> None:
        """Drop raw events older than ``events_before`` and counters older than
        ``hours_before`` (epoch seconds)."""
        with self.tx("purge account activity", write=True) as conn:
            conn.execute(delete(t.events).where(t.events.c.at < events_before))
            conn.execute(delete(t.hourly).where(t.hourly.c.hour < _hour(hours_before)))
            conn.execute(delete(t.findings).where(t.findings.c.at < events_before))


def refs(events: Sequence[WindowEvent], limit: int = 50) -> list[str]:
    """The spool ids of ``events``, the newest ``limit``."""
    return [e.ref for e in events][-limit:]
