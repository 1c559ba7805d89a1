"""`mailward serve [--demo]`: run the gateway; with --demo, send it demo mail and show results."""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
import time
from collections.abc import Mapping
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mailward.config.loader import config_file, load_settings
from mailward.config.settings import Settings
from mailward.delivery.maildir import iter_messages
from mailward.demo import send_demo
from mailward.engine.forkserver import start_fork_server
from mailward.spool.queue import Spool


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the gateway")
    p.add_argument("--demo", action="store_true",
                   help="send demo messages to the gateway once it listens and show the results")
    p.set_defaults(run=run)


DEMO_CONSOLE_PORT = 8025


#: aiosmtpd's logger: at INFO it writes every command line of every session (an AUTH line
#: with its credentials too) and five lines per message; the gateway logs what matters itself.
PROTOCOL_TRACE_LOGGER = "mail.log"


def configure_logging() -> None:
    """INFO for the gateway's own logs; aiosmtpd's per-command trace only from WARNING."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger(PROTOCOL_TRACE_LOGGER).setLevel(logging.WARNING)


def run(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging()
    if settings.engine.isolation == "process":
        # The scan processes' fork server imports mailward and warms an engine (seconds) on
        # another CPU while this process imports the gateway and opens its store; the gateway
        # still listens only once a scan process is ready (runtime.scanning.make_engine).
        start_fork_server()
    if args.demo:
        settings = _demo_console(settings)
    asyncio.run(_serve(settings, args.demo, args.config))
    return 0


async def _serve(settings: Settings, demo: bool, config: Path | None = None) -> None:
    from mailward.runtime.gateway import serve  # noqa: PLC0415 (after the fork server started)

    ready = asyncio.Event()
    # SIGHUP reloads from the same file and environment as this start.
    reload = partial(load_settings, config)
    task = asyncio.create_task(
        serve(settings, ready, load=reload, config_path=config_file(config), freeze=True)
    )
    started = asyncio.create_task(ready.wait())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():  # it failed before it listened: say why and exit, never hang
        started.cancel()
        await task
        return
    if demo:
        await asyncio.to_thread(_run_demo, settings)
    await task


def _demo_console(settings: Settings) -> Settings:
    """The demo shows the console on 127.0.0.1:8025 (when free and not configured otherwise).

    Safe as it is: loopback only, and nobody can log in until an operator creates an account
    with `mailward user add NAME --role admin`."""
    console = settings.console
    if console.listen_port:
        return settings
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", DEMO_CONSOLE_PORT))
        except OSError:
            return settings  # taken: the demo runs without the console
    demo = console.model_copy(update={"listen_host": "127.0.0.1",
                                      "listen_port": DEMO_CONSOLE_PORT})
    return settings.model_copy(update={"console": demo})


def _run_demo(settings: Settings) -> None:
    console = Console() if sys.stdout.isatty() else Console(width=160)
    domain = settings.organisation.accepted_domains[0]
    smtp = settings.smtp
    replies = send_demo(smtp.listen_host, smtp.listen_port, domain)
    spool = Spool(settings.spool_dir)
    deadline = time.time() + 30
    while spool.count() and time.time() < deadline:
        time.sleep(0.2)
    table = Table("demo message", "SMTP reply", "action", "score", "where it went",
                  title="mailward demo")
    from mailward.store import open_store  # noqa: PLC0415 (the demo only)

    store = open_store(settings.store_url)
    try:
        recent = {r.message_id: r for r in store.recent_messages(50)}
        held = {e.message_id: e for e in store.list_quarantine(status="held")}
        for name, reply in replies:
            mid = f"demo-{'invoice' if name == 'program' else name}"
            rec = next((r for k, r in recent.items() if k.startswith(mid)), None)
            where = _where(settings, rec.rcpt_tos if rec else (), held, mid)
            table.add_row(name, reply, rec.action if rec else "-",
                          f"{rec.score:.1f}" if rec else "-", where)
    finally:
        store.close()
    console.print(table)
    console.print(f"Maildirs under {settings.maildir_root}; "
                  "see `mailward quarantine list`. Ctrl-C stops the gateway.")
    if settings.console.listen_port:
        console.print(
            f"Web console: http://{settings.console.listen_host}:{settings.console.listen_port}/"
            " (log in after `mailward user add NAME --role admin`)"
        )


def _where(settings: Settings, rcpts: tuple[str, ...], held: Mapping[str, object], mid: str) -> str:
    if any(k.startswith(mid) for k in held):
        return "quarantine"
    root = settings.data_dir.resolve()
    paths = [
        str(p.resolve().relative_to(root)) if p.resolve().is_relative_to(root) else str(p)
        for r in rcpts
        for p in iter_messages(settings.maildir_root, r)
    ]
    return "\n".join(paths) or "-"
