"""The gateway's parts for a one-shot command that processes mail (a quarantine release, a
lockdown release, a requeue): the engine and everything else of the gateway is imported only
when such a command runs, so the other commands start without them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailward.config.settings import Settings

if TYPE_CHECKING:
    from mailward.runtime.gateway import Gateway


def offline_gateway(settings: Settings) -> Gateway:
    """``Gateway.build`` as the commands use it: no sender history, no network."""
    from mailward.runtime.gateway import Gateway  # noqa: PLC0415 (the engine: see above)

    return Gateway.build(settings, history=False, offline=True)
