"""Lockdown notices over the real Redis pub/sub: a change reaches every subscriber at once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from cluster_helpers import REDIS_URL, make_link

from mailward.cluster.notify import LOCKDOWN, RELEASE, follow, publish
from mailward.config.settings import Settings
from mailward.response.lockdown import Level, LockdownState
from mailward.store import open_store


async def _received(prefix: str, send: Any) -> list[tuple[str, dict[str, Any]]]:
    got: list[tuple[str, dict[str, Any]]] = []
    arrived = asyncio.Event()
    ready = asyncio.Event()

    def on(topic: str) -> Any:
        def handle(data: dict[str, Any]) -> None:
            got.append((topic, data))
            arrived.set()
        return handle

    link = make_link(prefix, "node-b")
    task = asyncio.create_task(follow(link, {LOCKDOWN: on(LOCKDOWN), RELEASE: on(RELEASE)},
                                      ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await asyncio.to_thread(send)
        await asyncio.wait_for(arrived.wait(), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return got


def test_a_published_change_reaches_the_other_node(prefix: str) -> None:
    link = make_link(prefix, "node-a")
    got = asyncio.run(_received(prefix, lambda: publish(link, LOCKDOWN, {"level": "hold-all"})))
    assert got[0][0] == LOCKDOWN
    assert got[0][1]["level"] == "hold-all" and got[0][1]["node"] == "node-a"


def test_a_notice_for_another_cluster_is_not_heard(prefix: str) -> None:
    other = make_link(prefix + "other:", "node-a")
    mine = make_link(prefix, "node-a")

    def send() -> None:
        publish(other, LOCKDOWN, {"level": "hold-all"})
        publish(mine, RELEASE, {"order": 1})

    got = asyncio.run(_received(prefix, send))
    assert [topic for topic, _ in got] == [RELEASE]


def test_publish_without_redis_reports_failure_and_raises_nothing(prefix: str) -> None:
    link = make_link(prefix).__class__("redis://127.0.0.1:1/0", prefix, "n", 1.0, 0.2)
    assert publish(link, LOCKDOWN, {"level": "normal"}) is False


def test_a_level_change_is_announced_and_the_cache_dropped(prefix: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, cluster={"redis_url": REDIS_URL,  # type: ignore[arg-type]
                                                    "key_prefix": prefix})
    store = open_store(settings.store_url)
    changer = LockdownState.for_settings(settings, cache_seconds=0.0)
    follower = LockdownState.for_settings(settings, cache_seconds=3600.0)
    try:
        assert follower.level() is Level.NORMAL  # cached for an hour from now on

        def change() -> None:
            changer.set(Level.HOLD_ALL, actor="soc", reason="test", store=store)

        began = time.time()
        got = asyncio.run(_received(prefix, change))
        assert got[0][1]["level"] == "hold-all"
        assert got[0][1]["changed_at"] >= began
        assert follower.level() is Level.NORMAL, "without the notice the cache still answers"
        follower.invalidate()
        assert follower.level() is Level.HOLD_ALL
    finally:
        changer.close()
        follower.close()
        store.close()
