"""The campaign index after session 11 (LSH answers kept for a big campaign's next member,
signature rows shared by equal signatures, the ways counted as they are found) answers what the
index of main ``3dfe7f6`` answered (``campaign_reference.py``, a verbatim copy): the same
matches in the same order, clusters, sizes, merges and, through :class:`Campaigns`, the same
stored rows, on a few hundred varied observations."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from campaign_reference import NewestLSH as ReferenceLSH
from campaign_reference import ReferenceIndex
from datasketch import LeanMinHash
from sqlalchemy import select
from test_campaign_fast_match import T0, _messages

from mailward.activity import _campaign_schema as t
from mailward.activity import campaign_text as ct
from mailward.activity import campaigns as cmod
from mailward.activity.campaign_index import (
    CampaignIndex,
    IndexedMessage,
    Indicators,
    text_signature,
)
from mailward.activity.campaign_lsh import NewestLSH
from mailward.activity.campaigns import Campaigns, Observed
from mailward.config.settings import LimitSettings, Settings
from mailward.mime import parse_message
from mailward.model import Action, Envelope, Verdict
from mailward.store import open_store

WORDS = [f"w{''.join(random.Random(n).choice('abcdefghij') for _ in range(6))}"
         for n in range(300)]


def _text(rng: random.Random, template: int, changes: int) -> str:
    """A template's text with ``changes`` words replaced (a near-duplicate), or another."""
    lure = random.Random(template)
    words = [lure.choice(WORDS) for _ in range(40)]
    for _ in range(changes):
        words[rng.randrange(len(words))] = rng.choice(WORDS)
    return " ".join(words)


def _operations(count: int, seed: int) -> list[tuple[float, LeanMinHash, Indicators]]:
    """Messages of a few big campaigns with identical texts (hundreds of members, their
    buckets dropping their oldest), near-duplicates, shared links, files and senders, blank
    texts, equal and out-of-order receive times, signatures made here (uint64) and sent by a
    scan process (uint32)."""
    rng = random.Random(seed)
    out = []
    at = T0
    for n in range(count):
        roll = rng.random()
        if roll < 0.6:  # two big campaigns of identical text, interleaved
            template, changes = n % 2, 0
        elif roll < 0.7:
            template, changes = 2 + rng.randrange(3), rng.randrange(6)
        elif roll < 0.74:
            template, changes = -1, 0
        else:
            template, changes = 10 + rng.randrange(40), rng.randrange(3)
        text = "" if template < 0 else _text(rng, template, changes)
        sig = ct.signature(text, 128, 3)
        if rng.random() < 0.5:
            sig = ct.from_bytes(ct.to_bytes(sig))
        strong = (f"sha256:{rng.randrange(4)}",) if rng.random() < 0.08 else ()
        infra = tuple(dict.fromkeys([
            *( [f"link:l{rng.randrange(6)}.test"] if rng.random() < 0.4 else []),
            f"from:s{rng.randrange(5)}.test", f"env:s{rng.randrange(5)}.test",
            f"net:203.0.{rng.randrange(3)}.0/24"]))
        step = rng.choice((1.0, 1.0, 1.0, 2.5, 0.0, -3.0))  # ties, and out of order
        at = at + step
        out.append((at, sig, Indicators(strong, infra)))
    return out


