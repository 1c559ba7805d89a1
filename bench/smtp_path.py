"""The gateway's CPU per message up to the 250, over real SMTP sessions (run by hand).

    python bench/smtp_path.py [--clients 10] [--messages 2000] [--engine isolated|inline|cached]

Builds the gateway's parts as ``mailward serve`` does (store, spool, processor with activity
and campaigns, rate limits, the SMTP server; offline, on a throw-away data directory) in this
process, but starts no spool workers: what this process spends is the SMTP sessions, the spool
write and its fsyncs, the inline scan's round trip, the verdict and message-log writes and the
observation made just after the 250 -- not the delivery that follows. The load comes from
``bench/smtp_load.py --target`` in a child process (its CPU is not counted). ``--engine``:

- ``isolated`` (default): the scan processes, as ``serve`` runs them; their CPU per message is
  printed too (read from /proc);
- ``inline``: the Engine in this process (the scan's CPU counted here);
- ``cached``: each distinct message is scanned once, inline, and its outcome answered again
  for the same bytes: the gateway's own path without the scan.

``--stop-at session`` answers 250 at once (the SMTP session alone), ``--stop-at spool`` once
the message is spooled (no scan, no store); ``--settings`` adds settings as JSON (e.g.
``'{"campaigns": {"enabled": false}}'``).

Printed: messages, msg/s, and the CPU ms per message of this process (user and system, all
threads) and of the scan processes.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import gc
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
from multiprocessing import forkserver
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _proc import process_stats

from mailward.config.settings import Settings
from mailward.engine.isolation._child import _with_signature
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.frontends.smtp.handler import GatewayHandler
from mailward.frontends.smtp.server import start_smtp_server
from mailward.model import Envelope
from mailward.ratelimit import RateLimiter
from mailward.runtime.gateway import IO_THREADS, Gateway

LOAD = Path(__file__).resolve().parent / "smtp_load.py"


class Cached:
    """Scans each distinct message once (inline), then answers its outcome again."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = Engine(settings)
        self.outcomes: dict[bytes, ScanOutcome] = {}

    async def scan(self, raw: bytes, envelope: Envelope | None = None) -> ScanOutcome:
        outcome = self.outcomes.get(raw)
        if outcome is None:
            outcome = _with_signature(await self.engine.scan(raw, envelope), self.settings,
                                      envelope)
            self.outcomes[raw] = outcome
        return outcome


class SessionOnly(GatewayHandler):
    """``--stop-at session``: 250 at once, nothing stored (the SMTP session's own cost)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 2.0.0 Ok: not kept"


class SpoolOnly(GatewayHandler):
    """``--stop-at spool``: the message spooled (and left there), no scan."""

    async def _inline_scan(self, entry_id: str, env: Envelope, raw: bytes) -> str | None:
        return None


class GcTimer:
    """Seconds this process spent in the garbage collector, by generation."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.counts = [0, 0, 0]
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.seconds[info["generation"]] += time.thread_time() - self._started
            self.counts[info["generation"]] += 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_self() -> tuple[float, float]:
    """User and system seconds of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def _scan_cpu() -> float:
    """CPU seconds of the fork server and the scan processes it started, ended ones too."""
    server = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if server is None:
        return 0.0
    total = 0.0
    for pid, parent, _group, own, with_reaped in process_stats():
        if pid == server:  # with its reaped children
            total += with_reaped
        elif parent == server:
            total += own
    return total


async def _load(port: int, clients: int, messages: int, cpus: str | None) -> dict[str, Any]:
    cmd = [sys.executable, str(LOAD), "--target", f"127.0.0.1:{port}", "--levels",
           str(clients), "--messages", str(messages), "--seconds", "600", "--json"]
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.PIPE)
    out, _ = await proc.communicate()
    rows = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    if proc.returncode or not rows:
        raise SystemExit(f"load failed: {out.decode()[-2000:]}")
    return rows[-1]


async def run(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(IO_THREADS, thread_name_prefix="mailward-io"))
    port = _free_port()
    values: dict[str, Any] = {
        "data_dir": str(data_dir), "dns": {"enabled": False},
        "smtp": {"listen_host": "127.0.0.1", "listen_port": port},
        "engine": {"isolation": "inline" if args.engine == "inline" else "process"}}
    for section, extra in json.loads(args.settings).items():
        values[section] = {**values.get(section, {}), **extra}
    settings = Settings.model_validate(values)
    gw = Gateway.build(settings, offline=True, isolated=args.engine == "isolated")
    if gw.campaigns is not None:
        gw.campaigns.ready()
    engine: Any = Cached(settings) if args.engine == "cached" else gw.engine
    limiter = RateLimiter(settings.ratelimit, settings.organisation.internal_networks)
    handler_class = {"full": GatewayHandler, "session": SessionOnly,
                     "spool": SpoolOnly}[args.stop_at]
    handler = handler_class(settings, gw.spool, engine, gw.processor, lambda _id: None,
                            activity=gw.activity, limiter=limiter)
    server = await start_smtp_server(handler, settings.smtp)
    try:
        await _load(port, args.clients, args.warmup, args.load_cpus)  # warm caches
        await gw.processor.later.made()
        gc_timer = GcTimer()
        cpu0, scan0 = _cpu_self(), _scan_cpu()
        row = await _load(port, args.clients, args.messages, args.load_cpus)
        await gw.processor.later.made()
        cpu1, scan1 = _cpu_self(), _scan_cpu()
        gc.callbacks.remove(gc_timer._callback)
    finally:
        server.close()
        await server.wait_closed()
        await limiter.aclose()
        await gw.aclose()
    ok = row["codes"].get("250", 0) or 1
    return {"engine": args.engine, "clients": args.clients, "messages": row["messages"],
            "msg_per_s": row["msg_per_s"], "p50_ms": row["p50_ms"], "p99_ms": row["p99_ms"],
            "gateway_cpu_ms": round(1000 * (sum(cpu1) - sum(cpu0)) / ok, 3),
            "gateway_sys_ms": round(1000 * (cpu1[1] - cpu0[1]) / ok, 3),
            "gateway_gc_ms": round(1000 * sum(gc_timer.seconds) / ok, 3),
            "gc_collections": gc_timer.counts,
            "scan_cpu_ms": (round(1000 * (scan1 - scan0) / ok, 3)
                            if args.engine == "isolated" else None)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--engine", choices=("isolated", "inline", "cached"), default="isolated")
    ap.add_argument("--stop-at", choices=("full", "session", "spool"), default="full",
                    help="session: 250 at once; spool: 250 once spooled (no scan)")
    ap.add_argument("--settings", default="{}", help='more settings, as JSON: '
                    '{"campaigns": {"enabled": false}}')
    ap.add_argument("--load-cpus", help="taskset CPU list for the load generator")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mw-smtp-path-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['engine']}, {result['clients']} clients: {result['messages']} msgs, "
          f"{result['msg_per_s']} msg/s, p50 {result['p50_ms']} ms p99 {result['p99_ms']} ms; "
          f"CPU ms/msg: gateway {result['gateway_cpu_ms']} (system "
          f"{result['gateway_sys_ms']}, gc {result['gateway_gc_ms']} in "
          f"{result['gc_collections']} collections), scan processes "
          f"{result['scan_cpu_ms']}")


if __name__ == "__main__":
    main()
