"""The in-memory clustering state of the campaign window (see :mod:`mailward.activity.campaigns`).

:class:`CampaignIndex` holds, for the messages of the last ``[campaigns] window_hours``, their
MinHash signatures in an LSH index (:class:`mailward.activity.campaign_lsh.NewestLSH`, whose
buckets keep their newest members), which messages show each indicator
(link registrable domain, attachment SHA-256, sender infrastructure), and the size of each
cluster; :meth:`CampaignIndex.match` answers which cluster a new message joins and how, and which
other clusters it resembles too; :meth:`CampaignIndex.merge` makes those one cluster (an alias
from each merged id to the one kept, so members keep their labels and resolve through it).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from itertools import filterfalse, islice
from operator import itemgetter

from datasketch import LeanMinHash

from mailward.activity import campaign_text as ct
from mailward.activity.baseline import network_of
from mailward.activity.campaign_lsh import NewestLSH
from mailward.config.settings import Settings
from mailward.model import Envelope, ParsedMessage, TextSignature

#: Messages per indicator considered (the newest): bounds the work for an indicator that very
#: many messages share (a popular link domain, a big provider's sender domain).
INDICATOR_CANDIDATES = 50
#: Content candidates (the LSH's answer) compared at most, the newest: a campaign of thousands
#: of near-identical messages is recognised from its latest members as well as from all of
#: them, and its next message costs the same whatever its size.
CONTENT_CANDIDATES = 200


@dataclass(frozen=True, slots=True)
class Indicators:
    """What a message shares with others: strong keys (join alone) and assisted keys (join
    together with a content similarity of ``infra_similarity``)."""

    strong: tuple[str, ...]  # sha256:<hex> of a file attachment (not an inline image)
    infra: tuple[str, ...]  # link:<registrable domain>, env:<domain>, from:<domain>, net:<net>

    @property
    def all(self) -> list[str]:
        return [*self.strong, *self.infra]


@dataclass(slots=True)
class IndexedMessage:
    at: float
    sig: LeanMinHash
    cluster: str
    indicators: Indicators


def message_indicators(settings: Settings, envelope: Envelope,
                       parsed: ParsedMessage | None) -> Indicators:
    cfg = settings.campaigns
    skip = set(cfg.ignore_link_domains) | set(settings.organisation.accepted_domains)
    strong: list[str] = []
    infra: list[str] = []
    if parsed is not None:
        # a link domain is shared by unrelated mail too (a mailing platform's tracking
        # links): it joins only with similar content, never alone
        infra += [f"link:{u.domain.lower()}" for u in parsed.urls
                  if u.domain and u.domain.lower() not in skip]
        # the same file is strong evidence, but not a logo or signature image
        strong += [f"sha256:{a.sha256.lower()}" for a in parsed.attachments
                   if a.sha256 and not (a.inline or a.detected_type.startswith("image/"))]
        if parsed.from_ and parsed.from_[0].domain:
            infra.append(f"from:{parsed.from_[0].domain.lower()}")
    env_domain = envelope.mail_from.rpartition("@")[2].lower()
    if env_domain:
        infra.append(f"env:{env_domain}")
    net = network_of(envelope.peer_ip, settings.activity.ipv4_prefix,
                     settings.activity.ipv6_prefix)
    if net and not envelope.internal:
        infra.append(f"net:{net}")
    return Indicators(tuple(dict.fromkeys(strong)), tuple(dict.fromkeys(infra)))


def message_signature(settings: Settings, envelope: Envelope,
                      parsed: ParsedMessage | None) -> LeanMinHash:
    cfg = settings.campaigns
    return ct.signature(_signature_text(envelope, parsed), cfg.num_perm, cfg.shingle_words)


def _signature_text(envelope: Envelope, parsed: ParsedMessage | None) -> str:
    """The normalised text a message's signature hashes ("" without a parsed message)."""
    if parsed is None:
        return ""
    names = ct.name_tokens(envelope.rcpt_tos, (a.display_name for a in (*parsed.to, *parsed.cc)))
    return ct.normalise(f"{parsed.subject}\n{parsed.text}", names)


