"""Release a lockdown's held backlog: re-scan each message with the rules and policy in force
now, deliver what passes and quarantine what does not, in paced batches.

A released entry is marked so that it is never held again, then processed like any spooled
message, so a crash during a release loses nothing: what was not finished is still in the spool
(released) and the gateway's workers or a second release finish it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from mailward.config.settings import LockdownSettings
from mailward.spool.processor import Processor
from mailward.spool.queue import Spool, SpoolState


@dataclass(frozen=True, slots=True)
class ReleaseReport:
    held: int
    outcomes: Counter[str]

    @property
    def delivered(self) -> int:
        return sum(self.outcomes[a] for a in ("deliver", "tag", "disarm"))

    @property
    def quarantined(self) -> int:
        return self.outcomes["quarantine"]


def unhold(state: SpoolState) -> None:
    """Released: never held again, and judged afresh by the rules in force now."""
    state.held, state.released, state.verdict, state.next_attempt = False, True, None, 0.0


async def release_held(
    spool: Spool,
    processor: Processor,
    settings: LockdownSettings,
    *,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> ReleaseReport:
    held = await asyncio.to_thread(spool.held)
    outcomes: Counter[str] = Counter()
    batch = settings.release_batch_size
    for start in range(0, len(held), batch):
        began = time.monotonic()
        for entry_id in held[start : start + batch]:
            outcome = await processor.process(entry_id, prepare=unhold)
            outcomes[outcome.action if outcome else "busy"] += 1
        progress(min(start + batch, len(held)), len(held))
        # pace the batches: at most release_rate messages per second
        pause = batch / settings.release_rate - (time.monotonic() - began)
        if pause > 0 and start + batch < len(held):
            await asyncio.sleep(pause)
    return ReleaseReport(len(held), outcomes)
