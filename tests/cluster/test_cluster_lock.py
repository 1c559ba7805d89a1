"""Leased locks on the real Redis: acquire, renew, takeover after expiry, token-safe release."""

from __future__ import annotations

import time

import redis
from cluster_helpers import make_link

from mailward.cluster.lock import LeasedLock, holding, wait_acquire


def _lock(prefix: str, node: str, lease: float = 1.0) -> tuple[redis.Redis, LeasedLock]:
    link = make_link(prefix, node, lease)
    client = link.client()
    return client, LeasedLock(client, link, "job")


def test_one_node_holds_the_lock_and_the_other_is_refused(prefix: str) -> None:
    _, a = _lock(prefix, "node-a")
    _, b = _lock(prefix, "node-b")
    assert a.acquire()
    assert not b.acquire()
    assert (b.holder() or "").startswith("node-a:")
    assert a.release()
    assert b.acquire(), "a released lock is free at once"


def test_a_dead_holders_lease_expires_and_another_takes_over(prefix: str) -> None:
    _, a = _lock(prefix, "node-a", lease=1.0)
    _, b = _lock(prefix, "node-b", lease=1.0)
    assert a.acquire()  # node a "dies": it never renews
    began = time.monotonic()
    assert wait_acquire(b, timeout=5.0, poll=0.05)
    assert 0.5 < time.monotonic() - began < 3.0
    assert not a.renew(), "the old holder's renewal must fail once another holds the lock"


def test_renewal_keeps_the_lock_past_its_lease(prefix: str) -> None:
    _, a = _lock(prefix, "node-a", lease=1.0)
    _, b = _lock(prefix, "node-b", lease=1.0)
    assert a.acquire()
    with holding(a) as lease:
        assert not wait_acquire(b, timeout=2.0, poll=0.1), "renewed: never free"
        assert not lease.lost.is_set()
    assert b.acquire(), "released when the block ends"


def test_release_never_removes_a_newer_holders_lock(prefix: str) -> None:
    client, a = _lock(prefix, "node-a", lease=1.0)
    _, b = _lock(prefix, "node-b", lease=1.0)
    assert a.acquire()
    client.delete(a.key)  # as if a's lease ran out
    assert b.acquire()
    assert not a.release(), "a's token is no longer the lock's"
    assert (b.holder() or "").startswith("node-b:")


def test_a_lost_lease_is_reported_to_the_job(prefix: str) -> None:
    client, a = _lock(prefix, "node-a", lease=1.0)
    assert a.acquire()
    with holding(a) as lease:
        client.set(a.key, "node-b:stolen")  # another holder after an expiry
        assert lease.lost.wait(3.0)
    assert client.get(a.key) == "node-b:stolen", "stopping must not release another's lock"
