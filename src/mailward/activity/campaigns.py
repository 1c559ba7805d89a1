"""Campaigns: messages clustered while they flow, and the response when one member is bad.

Each scanned message is clustered against the mail of the last ``[campaigns] window_hours``:

- by near-duplicate content: a MinHash signature of its normalised text
  (:mod:`mailward.activity.campaign_text`) looked up in a :class:`datasketch.MinHashLSH`
  index, each candidate checked at ``similarity`` (estimated Jaccard);
- by the same file: an attachment's SHA-256 (not an inline part, not an image);
- by a shared link registrable domain (not one of ``ignore_link_domains`` nor an accepted
  domain) or sender infrastructure (envelope or From domain, client network) together with a
  lower content similarity, ``infra_similarity``.

The message joins the cluster with the most matching members (the oldest on a tie), or
starts its own. When it matches members of two or more clusters, they are merged into the
oldest (:mod:`mailward.activity.campaign_merge`; ``[campaigns] merge``): the merged ids are
kept in ``campaign_merges`` so they still lead to the campaign, and a merged campaign is bad
when any part was (the delivered members of the good parts are then clawed back). A cluster of
``min_members`` messages is a campaign: stored with its first and
last seen, members (spool id, recipients, sender, verdict) and indicators. The index lives in
memory, bounded by the window, and is rebuilt from ``campaign_messages`` at start.

When a member is found bad (a later member's verdict is one of ``bad_actions``, the zero-hour
purge flags a member, an analyst reports it), the campaign is marked bad, an alert of kind
``campaign`` (symbol ``ACT_CAMPAIGN_BAD``) is raised through the activity monitor, and with
``clawback`` on, every delivered member is clawed back with the zero-hour claw-back.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError

from mailward.activity import _campaign_schema as t
from mailward.activity import campaign_text as ct
from mailward.activity.campaign_index import (
    CampaignIndex,
    IndexedMessage,
    Indicators,
    message_indicators,
    signature_of,
)
from mailward.activity.campaign_merge import MergeOutcome, oldest, resolve_merged
from mailward.activity.campaign_reads import CampaignReads
from mailward.activity.campaign_rows import Storing, store_batch, store_one
from mailward.activity.checks import ActivityFinding
from mailward.cluster.notify import CAMPAIGN, publish
from mailward.cluster.redis import RedisLink
from mailward.config.settings import Settings
from mailward.errors import StoreError
from mailward.model import Action, Envelope, ParsedMessage, TextSignature, Verdict
from mailward.response.journal import Journal, JournalHit
from mailward.response.zero_hour import claw_back_hits
from mailward.store import Store
from mailward.store._engine import open_tables, transaction
from mailward.store._group import GroupTransaction

if TYPE_CHECKING:
    from mailward.activity.monitor import ActivityMonitor

log = logging.getLogger(__name__)
ACTOR = "mailward-campaigns"
DELIVERED = frozenset({"deliver", "tag", "disarm"})


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one message went: its campaign (cluster) id, how it joined, the cluster size."""

    spool_id: str
    campaign_id: str
    joined_by: str  # new | content | link | attachment | infra
    size: int
    is_campaign: bool
    seconds: float  # CPU time (this thread) to cluster it: signature, lookups, matching
    merged: tuple[str, ...] = ()  # clusters merged into campaign_id because of this message


@dataclass(frozen=True, slots=True)
class Observed:
    """One scanned message to cluster (see :meth:`Campaigns.observe`)."""

    spool_id: str
    envelope: Envelope
    parsed: ParsedMessage | None
    verdict: Verdict
    signature: TextSignature | None = None


@dataclass(slots=True)
class _Placing:
    """One message placed in the index, its rows to store."""

    obs: Observed
    storing: Storing
    cluster: str
    how: str
    size: int
    seconds: float
    stored: bool = True
    error: BaseException | None = None  # what storing its rows raised (not a unique key)


class _MergeLater:
    """The answer of :meth:`Campaigns._place` for a merge to make after a store."""


_MERGE_LATER = _MergeLater()


