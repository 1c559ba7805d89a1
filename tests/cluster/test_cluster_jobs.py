"""Batch jobs on one node at a time: exclusive (wait, take over), once (skip what another node
finished), the zero-hour purge's identity across nodes, and no Redis: the job just runs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from cluster_helpers import REDIS_URL, make_link

from mailward.cluster.jobs import JobBusy, exclusive, once, purge_key
from mailward.cluster.lock import Lease, LeasedLock
from mailward.config.settings import Settings


def settings(tmp_path: Path, prefix: str, node: str, **more: object) -> Settings:
    return Settings.model_validate({
        "data_dir": str(tmp_path / node), **more,
        "cluster": {"redis_url": REDIS_URL, "key_prefix": prefix, "node_id": node,
                    "lock_lease_seconds": 1.0},
    })


def test_without_a_cluster_the_job_runs_unlocked(tmp_path: Path) -> None:
    with exclusive(Settings(data_dir=tmp_path), "clawback") as lease:
        assert lease is None


def test_with_redis_down_the_job_still_runs(tmp_path: Path) -> None:
    s = Settings.model_validate({"data_dir": str(tmp_path),
                                 "cluster": {"redis_url": "redis://127.0.0.1:1/0"}})
    with exclusive(s, "clawback") as lease:
        assert lease is None


def test_a_held_job_waits_and_is_taken_over_when_its_holder_dies(
    tmp_path: Path, prefix: str
) -> None:
    dead = LeasedLock(make_link(prefix, "node-a").client(), make_link(prefix, "node-a"),
                      "clawback")
    assert dead.acquire()  # node a dies holding it
    b = settings(tmp_path, prefix, "node-b")
    with pytest.raises(JobBusy), exclusive(b, "clawback", wait=0.2):
        pass
    began = time.monotonic()
    with exclusive(b, "clawback", wait=10) as lease:
        assert isinstance(lease, Lease)
        assert (dead.holder() or "").startswith("node-b:")
    assert time.monotonic() - began < 5
    assert dead.holder() is None, "released after the block"


def test_once_skips_what_another_node_finished(tmp_path: Path, prefix: str) -> None:
    a, b = settings(tmp_path, prefix, "node-a"), settings(tmp_path, prefix, "node-b")

    async def run(s: Settings, key: str) -> bool:
        async with once(s, "zero-hour", key) as mine:
            return mine

    assert asyncio.run(run(a, "k1"))
    assert not asyncio.run(run(b, "k1")), "node a finished the same purge"
    assert asyncio.run(run(b, "k2")), "another change is another purge"


def test_a_failed_job_is_not_marked_done(tmp_path: Path, prefix: str) -> None:
    a, b = settings(tmp_path, prefix, "node-a"), settings(tmp_path, prefix, "node-b")

    async def fail() -> None:
        async with once(a, "zero-hour", "k"):
            raise RuntimeError("node a's purge broke")

    async def run() -> bool:
        async with once(b, "zero-hour", "k") as mine:
            return mine

    with pytest.raises(RuntimeError):
        asyncio.run(fail())
    assert asyncio.run(run()), "node b runs it after a's failure"


def test_the_same_change_is_one_purge_on_every_node(tmp_path: Path, prefix: str) -> None:
    feed = tmp_path / "feed.txt"
    feed.write_text("evil.example.net\n")
    a = settings(tmp_path, prefix, "node-a", feeds={"paths": [str(feed)]})
    b = settings(tmp_path, prefix, "node-b", feeds={"paths": [str(feed)]})
    key = purge_key(a, "threat feeds changed", files=(feed,))
    assert key == purge_key(b, "threat feeds changed", files=(feed,))
    feed.write_text("evil.example.net\nworse.example.net\n")
    assert key != purge_key(b, "threat feeds changed", files=(feed,))
