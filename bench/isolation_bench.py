"""Benchmark of scan isolation: IsolatedEngine (scan processes + watchdog) against the inline
Engine over a few hundred small messages, and the start-up time of the scan processes
(run by hand, not in tests).

    python bench/isolation_bench.py [--messages 300] [--processes 2] [--concurrency 8]

Messages are synthetic (plain text, HTML with links, a small attachment), scanned offline (no
DNS). Reports messages per second and latency (median, p95) for: the inline Engine scanning one
message at a time, the inline Engine with ``--concurrency`` scans in flight (one event loop, so
CPU work is still serial), and IsolatedEngine with the same concurrency. Then the start-up
figures: from constructing the IsolatedEngine to every scan process ready (cold: the fork
server imports mailward first), a second pool on the warm fork server, and the time to replace
a scan process killed with SIGKILL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage

from mailward.config import settings_from_mapping
from mailward.config.settings import Settings
from mailward.engine.isolation import IsolatedEngine
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.model import Envelope

ENVELOPE = Envelope(mail_from="sender@partner.example.net", rcpt_tos=("alice@example.com",))


def make_messages(count: int) -> list[bytes]:
    out = []
    for n in range(count):
        msg = EmailMessage()
        msg["From"] = f"Sender {n} <sender{n}@partner.example.net>"
        msg["To"] = "alice@example.com"
        msg["Subject"] = f"Project update {n}"
        msg["Message-ID"] = f"<bench-{n}@partner.example.net>"
        text = f"Hi Alice,\n\nnotes of meeting {n} are at https://docs.partner.example.net/{n}.\n"
        msg.set_content(text * 5)
        if n % 3 == 1:
            msg.add_alternative(
                f"<p>Notes of meeting {n}: <a href='https://docs.partner.example.net/{n}'>"
                f"open</a></p>", subtype="html",
            )
        if n % 3 == 2:
            msg.add_attachment(f"item,qty\nwidget,{n}\n".encode(), maintype="text",
                               subtype="csv", filename=f"order-{n}.csv")
        out.append(msg.as_bytes())
    return out


async def timed_scans(
    scan: Callable[[bytes, Envelope], Awaitable[ScanOutcome]], raws: list[bytes],
    concurrency: int,
) -> dict[str, float]:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(raw: bytes) -> None:
        async with gate:
            started = time.perf_counter()
            await scan(raw, ENVELOPE)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(raw) for raw in raws))
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "msgs_per_s": len(raws) / wall,
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
    }


async def start_pool(settings: Settings) -> tuple[IsolatedEngine, float]:
    started = time.perf_counter()
    engine = IsolatedEngine(settings)
    engine.start()
    if not await asyncio.to_thread(engine.pool.wait_ready, 300.0):
        raise SystemExit("scan processes did not start")
    return engine, time.perf_counter() - started


async def replacement_seconds(engine: IsolatedEngine) -> float:
    victim = engine.pool.pids()[0]
    started = time.perf_counter()
    os.kill(victim, signal.SIGKILL)
    while True:
        pids = engine.pool.pids()
        if victim not in pids and len(pids) == engine.settings.engine.scan_processes:
            return time.perf_counter() - started
        await asyncio.sleep(0.005)


def line(name: str, figures: dict[str, float]) -> str:
    return (f"{name:<38} {figures['msgs_per_s']:8.1f} msg/s   median {figures['median_ms']:7.1f}"
            f" ms   p95 {figures['p95_ms']:7.1f} ms")


async def main(args: argparse.Namespace) -> None:
    settings = settings_from_mapping(
        {"dns": {"enabled": False}, "engine": {"scan_processes": args.processes}}
    )
    raws = make_messages(args.messages)
    print(f"{len(raws)} messages, {sum(map(len, raws)) // len(raws)} bytes on average; "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    inline = Engine(settings)
    await timed_scans(inline.scan, raws[:20], 1)  # warm the detectors' caches
    print(line("inline Engine, 1 at a time", await timed_scans(inline.scan, raws, 1)))
    conc = args.concurrency
    print(line(f"inline Engine, {conc} in flight", await timed_scans(inline.scan, raws, conc)))
    engine, cold = await start_pool(settings)
    try:
        await timed_scans(engine.scan, raws[:20], conc)
        figures = await timed_scans(engine.scan, raws, conc)
        print(line(f"IsolatedEngine x{args.processes}, {conc} in flight", figures))
        print(line("IsolatedEngine, 1 at a time", await timed_scans(engine.scan, raws, 1)))
        replaced = await replacement_seconds(engine)
    finally:
        engine.close()
        engine.pool.join()
    second, warm = await start_pool(settings)
    second.close()
    second.pool.join()
    each = ", ".join(f"{s:.2f}" for s in engine.pool.startup_seconds[: args.processes])
    print(f"start-up, cold fork server: {cold:.2f} s to all {args.processes} ready ({each} s)")
    print(f"start-up, warm fork server: {warm:.2f} s; replacing a killed process: {replaced:.3f} s")


if __name__ == "__main__":  # scan processes re-import this module: run only when started
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
