"""The observer thread of LaterObservations: the observations started while it works are made
in batches, in the order started, and ``made`` follows the batches."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from mailward.activity.campaigns import Observed
from mailward.engine.pipeline import ScanOutcome
from mailward.model import Action, Envelope, ScanResult, Verdict
from mailward.spool.observing import LaterObservations

OUTCOME = ScanOutcome(None, ScanResult((), 0.0, 0.0), Verdict(Action.DELIVER, 0.0, "clean"))
ENVELOPE = Envelope(mail_from="a@a.test", rcpt_tos=("u@example.com",))
WAIT = 10.0


def test_observations_started_meanwhile_are_made_in_batches_in_order() -> None:
    batches: list[list[str]] = []
    first_taken, release = threading.Event(), threading.Event()

    def observe(batch: Sequence[Observed]) -> None:
        batches.append([obs.spool_id for obs in batch])
        first_taken.set()
        assert release.wait(WAIT), "the test never released the observer"

    async def scenario() -> None:
        later = LaterObservations(observe)
        marks = [later.mark() for _ in range(5)]
        later.start(marks[0], "m0", ENVELOPE, OUTCOME)
        await asyncio.sleep(0)  # handed over once the caller waits
        assert await asyncio.to_thread(first_taken.wait, WAIT)
        for n in range(1, 5):  # started while the first batch is under way
            later.start(marks[n], f"m{n}", ENVELOPE, OUTCOME)
        waiting = asyncio.ensure_future(later.made(marks[2]))
        done, _ = await asyncio.wait({waiting}, timeout=0.05)
        assert not done  # m0's batch is not made yet
        release.set()
        await asyncio.wait_for(waiting, WAIT)
        await asyncio.wait_for(later.made(), WAIT)
        assert batches == [["m0"], ["m1", "m2", "m3", "m4"]]
        assert not later._running

    asyncio.run(scenario())


def test_a_failing_batch_is_made_all_the_same_and_the_observer_goes_on() -> None:
    seen: list[str] = []

    def observe(batch: Sequence[Observed]) -> None:
        seen.extend(obs.spool_id for obs in batch)
        if batch[0].spool_id == "bad":
            raise RuntimeError("store down")

    async def scenario() -> None:
        later = LaterObservations(observe)
        bad, good = later.mark(), later.mark()
        later.start(bad, "bad", ENVELOPE, OUTCOME)
        await asyncio.wait_for(later.made(bad), WAIT)
        later.start(good, "good", ENVELOPE, OUTCOME)
        await asyncio.wait_for(later.made(good), WAIT)
        assert seen == ["bad", "good"]

    asyncio.run(scenario())
