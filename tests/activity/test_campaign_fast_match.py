"""The campaign index's fast paths (one array comparison per candidate list, the quick blank
check, the bands of a signature made once) give what the general path gives: the same
campaigns, members, merges and stored rows on a few hundred generated messages."""

from __future__ import annotations

import base64
import itertools
import random
from collections.abc import Iterator
from itertools import compress
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from datasketch import LeanMinHash
from sqlalchemy import select

from mailward.activity import _campaign_schema as t
from mailward.activity import campaign_index as ci
from mailward.activity import campaign_lsh as cl
from mailward.activity import campaign_text as ct
from mailward.activity import campaigns as cmod
from mailward.activity.campaign_index import CampaignIndex, text_signature
from mailward.activity.campaigns import Campaigns, Observed
from mailward.config.settings import LimitSettings, Settings
from mailward.mime import parse_message
from mailward.model import Action, Envelope, Verdict
from mailward.store import open_store

T0 = 1_800_000_000.0
CLEAN = Verdict(Action.DELIVER, 0.0, "clean")
PHISH = Verdict(Action.QUARANTINE, 14.0, "phish")


def _sig(text: str) -> LeanMinHash:
    return ct.signature(text, 128, 3)


def test_similar_is_the_keys_at_the_threshold() -> None:
    rng = random.Random(5)
    words = ["".join(rng.choice("abcdefghij") for _ in range(5)) for _ in range(60)]
    matrix = ct.SignatureMatrix()
    sigs = {f"k{i}": _sig(" ".join(rng.choice(words) for _ in range(rng.randint(0, 30))))
            for i in range(80)}
    sigs["blank"] = _sig("")
    for key, sig in sigs.items():
        matrix.add(key, sig)
    keys = list(sigs)
    for probe in [*list(sigs.values())[:20], _sig("")]:
        for threshold in (0.0, 0.1, 0.3, 0.5, 0.8, 1.0):
            for chosen in (keys, keys[:1], keys[3:4], [], rng.sample(keys, 30)):
                scores = matrix.similarities(probe, chosen)
                expected = list(compress(chosen, [s >= threshold for s in scores]))
                assert matrix.similar(probe, chosen, threshold) == expected


def test_is_blank_is_is_empty() -> None:
    empty = _sig("")
    assert ct.is_blank(empty) and empty.is_empty()
    text = _sig("some words of a text")
    assert not ct.is_blank(text) and not text.is_empty()
    # the first value that of an empty signature, another not: not blank
    values = np.array(empty.hashvalues)
    values[5] = 7
    odd = LeanMinHash(seed=empty.seed, hashvalues=values, scheme=empty.scheme)
    assert ct.is_blank(odd) is odd.is_empty() is False


def test_bands_of_a_query_then_insert_are_those_made_afresh() -> None:
    lsh = cl.NewestLSH(0.5, 128, 200, lambda key: 0.0)
    fresh = cl.NewestLSH(0.5, 128, 200, lambda key: 0.0)
    a, b = _sig("one text of words here"), _sig("another text entirely different")
    lsh.query(a)
    lsh.insert("a", a)
    lsh.insert("b", b)
    fresh.insert("a", _sig("one text of words here"))
    fresh.insert("b", _sig("another text entirely different"))
    assert lsh.tables == fresh.tables and lsh.keys == fresh.keys


def _old_similar(self: CampaignIndex, sig: LeanMinHash, keys: list[str], threshold: float,
                 kind: str) -> dict[str, str]:
    if not keys:
        return {}
    scores = self.signatures.similarities(sig, keys)
    return dict.fromkeys(compress(keys, [s >= threshold for s in scores]), kind)


def _old_bands(self: cl.NewestLSH, sig: LeanMinHash) -> tuple[bytes, ...]:
    values = sig.hashvalues
    return tuple([bytes(values[start:end].byteswap().data) for start, end in self.ranges])


