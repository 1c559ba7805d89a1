"""`mailward lockdown` in a cluster: a change is announced, status shows the shared backlog,
`release --detach` files an order for the running nodes; without a cluster, no order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cluster_helpers import REDIS_URL, make_link

from mailward.cli.main import main
from mailward.cluster.held import HeldStore
from mailward.cluster.notify import LOCKDOWN, RELEASE, follow


def config(tmp_path: Path, prefix: str | None) -> Path:
    path = tmp_path / "mailward.toml"
    text = f'data_dir = "{tmp_path / "data"}"\n'
    if prefix is not None:
        text += f'[cluster]\nredis_url = "{REDIS_URL}"\nkey_prefix = "{prefix}"\n'
    path.write_text(text)
    return path


def test_level_change_and_detached_release_are_announced(
    tmp_path: Path, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, prefix)
    heard: list[str] = []

    async def scenario() -> None:
        ready = asyncio.Event()
        task = asyncio.create_task(follow(make_link(prefix), {
            LOCKDOWN: lambda d: heard.append(str(d["level"])),
            RELEASE: lambda d: heard.append(f"order {d['order']}"),
        }, ready))
        await asyncio.wait_for(ready.wait(), 10)
        assert await asyncio.to_thread(
            main, ["-c", str(cfg), "lockdown", "hold-all", "--reason", "incident"]) == 0
        assert await asyncio.to_thread(
            main, ["-c", str(cfg), "lockdown", "release", "--detach", "--reason", "over"]) == 0
        for _ in range(100):
            if len(heard) == 2:
                break
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert heard == ["hold-all", "order 1"]
    assert main(["-c", str(cfg), "lockdown", "status"]) == 0
    out = capsys.readouterr().out
    assert "release order 1 filed" in out and "held in the cluster store: 0" in out
    held = HeldStore(f"sqlite:///{tmp_path / 'data' / 'mailward.db'}")
    try:
        order = held.open_order()
        assert order is not None and order.actor and order.reason == "over"
    finally:
        held.close()


def test_without_a_cluster_status_shows_no_cluster_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, None)
    assert main(["-c", str(cfg), "lockdown", "hold-all", "--reason", "incident"]) == 0
    assert main(["-c", str(cfg), "lockdown", "status"]) == 0
    out = capsys.readouterr().out
    assert "lockdown: hold-all" in out and "cluster store" not in out
