"""Held mail in the shared store, released from any node exactly once: two gateway nodes in one
process (two data dirs, one store, one Redis), with crashes simulated between the steps.
On SQLite, and on PostgreSQL too when MAILWARD_TEST_PG_URL is set."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cluster_helpers import REDIS_URL
from dbreset import BACKENDS, empty_postgres, pg_url

from mailward.cluster.lock import LeasedLock
from mailward.cluster.node import run_node
from mailward.cluster.release import LOCK
from mailward.config.settings import Settings
from mailward.delivery.maildir import iter_messages
from mailward.model import Envelope
from mailward.response.lockdown import Level
from mailward.runtime.gateway import Gateway
from mailward.spool.processor import drain
from mailward.spool.queue import SpoolState

Node = Callable[[str], Gateway]


def raw(n: int) -> bytes:
    return (f"From: Bob <bob@partner.example.net>\r\nTo: alice@example.com\r\n"
            f"Subject: Notes {n}\r\nMessage-ID: <notes-{n}@partner.example.net>\r\n\r\n"
            f"Hello Alice, meeting {n}.\r\n").encode()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    url = pg_url()
    empty_postgres(url)  # rows gone, the migrated schema kept (tests/store/dbreset.py)
    return url


@pytest.fixture
def node(store_url: str, prefix: str, tmp_path: Path) -> Iterator[Node]:
    built: list[Gateway] = []

    def make(name: str) -> Gateway:
        settings = Settings.model_validate({
            "data_dir": str(tmp_path / name), "store": {"url": store_url},
            "organisation": {"accepted_domains": ["example.com"]},
            "journal": {"enabled": False}, "activity": {"enabled": False},
            "campaigns": {"enabled": False},
            "lockdown": {"release_rate": 1000.0, "release_batch_size": 4},
            "cluster": {"redis_url": REDIS_URL, "key_prefix": prefix, "node_id": name,
                        "lock_lease_seconds": 1.0, "poll_seconds": 0.2},
        })
        gw = Gateway.build(settings, history=False, offline=True)
        built.append(gw)
        return gw

    yield make
    for gw in built:
        gw.close()


def hold(gw: Gateway, count: int, start: int = 0) -> list[str]:
    """Spool ``count`` messages on ``gw`` and let its processor hold them (hold-all)."""
    if gw.lockdown.level() is not Level.HOLD_ALL:
        gw.lockdown.set(Level.HOLD_ALL, actor="soc", reason="test", store=gw.store)
    ids = [gw.spool.put(Envelope("bob@partner.example.net", ("alice@example.com",),
                                 received_at=time.time()), raw(n))
           for n in range(start, start + count)]
    outcomes = asyncio.run(drain(gw.processor, ids))
    assert [o.action for o in outcomes] == ["hold"] * count
    return ids


def delivered(*nodes: Gateway) -> list[str]:
    """Spool ids of every delivered copy, over the nodes' Maildirs (a repeat shows twice)."""
    out = []
    for gw in nodes:
        for path in iter_messages(gw.settings.maildir_root, "alice@example.com"):
            out.append(path.name.split(".")[0])
    return sorted(out)


def test_held_mail_is_parked_in_the_shared_store(node: Node) -> None:
    a = node("node-a")
    hold(a, 3)
    assert a.spool.count() == 0, "held mail leaves the node's spool"
    assert a.cluster is not None and a.cluster.held.count() == 3


def test_without_a_cluster_held_mail_stays_in_the_spool(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": str(tmp_path / "solo"),
                                        "journal": {"enabled": False}})
    gw = Gateway.build(settings, history=False, offline=True)
    try:
        assert gw.cluster is None
        hold(gw, 2)
        assert len(gw.spool.held()) == 2
    finally:
        gw.close()


def test_a_release_from_another_node_delivers_each_once(node: Node) -> None:
    a, b = node("node-a"), node("node-b")
    hold(a, 5)
    hold(b, 2, start=5)
    assert b.cluster is not None
    order, report = asyncio.run(b.cluster.release_everything("soc", "done"))
    assert report is not None and report.delivered == 7
    assert len(delivered(a, b)) == 7 and len(set(delivered(a, b))) == 7
    assert b.cluster.held.count() == 0 and b.cluster.held.released_by_order(order) == 7
    _, report = asyncio.run(b.cluster.release_everything("soc", "again"))
    assert report is not None and report.delivered == 0 and len(delivered(a, b)) == 7