@pytest.mark.parametrize(("seed", "window"), [(1, 1e9), (2, 300.0), (3, 700.0)])
def test_the_index_answers_as_the_reference(seed: int, window: float) -> None:
    new = CampaignIndex(0.5, 0.3, 128)
    ref = ReferenceIndex(0.5, 0.3, 128)
    names = itertools.count()
    answered = 0
    for n, (at, sig, ind) in enumerate(_operations(1200, seed)):
        new.expire(at - window)
        ref.expire(at - window)
        answered += new.lsh._bands(sig) in new.lsh._answers
        assert new.lsh.query(sig) == ref.lsh.query(sig)
        got = new.match(sig, ind)
        assert got == ref.match(sig, ind)
        cluster, _, others = got
        if cluster is not None and others and n % 3:  # most merge (as with [campaigns] merge)
            new.merge(cluster, others)
            ref.merge(cluster, others)
        cluster = cluster or f"c{next(names)}"
        new.add(f"k{n}", IndexedMessage(at, sig, cluster, ind))
        ref.add(f"k{n}", IndexedMessage(at, sig, cluster, ind))
        assert new.sizes == ref.sizes and new.alias == ref.alias
    assert set(new.members) == set(ref.members)
    assert new.signatures._row.keys() == ref.signatures._row.keys()
    assert answered > 100  # kept answers were given
    assert max(ref.sizes.values()) > 400  # and buckets dropped their oldest


def test_a_kept_answer_follows_inserts_removals_and_shared_buckets() -> None:
    times: dict[str, float] = {}
    new = NewestLSH(0.5, 128, 20, times.__getitem__)
    ref = ReferenceLSH(0.5, 128, 20, times.__getitem__)
    one = ct.signature(_text(random.Random(1), 0, 0), 128, 3)
    near = ct.signature(_text(random.Random(2), 0, 3), 128, 3)  # shares some buckets
    assert sum(map(bytes.__eq__, new._bands(one), new._bands(near))) >= 1
    steps: list[tuple[str, str, float]] = [("insert", "one", float(n)) for n in range(30)]
    steps += [("insert", "one", 30.0), ("insert", "one", 29.0)]  # a tie, out of order
    steps += [("insert", "one", 31.0 + n) for n in range(20)]  # the bucket drops its oldest
    steps += [("remove", "", 0.0)] * 35  # down to fewer than keep
    steps += [("insert", "one", 60.0 + n) for n in range(10)]
    steps += [("insert", "near", 80.0), ("insert", "one", 81.0), ("remove", "", 0.0)]
    steps += [("insert", "one", 82.0 + n) for n in range(10)]
    order: list[str] = []
    for n, (what, text, at) in enumerate(steps):
        sig = {"one": one, "near": near}.get(text, one)
        if what == "insert":
            key = f"k{n}"
            times[key] = at
            new.insert(key, sig)
            ref.insert(key, sig)
            order.append(key)
        else:
            key = order.pop(0)
            new.remove(key)
            ref.remove(key)
        for probe in (one, near):
            assert new.query(probe) == ref.query(probe)
            assert new.query(probe) == ref.query(probe)  # asked twice: the kept answer


def test_equal_signatures_share_a_row_and_free_it() -> None:
    matrix = ct.SignatureMatrix()
    a = ct.signature("one two three four five", 128, 3)
    b = ct.from_bytes(ct.to_bytes(a))  # the same values, as a scan process sends them
    c = ct.signature("another text of words", 128, 3)
    for key, sig in (("a1", a), ("a2", a), ("b", b), ("c", c)):
        matrix.add(key, sig)
    assert matrix._row["a1"] == matrix._row["a2"] != matrix._row["c"]
    assert matrix.similar(a, ["a1", "a2"], 1.0) == ["a1", "a2"]
    assert matrix.similar(a, ["a1", "a2"], 1.01) == []
    assert matrix.similar(a, ["a2", "c", "b", "a1"], 0.9) == ["a2", "b", "a1"]
    assert matrix.similarities(c, ["a1", "c"]) == [
        ct.similarity(c, a), 1.0]
    matrix.add("a1", c)  # replaced: a1 moves to c's row
    assert matrix._row["a1"] == matrix._row["c"]
    for key in ("a2", "b", "a1", "c"):
        matrix.remove(key)
    assert not matrix._by_values and not matrix._users and len(matrix) == 0
    matrix.add("d", a)
    assert matrix.similar(a, ["d"], 0.5) == ["d"]
    assert np.array_equal(matrix._values[matrix._row["d"]], np.asarray(a.hashvalues))