class Campaigns(CampaignReads):
    """Clustering, the campaign tables, and the response to a bad campaign (reading the
    tables: :class:`~mailward.activity.campaign_reads.CampaignReads`)."""

    def __init__(self, settings: Settings, store: Store, journal: Journal | None = None,
                 monitor: ActivityMonitor | None = None, *, now: float | None = None) -> None:
        self.settings = settings
        self.cfg = settings.campaigns
        self.store = store
        self.journal = journal
        self.monitor = monitor
        self._engine = open_tables(settings.store_url, t.CAMPAIGN_METADATA, "campaign")
        self._lock = threading.Lock()
        self.index = CampaignIndex(self.cfg.similarity, self.cfg.infra_similarity,
                                   self.cfg.num_perm)
        self._bad: set[str] = set()  # campaigns found bad (their new members are quarantined)
        self._start = time.time() if now is None else now
        self._loaded = False
        self._load_lock = threading.Lock()
        #: In a cluster: merges and campaigns found bad are announced to the other nodes.
        self._link = RedisLink.from_settings(settings)
        #: Messages stored at the same time share one transaction.
        self._writes: GroupTransaction[Storing] = GroupTransaction(
            lambda: self.tx("store campaign messages", write=True), self._store_batch,
            self._store_alone)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def tx(self, what: str, *, write: bool = False) -> Iterator[Connection]:
        with transaction(self._engine, what, write=write) as conn:
            yield conn

    def ready(self) -> None:
        """Rebuild the index from the store once, on first use (the gateway warms it up in the
        background at start; commands that only read the tables never pay for it)."""
        if self._loaded:
            return
        with self._load_lock:
            if not self._loaded:
                started = time.monotonic()
                count = self.rebuild(self._start)
                self._loaded = True
                log.info("campaign index: %d messages of the window loaded in %.1f s", count,
                         time.monotonic() - started)

    def rebuild(self, now: float) -> int:
        """Load the window's messages from the store into a fresh index; how many."""
        m = t.messages
        since = now - self.cfg.window_hours * 3600
        index = CampaignIndex(self.cfg.similarity, self.cfg.infra_similarity, self.cfg.num_perm)
        query = select(m.c.spool_id, m.c.at, m.c.campaign_id, m.c.indicators, m.c.signature)
        with self.tx("load the campaign window") as conn:
            for row in conn.execute(query.where(m.c.at >= since).order_by(m.c.at)):
                ind = Indicators(tuple(row.indicators.get("strong", ())),
                                 tuple(row.indicators.get("infra", ())))
                index.add(row.spool_id, IndexedMessage(row.at, ct.from_bytes(row.signature),
                                                row.campaign_id, ind))
        c = t.campaigns
        with self.tx("load the bad campaigns") as conn:
            bad = set(conn.execute(select(c.c.id).where(c.c.state == "bad",
                                                        c.c.last_seen >= since)).scalars())
        with self._lock:
            self.index = index
            self._bad = bad
        return len(index)

    def refresh(self, now: float | None = None) -> None:
        """Take up what other processes changed in the store (another node, the CLI, the
        console): the window's campaigns found bad and merges. Housekeeping runs it now and
        then: two small queries, nothing when the index is not loaded yet."""
        if not self._loaded:
            return
        c, g = t.campaigns, t.merges
        since = (time.time() if now is None else now) - self.cfg.window_hours * 3600
        with self.tx("refresh the bad campaigns") as conn:
            bad = set(conn.execute(select(c.c.id).where(c.c.state == "bad",
                                                        c.c.last_seen >= since)).scalars())
            moved = {str(r.id): str(r.merged_into)
                     for r in conn.execute(select(g.c.id, g.c.merged_into)
                                           .where(g.c.at >= since))}
        with self._lock:
            self._bad |= bad
            self._follow_locked(moved)

    def follow_notice(self, data: dict[str, Any]) -> None:
        """A cluster notice (:meth:`_announce` on another node or the CLI): a campaign found
        bad (``bad``), or clusters merged (``merged`` into ``into``); taken up at once."""
        bad, into, merged = data.get("bad"), data.get("into"), data.get("merged")
        with self._lock:
            if isinstance(bad, str):
                self._bad.add(bad)
            if isinstance(into, str) and isinstance(merged, list):
                self._follow_locked({str(cid): into for cid in merged})

    def _announce(self, data: dict[str, Any]) -> None:
        if self._link is not None:  # a lost notice: the others follow at their next refresh
            publish(self._link, CAMPAIGN, data)

    def bad_campaign_of(self, spool_id: str) -> str | None:
        """The campaign found bad that this (clustered) message belongs to, if any."""
        self.ready()
        with self._lock:
            member = self.index.members.get(spool_id)
            if member is None:
                return None
            cluster = self.index.root(member.cluster)
            return cluster if cluster in self._bad else None

    # -- observing -------------------------------------------------------------------------

    def observe(self, spool_id: str, envelope: Envelope, parsed: ParsedMessage | None,
                verdict: Verdict, now: float | None = None,
                signature: TextSignature | None = None) -> Placement | None:
        """Cluster one scanned message and store it (once per spool id); a member whose
        verdict is one of ``bad_actions`` makes its campaign bad (the response follows).
        ``signature``: the one its scan process made (else it is made here)."""
        return self.observe_many([Observed(spool_id, envelope, parsed, verdict, signature)],
                                 now)[0]

    def observe_many(self, batch: Sequence[Observed],
                     now: float | None = None) -> list[Placement | None]:
        """:meth:`observe` each of ``batch`` in this order, their rows stored in one
        transaction: the same clusters, rows and responses as observing them one after the
        other. A message that merges clusters has the messages placed before it stored first
        (the merge reads their first-seen times from the store)."""
        if any(obs.verdict.action is not Action.TEMPFAIL for obs in batch):
            self.ready()
        placed: list[_Placing | None] = []
        pending: list[_Placing] = []
        for obs in batch:
            placing = self._place(obs, now, merge=not pending)
            if placing is _MERGE_LATER:
                self._store_placed(pending)
                pending = []
                placing = self._place(obs, now, merge=True)
            assert not isinstance(placing, _MergeLater)
            placed.append(placing)
            if placing is not None:
                pending.append(placing)
        self._store_placed(pending)
        placements: list[Placement | None] = []
        failed: BaseException | None = None
        for placing in placed:  # each one's responses, whatever another one's raised
            try:
                placements.append(None if placing is None else self._placed(placing))
            except Exception as exc:
                placements.append(None)
                failed = failed or exc
        if failed is not None:
            raise failed
        return placements

    def _place(self, obs: Observed, now: float | None,
               merge: bool) -> _Placing | _MergeLater | None:
        """Cluster ``obs`` in the index (None: not to be clustered, or clustered before);
        ``_MERGE_LATER`` (index untouched) when it merges clusters and ``merge`` is False."""
        verdict, envelope, parsed = obs.verdict, obs.envelope, obs.parsed
        if verdict.action is Action.TEMPFAIL:  # not judged yet: clustered when it is
            return None
        started = time.thread_time()
        at = envelope.received_at or (time.time() if now is None else now)
        sig = signature_of(self.settings, envelope, parsed, obs.signature)
        ind = message_indicators(self.settings, envelope, parsed)
        with self._lock:
            if obs.spool_id in self.index.members:
                return None
            self.index.expire(at - self.cfg.window_hours * 3600)
            cluster, how, others = self.index.match(sig, ind)
            merged: tuple[str, ...] = ()
            if cluster is not None and others and self.cfg.merge:
                if not merge:
                    return _MERGE_LATER
                cluster, merged = self._merge_in_index([cluster, *others])
            cluster = cluster or f"c-{uuid.uuid4().hex[:12]}"
            self.index.add(obs.spool_id, IndexedMessage(at, sig, cluster, ind))
            size = self.index.sizes[cluster]
        seconds = time.thread_time() - started
        sender = parsed.from_[0].address if parsed is not None and parsed.from_ else ""
        row = {"spool_id": obs.spool_id, "at": at, "campaign_id": cluster,
               "mail_from": envelope.mail_from[:320], "from_address": sender[:320],
               "recipients": list(envelope.rcpt_tos), "action": str(verdict.action),
               "subject": (parsed.subject if parsed else "")[:500], "score": verdict.score,
               "joined_by": how, "cluster_ms": round(seconds * 1000, 3),
               "signature": ct.to_bytes(sig),
               "indicators": {"strong": list(ind.strong), "infra": list(ind.infra)}}
        return _Placing(obs, Storing(row, ind, at, merged), cluster, how, size, seconds)

    def _store_placed(self, batch: list[_Placing]) -> None:
        """Store the rows of ``batch`` (one transaction when they can share it); each
        placing learns whether its row was stored (not when it was stored before)."""
        if not batch:
            return
        errors = self._writes.run_all([p.storing for p in batch])
        for placing, error in zip(batch, errors, strict=True):
            if placing.storing.bad:  # learnt in the transaction: the lock is taken outside it
                with self._lock:
                    self._bad.add(str(placing.storing.row["campaign_id"]))
            if error is not None:
                placing.stored = False
                if not isinstance(error, IntegrityError):  # stored before: counted once
                    placing.error = error

    def _placed(self, placing: _Placing) -> Placement | None:
        """After its rows are stored: the placement of one message, and the responses to
        a merge it made or to a bad member of a campaign."""
        if placing.error is not None:
            raise placing.error
        if not placing.stored:
            return None
        item, cluster, spool_id = placing.storing, placing.cluster, placing.obs.spool_id
        if (kept := str(item.row["campaign_id"])) != cluster:  # another node merged it
            cluster = self._follow(kept, {cluster: kept})
        placement = Placement(spool_id, cluster, placing.how, placing.size, item.is_campaign,
                              placing.seconds, item.merged)
        if item.outcome is not None:
            self._merged(spool_id, item.outcome)
        if item.is_campaign and str(placing.obs.verdict.action) in self.cfg.bad_actions:
            self.found_bad(cluster, f"member {spool_id} was judged {placing.obs.verdict.action}",
                           source="detection", members=(spool_id,))
        return placement

    def _merge_in_index(self, clusters: list[str]) -> tuple[str, tuple[str, ...]]:
        """(Under the lock.) Merge the clusters in the index into the one seen first (read
        from the store: the index only knows the window); (kept id, merged ids). A cluster
        another node merged already follows its merge first (nothing to merge again)."""
        with self.tx("find the oldest campaign") as conn:
            moved = resolve_merged(conn, clusters)
            self._follow_locked(moved)
            clusters = list(dict.fromkeys(self.index.root(cid) for cid in clusters))
            into = oldest(conn, clusters) if len(clusters) > 1 else clusters[0]
        merged = tuple(cid for cid in clusters if cid != into)
        self.index.merge(into, merged)
        if self._bad & set(clusters):
            self._bad.add(into)
        return into, merged

    def _follow(self, into: str, moved: dict[str, str]) -> str:
        """Take up merges made by another node (``moved``: merged id -> kept id); the root
        of ``into`` now."""
        with self._lock:
            self._follow_locked(moved)
            return self.index.root(into)

    def _follow_locked(self, moved: dict[str, str]) -> None:
        for merged, into in moved.items():
            self.index.merge(into, (merged,))
            if merged in self._bad:
                self._bad.add(into)

    def _merged(self, spool_id: str, outcome: MergeOutcome) -> None:
        """Audit a merge; when it made a good part bad, respond as to any bad campaign."""
        why = (f"{', '.join(outcome.merged)} merged into {outcome.into}: message {spool_id} "
               "resembles members of each")
        log.info("campaign %s", why)
        self._announce({"into": outcome.into, "merged": list(outcome.merged)})
        self.store.audit(ACTOR, "campaign merged", outcome.into, (), why)
        if outcome.bad and outcome.good_members:
            self.found_bad(outcome.into,
                           f"merged with bad campaign {', '.join(outcome.bad_parts)} ({why})",
                           source="merge", members=(spool_id,), among=outcome.good_members)

    def _store_alone(self, item: Storing) -> None:
        with self.tx("store a campaign message", write=True) as conn:
            store_one(conn, item, self.cfg.min_members)

    def _store_batch(self, conn: Connection, items: list[Storing]) -> None:
        store_batch(conn, items, self.cfg.min_members)

    # -- found bad -------------------------------------------------------------------------

    def expand(self, flagged: Sequence[JournalHit], why: str) -> list[JournalHit]:
        """For the zero-hour purge: the delivered members of the flagged messages' campaigns
        (the campaigns are marked bad and alerted on; the purge claws back)."""
        extra: list[JournalHit] = []
        done: set[str] = set()
        for hit in flagged:
            cid = self.campaign_of(hit.spool_id)
            if cid is None or cid in done:
                continue
            done.add(cid)
            members = self.found_bad(cid, f"zero-hour purge ({why}) flagged {hit.spool_id}",
                                     source="zero-hour", members=(hit.spool_id,),
                                     claw_back=False)
            if self.cfg.clawback:
                extra += members
        return extra

    def found_bad(self, campaign_id: str, why: str, *, source: str,
                  members: Sequence[str] = (), claw_back: bool = True,
                  actor: str = ACTOR, among: Sequence[str] | None = None) -> list[JournalHit]:
        """Mark the campaign bad, raise its alert and (``claw_back`` and ``[campaigns]
        clawback``) claw back its delivered members (only those in ``among`` when given: a
        merge claws back the good part's). Returns the delivered members."""
        now = time.time()
        c = t.campaigns
        with self.tx("mark a campaign bad", write=True) as conn:
            row = conn.execute(select(c).where(c.c.id == campaign_id)).first()
            if row is None:
                raise StoreError(f"no campaign {campaign_id}")
            if row.state != "bad":
                conn.execute(update(c).where(c.c.id == campaign_id).values(
                    state="bad", bad_at=now, bad_why=why[:1000]))
        with self._lock:
            self._bad.add(campaign_id)
        self._announce({"bad": campaign_id})
        self.store.audit(actor, "campaign bad", campaign_id, (), why)
        delivered = [m["spool_id"] for m in self.members(campaign_id)
                     if m["action"] in DELIVERED and (among is None or m["spool_id"] in among)]
        hits = self.journal.by_spool_ids(delivered) if self.journal is not None else []
        self._alert(campaign_id, why, source, members, len(hits), now)
        if claw_back and self.cfg.clawback and hits:
            results = claw_back_hits(self.settings, self.store, hits, actor=actor,
                                     reason=f"campaign {campaign_id}: {why}")
            removed = sum(1 for r in results if r.status == "removed")
            log.warning("campaign %s found bad (%s): %d copies clawed back", campaign_id,
                        why, removed)
        return hits

    def _alert(self, campaign_id: str, why: str, source: str, members: Sequence[str],
               delivered: int, now: float) -> None:
        if self.monitor is None:
            return
        weight = self.settings.activity.weight("ACT_CAMPAIGN_BAD")
        finding = ActivityFinding(
            "ACT_CAMPAIGN_BAD", "campaign", campaign_id, weight,
            f"campaign {campaign_id} was found bad ({source}): {why}", now,
            {"source": source, "members_found_bad": list(members)[:20],
             "delivered_members": delivered,
             "clawback": self.cfg.clawback})
        try:
            self.monitor.raise_alerts([finding], now)
        except Exception:  # the alert is advisory; the claw-back goes on
            log.exception("could not raise the alert of campaign %s", campaign_id)

    def purge(self, now: float) -> None:
        """Drop window rows of messages in no campaign, and campaigns past retention."""
        m, c = t.messages, t.campaigns
        window = now - self.cfg.window_hours * 3600
        old = now - self.cfg.retention_days * 86400
        with self.tx("purge campaigns", write=True) as conn:
            conn.execute(delete(m).where(m.c.at < window,
                                         m.c.campaign_id.not_in(select(c.c.id))))
            gone = select(c.c.id).where(c.c.last_seen < old)
            conn.execute(delete(m).where(m.c.campaign_id.in_(gone)))
            conn.execute(delete(c).where(c.c.last_seen < old))
