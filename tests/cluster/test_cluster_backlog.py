"""lockdown.max_held_messages in a cluster: the shared held backlog (held_mail, counted at most
once a second) counts toward the limit beside the node's own spool, in SMTP and the milter."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mailward.cluster.backlog import HeldCount
from mailward.cluster.held import HeldStore
from mailward.config.settings import Settings
from mailward.errors import StoreError
from mailward.frontends.milter.verdicts import MilterVerdicts
from mailward.frontends.smtp.handler import GatewayHandler
from mailward.model import Envelope
from mailward.response.lockdown import Level
from mailward.spool.queue import Spool, SpoolEntry, new_spool_id

ENV = Envelope("bob@partner.example.net", ("alice@example.com",), received_at=1.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def park(held: HeldStore, *numbers: int) -> None:
    for n in numbers:
        held.park(SpoolEntry(f"held{n:04d}", ENV, b"Subject: x\r\n\r\nx\r\n", {}), "node-b")


def test_the_shared_count_is_read_at_most_once_per_ttl(tmp_path: Path) -> None:
    held = HeldStore(f"sqlite:///{tmp_path / 'shared.db'}")
    clock = Clock()
    try:
        count = HeldCount(held, ttl=1.0, clock=clock)
        assert count.fresh() is None
        park(held, 1, 2)
        assert count.get() == 2 and count.fresh() == 2
        park(held, 3)
        clock.now += 0.5
        assert asyncio.run(count.aget()) == 2, "within the second: the cached count"
        clock.now += 0.6
        assert count.fresh() is None and asyncio.run(count.aget()) == 3
    finally:
        held.close()


def test_a_store_that_does_not_answer_keeps_the_last_count() -> None:
    answers: list[int | Exception] = [4, StoreError("down")]

    def count() -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    clock = Clock()
    held_count = HeldCount(SimpleNamespace(count=count), clock=clock)  # type: ignore[arg-type]
    assert held_count.get() == 4
    clock.now += 2
    assert held_count.get() == 4 and not answers


def handler(tmp_path: Path, held_count: HeldCount | None) -> GatewayHandler:
    settings = Settings.model_validate({"data_dir": str(tmp_path / "node"),
                                        "lockdown": {"max_held_messages": 3}})
    processor = SimpleNamespace(lockdown=lambda: Level.HOLD_ALL)
    return GatewayHandler(settings, Spool(settings.spool_dir), None,  # type: ignore[arg-type]
                          processor, held_count=held_count)  # type: ignore[arg-type]


def mail(gw: GatewayHandler) -> str:
    session = SimpleNamespace(authenticated=False, peer=("192.0.2.1", 25))
    envelope = SimpleNamespace(mail_from=None, mail_options=[])
    reply: str = asyncio.run(gw.handle_MAIL(None, session, envelope, "bob@example.net", []))
    return reply[:3]


def test_smtp_at_hold_all_counts_the_clusters_held_mail(tmp_path: Path) -> None:
    held = HeldStore(f"sqlite:///{tmp_path / 'shared.db'}")
    try:
        park(held, 1, 2)
        gw = handler(tmp_path, HeldCount(held, ttl=0.0))
        gw.spool.put(ENV, b"Subject: y\r\n\r\ny\r\n")
        assert mail(gw) == "452", "2 held in the cluster + 1 in this node's spool"
        assert mail(handler(tmp_path, None)) == "250", "the spool alone is under the limit"
        gw.spool.finish(gw.spool.ids()[0])
        assert mail(gw) == "250"
    finally:
        held.close()


def test_the_milter_at_hold_all_counts_the_clusters_held_mail(tmp_path: Path) -> None:
    held = HeldStore(f"sqlite:///{tmp_path / 'shared.db'}")
    settings = Settings.model_validate({"data_dir": str(tmp_path / "node"),
                                        "lockdown": {"max_held_messages": 3}})
    spool = Spool(settings.spool_dir)
    processor: Any = SimpleNamespace(store=None, spool=spool)
    verdicts = MilterVerdicts(settings, None, processor,  # type: ignore[arg-type]
                              HeldCount(held, ttl=0.0))
    msg: Any = SimpleNamespace(queue_id="Q1")

    def hold() -> bytes:
        replies = asyncio.run(verdicts._hold(new_spool_id(), ENV, b"Subject: y\r\n\r\ny\r\n", msg,
                                             Level.HOLD_ALL))
        return b"".join(replies)

    try:
        park(held, 1)
        hold()
        assert spool.count() == 1, "1 + 1 held: under the limit, kept in the spool"
        park(held, 2)
        assert b"452 4.3.1" in hold() and spool.count() == 1, "1 + 2 held: the MTA retries"
    finally:
        held.close()