CLEAN = Verdict(Action.DELIVER, 0.0, "clean")


def _load_like(settings: Settings, count: int) -> list[Observed]:
    """bench/smtp_load.py's kind of stream: one text, its members hundreds, equal times."""
    raw = (b"From: Sender <sender@partner.example.net>\r\nTo: alice@example.com\r\n"
           b"Subject: Project update 3\r\n\r\n"
           + b"Hi Alice, the notes of meeting 3 are at https://docs.partner.example.net/3.\r\n"
           * 8)
    parsed = parse_message(raw, LimitSettings())
    out = []
    for n in range(count):
        env = Envelope(mail_from="sender@partner.example.net", rcpt_tos=("alice@example.com",),
                       peer_ip=f"127.0.0.{10 + n % 5}", received_at=T0 + 200 + n // 2)
        out.append(Observed(f"l{n}", env, parsed, CLEAN, text_signature(settings, env, parsed)))
    return out


def _replay(tmp: Path, reference: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with monkeypatch.context() as patch:
        counter = itertools.count()
        patch.setattr(cmod.uuid, "uuid4",
                      lambda: type("U", (), {"hex": f"{next(counter):012x}" + "0" * 20}))
        if reference:
            patch.setattr(cmod, "CampaignIndex", ReferenceIndex)
        url = f"sqlite:///{tmp / 'm.db'}"
        settings = Settings.model_validate({
            "data_dir": str(tmp), "store": {"url": url},
            "organisation": {"accepted_domains": ["example.com"]}})
        store = open_store(url)
        found = Campaigns(settings, store, now=T0)
        try:
            varied, load = _messages(settings), _load_like(settings, 450)
            batch = [*varied[:200], *load[:300], *varied[200:], *load[300:]]
            placed: list[Any] = []
            for start in range(0, len(batch), 9):
                for p in found.observe_many(batch[start:start + 9], T0):
                    assert p is not None
                    placed.append((p.spool_id, p.campaign_id, p.joined_by, p.size,
                                   p.is_campaign, p.merged))
            with found.tx("read") as conn:
                rows = [{k: v for k, v in r._mapping.items() if k != "cluster_ms"}
                        for r in conn.execute(select(t.messages).order_by(t.messages.c.spool_id))]
                camps = [dict(r._mapping) for r in conn.execute(
                    select(t.campaigns).order_by(t.campaigns.c.id))]
                merges = [dict(r._mapping) for r in conn.execute(
                    select(t.merges).order_by(t.merges.c.id))]
            assert isinstance(found.index, ReferenceIndex if reference else CampaignIndex)
            return {"placed": placed, "rows": rows, "campaigns": camps, "merges": merges,
                    "sizes": dict(found.index.sizes), "alias": dict(found.index.alias)}
        finally:
            found.close()
            store.close()


def test_observing_stores_what_the_reference_stores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ref").mkdir()
    (tmp_path / "new").mkdir()
    ref = _replay(tmp_path / "ref", True, monkeypatch)
    new = _replay(tmp_path / "new", False, monkeypatch)
    assert new == ref
    assert max(ref["sizes"].values()) >= 450
    assert any(p[5] for p in ref["placed"])  # merges made
    assert {p[2] for p in ref["placed"]} >= {"new", "content", "attachment"}


def test_network_of_remembered_is_the_network() -> None:
    from mailward.activity.baseline import network_of
    for ip, v4, v6 in [("203.0.113.9", 24, 64), ("203.0.113.9", 16, 64), (" [2001:db8::1] ", 24, 48),
                       ("2001:db8::1", 24, 64), ("not an ip", 24, 64), ("", 24, 64)]:
        for _ in range(2):
            assert network_of(ip, v4, v6) == network_of.__wrapped__(ip, v4, v6)
    assert network_of("203.0.113.9", 24, 64) == "203.0.113.0/24"
