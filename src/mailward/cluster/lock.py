"""Leased locks in Redis for batch jobs (release, zero-hour purge, claw-back): one node at a
time runs each, and a node that dies holds nothing for longer than its lease.

``SET key token NX PX lease`` takes the lock; the holder renews it every third of the lease
with a script that extends it only if the key still holds its token; release deletes it the
same way (compare-and-delete), so a node whose lease ran out can never remove the lock a newer
holder took. The token starts with the node id, so an operator sees who holds a job's lock.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Iterator

import redis

from mailward.cluster.redis import RedisLink

log = logging.getLogger(__name__)

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class LeasedLock:
    """One named lock; ``token`` is set while this object believes it holds it."""

    def __init__(self, client: redis.Redis, link: RedisLink, name: str) -> None:
        self.client = client
        self.key = link.key("lock", name)
        self.owner = link.node
        self.lease = link.lease
        self.token: str | None = None

    def acquire(self) -> bool:
        """Take the lock if it is free; RedisError when Redis does not answer."""
        token = f"{self.owner}:{secrets.token_hex(8)}"
        if self.client.set(self.key, token, nx=True, px=int(self.lease * 1000)):
            self.token = token
            return True
        return False

    def renew(self) -> bool:
        """Extend the lease; False when the lock is no longer ours (it expired)."""
        if self.token is None:
            return False
        done = self.client.eval(_RENEW, 1, self.key, self.token, int(self.lease * 1000))
        return bool(done)

    def release(self) -> bool:
        """Let go, only if it is still ours; False when it had already expired."""
        token, self.token = self.token, None
        if token is None:
            return False
        return bool(self.client.eval(_RELEASE, 1, self.key, token))

    def holder(self) -> str | None:
        """The token of whoever holds the lock now (``<node>:<random>``), or None."""
        value = self.client.get(self.key)
        return None if value is None else str(value)


class Lease:
    """A held lock, renewed by a background thread; ``lost`` is set if a renewal fails past
    the lease (the job must stop: another node may take over)."""

    def __init__(self, lock: LeasedLock) -> None:
        self.lock = lock
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{lock.key}",
                                        daemon=True)

    def start(self) -> Lease:
        self._thread.start()
        return self

    def _renew(self) -> None:
        period = self.lock.lease / 3
        good_until = time.monotonic() + self.lock.lease
        while not self._stop.wait(period):
            try:
                if not self.lock.renew():
                    log.warning("lost the lock %s (lease expired)", self.lock.key)
                    self.lost.set()
                    return
                good_until = time.monotonic() + self.lock.lease
            except redis.RedisError as exc:
                if time.monotonic() >= good_until:
                    log.warning("lost the lock %s: Redis did not answer (%s)", self.lock.key, exc)
                    self.lost.set()
                    return

    def stop(self) -> None:
        """Stop renewing and release the lock (quietly if Redis is away: it expires)."""
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(redis.RedisError):
            self.lock.release()


@contextlib.contextmanager
def holding(lock: LeasedLock) -> Iterator[Lease]:
    """Renew ``lock`` (already acquired) while the block runs; release it after."""
    lease = Lease(lock).start()
    try:
        yield lease
    finally:
        lease.stop()


def wait_acquire(lock: LeasedLock, timeout: float, poll: float = 0.2) -> bool:
    """Try to take ``lock`` until ``timeout`` seconds have passed (a dead holder's lease
    expires meanwhile); RedisError when Redis does not answer."""
    deadline = time.monotonic() + timeout
    while True:
        if lock.acquire():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