def text_signature(settings: Settings, envelope: Envelope,
                   parsed: ParsedMessage | None) -> TextSignature:
    """:func:`message_signature` as it travels (made in the scan process, see
    :class:`~mailward.model.TextSignature`)."""
    cfg = settings.campaigns
    values = ct.signature_bytes(_signature_text(envelope, parsed), cfg.num_perm,
                                cfg.shingle_words)
    return TextSignature(cfg.num_perm, cfg.shingle_words, values)


def signature_of(settings: Settings, envelope: Envelope, parsed: ParsedMessage | None,
                 sent: TextSignature | None = None) -> LeanMinHash:
    """The message's signature: the one its scan process ``sent`` when it was made with these
    settings (a reload may change them), else :func:`message_signature` made here."""
    cfg = settings.campaigns
    if (sent is not None and sent.num_perm == cfg.num_perm
            and sent.shingle_words == cfg.shingle_words
            and len(sent.hashvalues) == 4 * cfg.num_perm):
        return ct.from_bytes(sent.hashvalues)
    return message_signature(settings, envelope, parsed)


class CampaignIndex:
    """The in-memory clustering state of the window: LSH, indicator indexes, cluster sizes."""

    def __init__(self, similarity: float, infra_similarity: float, num_perm: int) -> None:
        self.similarity = similarity
        self.infra_similarity = infra_similarity
        self.members: dict[str, IndexedMessage] = {}
        self.labels: dict[str, str] = {}  # key -> its member's cluster label (a quick lookup)
        #: The members' signatures as rows of one array (compared without stacking them).
        self.signatures = ct.SignatureMatrix()
        self.received: dict[str, float] = {}  # key -> its member's ``at`` (a quick sort key)
        self.lsh = NewestLSH(similarity, num_perm, CONTENT_CANDIDATES, self.received.__getitem__)
        self.order: deque[tuple[float, str]] = deque()
        self.by_indicator: dict[str, dict[str, None]] = {}
        self.sizes: Counter[str] = Counter()
        self.alias: dict[str, str] = {}  # merged cluster -> the cluster it was merged into

    def root(self, cluster: str) -> str:
        """The cluster ``cluster`` is now part of (itself unless it was merged)."""
        seen = []
        while cluster in self.alias:
            seen.append(cluster)
            cluster = self.alias[cluster]
        for merged in seen[:-1]:  # shorten the chain for the next lookup
            self.alias[merged] = cluster
        return cluster

    def merge(self, into: str, merged: tuple[str, ...]) -> None:
        """Make the clusters ``merged`` part of ``into`` (sizes added up)."""
        for name in merged:
            cluster = self.root(name)
            if cluster == into:
                continue
            self.alias[cluster] = into
            self.sizes[into] += self.sizes.pop(cluster, 0)

    def __len__(self) -> int:
        return len(self.members)

    def _newest(self, value: str) -> list[str]:
        """The newest ``INDICATOR_CANDIDATES`` messages showing an indicator."""
        keys = self.by_indicator.get(value)
        if not keys:
            return []
        return list(islice(reversed(keys), INDICATOR_CANDIDATES))

    def match(self, sig: LeanMinHash, ind: Indicators
              ) -> tuple[str | None, str, tuple[str, ...]]:
        """The cluster a message with ``sig`` and ``ind`` joins, how (None, "new"), and the
        other clusters it matches members of too (the most matching members first)."""
        found: dict[str, str] = {}  # matching member -> how, in the order they were found
        # how many of ``found`` matched each way, in the order the ways were first found
        # (what a Counter of found's values would hold: a member is never found twice)
        ways: dict[str, int] = {}
        has_text = not ct.is_blank(sig)
        if has_text:
            keys = self.lsh.query(sig)  # the newest CONTENT_CANDIDATES
            if keys:
                found = self._similar(sig, keys, self.similarity, "content")  # a new dict
                if found:
                    ways["content"] = len(found)
        for value in ind.strong:
            before = len(found)
            found.update(dict.fromkeys(filterfalse(found.__contains__, self._newest(value)),
                                       "attachment"))
            if len(found) > before:
                ways["attachment"] = ways.get("attachment", 0) + len(found) - before
        if has_text:
            for value in ind.infra:
                keys = list(filterfalse(found.__contains__, self._newest(value)))
                if not keys:
                    continue
                kind = "link" if value.startswith("link:") else "infra"
                before = len(found)
                found.update(self._similar(sig, keys, self.infra_similarity, kind))
                if len(found) > before:
                    ways[kind] = ways.get(kind, 0) + len(found) - before
        if not found:
            return None, "new", ()
        # the members' clusters, each label followed to its root once
        labels = itemgetter(*found)(self.labels)
        if len(found) == 1:
            labels = (labels,)
        if labels.count(labels[0]) == len(labels):  # one cluster (most messages): no ranking
            # the way most members matched, the first found of those as many
            return self.root(labels[0]), max(ways, key=ways.__getitem__), ()
        distinct = dict.fromkeys(labels)
        roots = {label: self.root(label) for label in distinct}
        if len(set(roots.values())) == 1:
            return next(iter(roots.values())), max(ways, key=ways.__getitem__), ()
        return self._ranked(found, list(labels), roots)

    def _similar(self, sig: LeanMinHash, keys: list[str], threshold: float,
                 kind: str) -> dict[str, str]:
        """Those of ``keys`` whose signature is at least ``threshold`` similar to ``sig``."""
        if not keys:
            return {}
        return dict.fromkeys(self.signatures.similar(sig, keys, threshold), kind)

    def _ranked(self, found: dict[str, str], labels: list[str], roots: dict[str, str]
                ) -> tuple[str, str, tuple[str, ...]]:
        """The clusters of the ``found`` members ranked: the most matching members first,
        then the one seen first; (the first, how it matched, the others)."""
        votes: Counter[str] = Counter()
        first: dict[str, float] = {}
        clusters: dict[str, str] = {}
        for key, label in zip(found, labels, strict=True):
            at = self.members[key].at
            clusters[key] = cid = roots[label]
            votes[cid] += 1
            first[cid] = min(first.get(cid, at), at)
        ranked = sorted(votes, key=lambda c: (-votes[c], first[c]))
        how = Counter(v for k, v in found.items() if clusters[k] == ranked[0])
        return ranked[0], how.most_common(1)[0][0], tuple(ranked[1:])

    def add(self, key: str, member: IndexedMessage) -> None:
        if key in self.members:
            return
        self.signatures.add(key, member.sig)  # first: it refuses a signature of another size
        self.members[key] = member
        self.labels[key] = member.cluster
        self.received[key] = member.at
        self.order.append((member.at, key))
        if not ct.is_blank(member.sig):
            self.lsh.insert(key, member.sig)
        for value in member.indicators.all:
            self.by_indicator.setdefault(value, {})[key] = None
        self.sizes[self.root(member.cluster)] += 1

    def expire(self, before: float) -> None:
        """Forget messages older than ``before`` (the window moves on)."""
        while self.order and self.order[0][0] < before:
            _, key = self.order.popleft()
            member = self.members.pop(key, None)
            if member is None:
                continue
            del self.received[key]
            del self.labels[key]
            self.signatures.remove(key)
            if not ct.is_blank(member.sig):
                self.lsh.remove(key)
            for value in member.indicators.all:
                keys = self.by_indicator.get(value)
                if keys is not None:
                    keys.pop(key, None)
                    if not keys:
                        del self.by_indicator[value]
            cluster = self.root(member.cluster)
            self.sizes[cluster] -= 1
            if self.sizes[cluster] <= 0:
                del self.sizes[cluster]