def _messages(settings: Settings) -> list[Observed]:
    """Six near-identical messages rotating (as smtp_load sends), lures with shared links or
    attachments, ordinary mail, some at equal times, some blank."""
    rng = random.Random(9)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
             for _ in range(400)]  # letters only: the normalised text keeps them
    body = " ".join(rng.choice(words) for _ in range(70))
    out: list[Observed] = []
    for i in range(360):
        kind = i % 5
        at = T0 + (i // 3) * 1.0  # three messages at each time
        sender = f"info@s{i % 6}.example.net"
        if kind in (0, 1):  # the one big campaign
            text = f"Dear user, {body} variant {i % 6} https://parcel.example.org/{i % 6}"
            subject = f"offer {i % 6}"
        elif kind == 2:  # smaller campaigns, joined by link or content, merging now and then
            k = rng.randrange(8)
            lure = random.Random(k)
            text = (" ".join(lure.choice(words) for _ in range(40))
                    + f" ref {rng.randint(1, 99)} https://x.pay{k % 3}.test/{k}")
            subject = f"invoice {k}"
            sender = f"billing@vendor{k}.test"
        elif kind == 3:
            text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 40)))
            subject = "" if not text else "note"
        else:
            text = " ".join(rng.choice(words[:30]) for _ in range(20))
            subject = "chat"
        rcpt = f"user{i % 40}@example.com"
        head = f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
        if kind == 2 and i % 3 == 0:  # a file shared across lures: clusters merge
            payload = base64.b64encode(f"file {i % 4}".encode() * 40).decode()
            raw = (head + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n"
                   "\r\n--b\r\nContent-Type: text/plain\r\n\r\n" + text + "\r\n--b\r\n"
                   "Content-Type: application/octet-stream\r\n"
                   "Content-Disposition: attachment; filename=a.bin\r\n"
                   "Content-Transfer-Encoding: base64\r\n\r\n" + payload
                   + "\r\n--b--\r\n").encode()
        else:
            raw = (head + f"\r\n{text}\r\n").encode()
        env = Envelope(mail_from=sender, rcpt_tos=(rcpt,), peer_ip=f"203.0.{i % 3}.5",
                       received_at=at)
        parsed = parse_message(raw, LimitSettings())
        verdict = PHISH if i % 47 == 0 else CLEAN
        sent = text_signature(settings, env, parsed) if i % 4 else None
        out.append(Observed(f"m{i}", env, parsed, verdict, sent))
    return out


def _run(tmp: Path, old: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with monkeypatch.context() as patch:
        counter = itertools.count()
        patch.setattr(cmod.uuid, "uuid4", lambda: type("U", (), {"hex": f"{next(counter):012x}" + "0" * 20}))
        if old:
            patch.setattr(CampaignIndex, "_similar", _old_similar)
            patch.setattr(ci.ct, "is_blank", lambda sig: bool(sig.is_empty()))
            patch.setattr(cl.NewestLSH, "_bands", _old_bands)
        url = f"sqlite:///{tmp / 'm.db'}"
        settings = Settings.model_validate({
            "data_dir": str(tmp), "store": {"url": url},
            "organisation": {"accepted_domains": ["example.com"]}})
        store = open_store(url)
        found = Campaigns(settings, store, now=T0)
        try:
            batch = _messages(settings)
            placed: list[Any] = []
            for start in range(0, len(batch), 7):
                for p in found.observe_many(batch[start:start + 7], T0):
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
            return {"placed": placed, "rows": rows, "campaigns": camps, "merges": merges,
                    "sizes": dict(found.index.sizes), "alias": dict(found.index.alias)}
        finally:
            found.close()
            store.close()


@pytest.fixture
def dirs(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    yield tmp_path / "old", tmp_path / "new"


def test_observing_gives_what_the_general_path_gives(
        dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    old = _run(dirs[0], True, monkeypatch)
    new = _run(dirs[1], False, monkeypatch)
    assert new == old
    # the test sees what it means to: one big campaign, merges, every way of joining
    assert max(old["sizes"].values()) >= 140
    assert any(p[5] for p in old["placed"])  # merges made
    assert {p[2] for p in old["placed"]} >= {"new", "content", "attachment"}
