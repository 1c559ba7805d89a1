"""Campaign notices over the real Redis: `mailward campaigns bad` and a merge are announced to
the running nodes, which take them up in their campaign index at once (off the event loop)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from cluster_helpers import REDIS_URL, make_link

from mailward.activity import _campaign_schema as t
from mailward.activity.campaigns import Campaigns
from mailward.cli.main import main
from mailward.cluster.node import run_node
from mailward.cluster.notify import CAMPAIGN, follow, publish
from mailward.config.settings import Settings
from mailward.runtime.gateway import Gateway
from mailward.store import open_store


def config(tmp_path: Path, prefix: str) -> Path:
    path = tmp_path / "mailward.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[journal]\nenabled = false\n'
                    f'[cluster]\nredis_url = "{REDIS_URL}"\nkey_prefix = "{prefix}"\n')
    return path


def a_campaign(settings: Settings, campaign_id: str) -> None:
    store = open_store(settings.store_url)
    found = Campaigns(settings, store)
    try:
        with found.tx("add a campaign", write=True) as conn:
            conn.execute(t.campaigns.insert().values(
                id=campaign_id, first_seen=time.time(), last_seen=time.time(), members=3,
                state="active", bad_at=None, bad_why="", indicators=[]))
    finally:
        found.close()
        store.close()


async def heard_while(prefix: str, action: Any) -> list[dict[str, Any]]:
    """The campaign notices a node hears while ``action`` runs (in a thread)."""
    got: list[dict[str, Any]] = []
    ready, arrived = asyncio.Event(), asyncio.Event()

    def on(data: dict[str, Any]) -> None:
        got.append(data)
        arrived.set()

    task = asyncio.create_task(follow(make_link(prefix, "node-b"), {CAMPAIGN: on}, ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await asyncio.to_thread(action)
        await asyncio.wait_for(arrived.wait(), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return got


def test_campaigns_bad_from_the_cli_is_announced(tmp_path: Path, prefix: str) -> None:
    cfg = config(tmp_path, prefix)
    settings = Settings.model_validate({"data_dir": str(tmp_path / "data")})
    a_campaign(settings, "c-0123456789ab")
    got = asyncio.run(heard_while(prefix, lambda: main(
        ["-c", str(cfg), "campaigns", "bad", "c-0123456789ab", "--reason", "phish"])))
    assert got[0]["bad"] == "c-0123456789ab"


def test_without_a_cluster_nothing_is_published(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": str(tmp_path / "data")})
    found = Campaigns(settings, open_store(settings.store_url))
    try:
        assert found._link is None
        found._announce({"bad": "c-0123456789ab"})  # no Redis asked: nothing to fail
    finally:
        found.close()
        found.store.close()


def test_a_node_hands_campaign_notices_to_its_index_off_the_event_loop(
        tmp_path: Path, prefix: str) -> None:
    settings = Settings.model_validate({
        "data_dir": str(tmp_path / "node-b"), "journal": {"enabled": False},
        "activity": {"enabled": False},
        "cluster": {"redis_url": REDIS_URL, "key_prefix": prefix, "node_id": "node-b"},
    })
    gw = Gateway.build(settings, history=False, offline=True)
    got: list[tuple[dict[str, Any], bool]] = []

    def on_campaign(data: dict[str, Any]) -> None:
        got.append((data, threading.current_thread() is threading.main_thread()))

    async def scenario() -> None:
        ready = asyncio.Event()
        assert gw.cluster is not None and gw.cluster.link is not None
        task = asyncio.create_task(run_node(gw.cluster, gw.cluster.link, lambda: None, ready,
                                            on_campaign=on_campaign))
        try:
            await asyncio.wait_for(ready.wait(), 10)
            link = make_link(prefix, "node-a")
            await asyncio.to_thread(publish, link, CAMPAIGN, {"into": "c-1", "merged": ["c-2"]})
            deadline = time.monotonic() + 10
            while not got and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    try:
        asyncio.run(scenario())
    finally:
        gw.close()
    assert got and got[0][0]["merged"] == ["c-2"] and got[0][1] is False
