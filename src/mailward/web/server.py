"""Serving the console inside the gateway's event loop with uvicorn.

uvicorn's own signal handling is left out (the gateway owns SIGTERM/SIGINT/SIGHUP); the
gateway starts a :class:`ConsoleServer` after its SMTP listener and stops it before closing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator

import uvicorn

from mailward.activity.campaigns import Campaigns
from mailward.activity.monitor import ActivityMonitor
from mailward.config.settings import Settings
from mailward.web._guard import Deliver, ReleaseBacklog
from mailward.web.app import build_app

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the gateway handles the signals


class ConsoleServer:
    """The console on ``console.listen_host:listen_port`` (HTTPS when TLS is configured)."""

    def __init__(
        self, settings: Settings, deliver: Deliver | None = None,
        release_backlog: ReleaseBacklog | None = None, reload: Callable[[], None] | None = None,
        activity: ActivityMonitor | None = None, campaigns: Campaigns | None = None,
    ) -> None:
        cfg = settings.console
        self._app = build_app(settings, deliver=deliver, release_backlog=release_backlog,
                              reload=reload, activity=activity, campaigns=campaigns)
        config = uvicorn.Config(
            self._app, host=cfg.listen_host, port=cfg.listen_port, lifespan="off",
            access_log=False, log_level="warning", server_header=False, proxy_headers=False,
            ssl_certfile=str(cfg.tls_cert) if cfg.tls_cert else None,
            ssl_keyfile=str(cfg.tls_key) if cfg.tls_key else None,
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None
        self._where = f"{'https' if cfg.tls_cert else 'http'}://{cfg.listen_host}:{cfg.listen_port}"

    async def _run(self) -> None:
        try:
            await self._server.serve()
        except SystemExit:  # uvicorn exits when it cannot bind
            raise OSError(f"the console cannot listen on {self._where}") from None

    async def start(self) -> None:
        """Listen; OSError when the port cannot be bound."""
        self._task = asyncio.create_task(self._run(), name="console")
        while not self._server.started:
            if self._task.done():
                self._app.state.close()
                await self._task  # raises its error
                raise OSError(f"the console stopped at start ({self._where})")
            await asyncio.sleep(0.02)
        log.info("console on %s", self._where)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        self._app.state.close()