def test_a_crash_before_the_claim_leaves_the_message_to_the_others(node: Node) -> None:
    a, b = node("node-a"), node("node-b")
    (held_id,) = hold(a, 1)
    assert a.cluster is not None and b.cluster is not None
    entry, _, _ = b.cluster.held.entry(held_id) or pytest.fail("not parked")
    # b put it in its spool for a release, then died before claiming it
    b.spool.put(entry.envelope, entry.raw, flags={"release_of": 1}, entry_id=held_id,
                state=SpoolState(held=True))
    assert b.cluster.tidy() == 1 and b.spool.count() == 0, "b drops its unclaimed copy"
    asyncio.run(a.cluster.release_everything("soc", "after the crash"))
    assert delivered(a, b) == [held_id]


def test_a_crash_after_the_claim_is_delivered_by_the_claimer_only(node: Node) -> None:
    a, b = node("node-a"), node("node-b")
    (held_id,) = hold(a, 1)
    assert a.cluster is not None and b.cluster is not None
    entry, _, _ = b.cluster.held.entry(held_id) or pytest.fail("not parked")
    b.spool.put(entry.envelope, entry.raw, flags={"release_of": 1}, entry_id=held_id,
                state=SpoolState(held=True))
    assert b.cluster.held.claim(held_id, "node-b", 1)  # then b died before delivering
    asyncio.run(a.cluster.release_everything("soc", "a takes over"))
    assert delivered(a, b) == [], "a never delivers what b claimed"
    assert b.cluster.tidy() == 1  # b restarts: its claimed copy is due again
    asyncio.run(drain(b.processor, b.spool.due()))
    assert delivered(a, b) == [held_id]


def test_only_the_lock_holder_releases_and_another_takes_over_when_it_dies(node: Node) -> None:
    a, b = node("node-a"), node("node-b")
    hold(a, 3)
    assert a.cluster is not None and b.cluster is not None and b.cluster.link is not None
    dead = LeasedLock(b.cluster.link.client(), b.cluster.link, LOCK)
    assert dead.acquire()  # b takes the release lock and dies
    a.cluster.held.add_order("soc", "go", "node-a")
    assert sum(asyncio.run(a.cluster.run_open_orders()).values()) == 0, "b holds the lock"
    deadline = time.monotonic() + 10
    while dead.holder() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(asyncio.run(a.cluster.run_open_orders()).values()) == 3
    assert len(delivered(a, b)) == 3


def test_a_running_node_obeys_a_notice_and_releases_an_order(node: Node) -> None:
    a, b = node("node-a"), node("node-b")
    hold(a, 2)
    assert b.cluster is not None and b.cluster.link is not None
    invalidated: list[float] = []

    async def scenario() -> None:
        ready = asyncio.Event()
        task = asyncio.create_task(run_node(b.cluster, b.cluster.link,  # type: ignore[arg-type]
                                            lambda: invalidated.append(time.time()), ready))
        try:
            await asyncio.wait_for(ready.wait(), 10)
            began = time.time()
            await asyncio.to_thread(a.lockdown.set, Level.NORMAL, actor="soc", reason="over",
                                    store=a.store)
            await asyncio.to_thread(a.cluster.held.add_order,  # type: ignore[union-attr]
                                    "soc", "go", "node-a")
            deadline = time.monotonic() + 20
            while (not invalidated or len(delivered(a, b)) < 2) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert invalidated and invalidated[0] - began < 1.0
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert len(delivered(b)) == 2, "b, running, released the order"


def test_with_redis_down_mail_is_held_and_released_all_the_same(
    store_url: str, tmp_path: Path
) -> None:
    settings = Settings.model_validate({
        "data_dir": str(tmp_path / "lonely"), "store": {"url": store_url},
        "organisation": {"accepted_domains": ["example.com"]},
        "journal": {"enabled": False}, "activity": {"enabled": False},
        "campaigns": {"enabled": False}, "lockdown": {"release_rate": 1000.0},
        "cluster": {"redis_url": "redis://127.0.0.1:1/0", "node_id": "lonely"},
    })
    gw = Gateway.build(settings, history=False, offline=True)
    try:
        hold(gw, 2)  # the change's notice cannot be sent: the level is in force all the same
        assert gw.cluster is not None and gw.cluster.held.count() == 2
        _, report = asyncio.run(gw.cluster.release_everything("soc", "no redis"))
        assert report is not None and report.delivered == 2 and len(delivered(gw)) == 2
    finally:
        gw.close()
