"""Where a scan's CPU goes, stage by stage, on one core (run by hand, not in tests).

    taskset -c 0 python bench/scan_profile.py DIR [DIR ...] [--limit N] [--json] [--ipc]

Every message file under the folders is scanned the way :class:`mailward.engine.pipeline.Engine`
does it (same settings, same detectors, same stage order), offline (no DNS), and the CPU time of
each stage is measured with ``time.thread_time`` around it:

- ``parse: limits`` (header-block and nesting pre-checks), ``parse: stdlib`` (the email
  package's parser), ``parse: walk`` (the tree walk: text, HTML, links, attachments),
  ``parse: ambiguity check``, ``parse: other readings`` (views built and walked when the check
  found something), ``parse: build`` (the ParsedMessage);
- ``detector: NAME`` for each detector, run one after another inside its stage (the engine runs
  a stage's detectors concurrently; on one core their CPU adds up the same way);
- ``scoring`` and ``policy``;
- ``store: message log`` (the message record written to a throw-away SQLite store) and
  ``journal`` (the journal entry written to a throw-away SQLite journal), as the spool processor
  does for each delivered message;
- with ``--ipc``: ``ipc: scan process`` is the gateway process's own CPU per message when the
  scan runs in a scan process (IsolatedEngine: send the bytes, receive the outcome), measured in
  a second pass.

Printed per stage: mean, p50 and p99 CPU milliseconds per message and the share of the total.
The parse stages are measured by wrapping the mime module's functions for this process only;
nothing in the package changes. Messages are read before timing starts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mailward.config import load_settings
from mailward.engine.contract import ScanContext
from mailward.engine.isolation import IsolatedEngine
from mailward.engine.pipeline import (
    Engine,
    ScanOutcome,
    _failure,
    _with_detector,
    detector_stage,
)
from mailward.errors import LimitExceeded, ParseError
from mailward.mime import _parse as parse_module
from mailward.model import Envelope, Finding
from mailward.policy.decide import decide
from mailward.response.indicators import entry_from_message
from mailward.response.journal import Journal
from mailward.runtime.clients import build_clients
from mailward.spool.processor import message_record
from mailward.store.sql import open_store

ENVELOPE = Envelope(mail_from="sender@partner.example.net", rcpt_tos=("alice@example.com",))


class Clock:
    """CPU milliseconds per stage for the message being scanned."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)

    def timed(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[stage] += (time.thread_time() - t0) * 1000
        return wrapper

    def take(self) -> dict[str, float]:
        out, self.current = dict(self.current), defaultdict(float)
        return out


def instrument_parse(clock: Clock) -> None:
    """Wrap the parse steps of :mod:`mailward.mime._parse` (module globals) with timers."""
    m = parse_module
    m.check_header_block = clock.timed("parse: limits", m.check_header_block)  # type: ignore[attr-defined]
    m.check_nesting = clock.timed("parse: limits", m.check_nesting)  # type: ignore[attr-defined]
    m._parse_bytes = clock.timed("parse: stdlib", m._parse_bytes)
    m.find_ambiguities = clock.timed("parse: ambiguity check", m.find_ambiguities)  # type: ignore[attr-defined]
    m.build_views = clock.timed("parse: other readings", m.build_views)  # type: ignore[attr-defined]
    m.walk_views = clock.timed("parse: other readings", m.walk_views)  # type: ignore[attr-defined]
    m.merge = clock.timed("parse: other readings", m.merge)  # type: ignore[attr-defined]
    m._build = clock.timed("parse: build", m._build)
    walker = m.Walker  # type: ignore[attr-defined]
    walker.walk = clock.timed("parse: walk", walker.walk)  # type: ignore[method-assign]


def iter_files(folders: list[Path], limit: int) -> Iterator[Path]:
    for folder in folders:
        n = 0
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.name in ("SOURCES.csv", "MANIFEST.md"):
                continue
            if limit and n >= limit:
                break
            n += 1
            yield path


async def profile(
    engine: Engine, raws: list[bytes], clock: Clock, workdir: Path
) -> list[dict[str, float]]:
    settings = engine.settings
    store = open_store(f"sqlite:///{workdir / 'store.db'}")
    journal = Journal(f"sqlite:///{workdir / 'journal.db'}")
    stages = sorted({detector_stage(d) for d in engine.detectors})
    rows: list[dict[str, float]] = []
    for i, raw in enumerate(raws):
        ctx = ScanContext(envelope=ENVELOPE, settings=settings, clients=engine.clients)
        findings: list[Finding] = []
        parsed = None
        t0 = time.thread_time()
        with contextlib.suppress(LimitExceeded, ParseError):  # scored as MIME_* by the engine
            parsed = parse_module.parse_message(raw, settings.limits)
        parse_total = (time.thread_time() - t0) * 1000
        if parsed is not None:
            for stage in stages:
                for det in (d for d in engine.detectors if detector_stage(d) == stage):
                    t0 = time.thread_time()
                    try:
                        found = list(await det.check(parsed, ctx))
                    except Exception as exc:  # as the engine does: a finding, not a crash
                        why = f"{type(exc).__name__}: {exc}"
                        found = _failure(det, "ENGINE_DETECTOR_ERROR", why)
                    clock.current[f"detector: {det.name}"] += (time.thread_time() - t0) * 1000
                    findings.extend(f if f.detector else _with_detector(f, det.name) for f in found)
                ctx.findings[:] = findings
        t0 = time.thread_time()
        result = engine.scorer.score(findings, 0.0)
        clock.current["scoring"] += (time.thread_time() - t0) * 1000
        t0 = time.thread_time()
        verdict = decide(result, settings.policy, authserv_id=settings.organisation.authserv_id,
                         auth_results=ctx.auth_results)
        clock.current["policy"] += (time.thread_time() - t0) * 1000
        outcome = ScanOutcome(parsed=parsed, result=result, verdict=verdict)
        t0 = time.thread_time()
        store.record_message(message_record(f"m{i}", ENVELOPE, raw, outcome))
        clock.current["store: message log"] += (time.thread_time() - t0) * 1000
        t0 = time.thread_time()
        journal.record(entry_from_message(f"m{i}", raw, ENVELOPE, verdict, parsed=parsed))
        clock.current["journal"] += (time.thread_time() - t0) * 1000
        row = clock.take()
        timed_parse = sum(v for k, v in row.items() if k.startswith("parse: "))
        row["parse: other"] = max(0.0, parse_total - timed_parse)
        rows.append(row)
    journal.close()
    return rows


async def ipc_cost(settings: Any, raws: list[bytes]) -> list[float]:
    """The gateway process's CPU per message when a scan process does the scan."""
    isolated = IsolatedEngine(settings, clients=build_clients(settings, offline=True))
    try:
        await isolated.scan(raws[0], ENVELOPE)  # warm: the scan process is up
        out = []
        for raw in raws:
            t0 = time.process_time()
            await isolated.scan(raw, ENVELOPE)
            out.append((time.process_time() - t0) * 1000)
        return out
    finally:
        isolated.close()


def summarise(rows: list[dict[str, float]], extra: dict[str, list[float]]) -> list[dict[str, Any]]:
    names = sorted({k for r in rows for k in r} | set(extra))
    per: dict[str, list[float]] = {n: [r.get(n, 0.0) for r in rows] for n in names}
    per.update(extra)
    total = sum(statistics.fmean(v) for v in per.values())
    out: list[dict[str, Any]] = []
    for name, values in per.items():
        ordered = sorted(values)
        mean = statistics.fmean(values)
        out.append({
            "stage": name, "mean_ms": mean, "p50_ms": ordered[len(ordered) // 2],
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "share": mean / total if total else 0.0,
        })
    out.sort(key=lambda r: -float(r["mean_ms"]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--limit", type=int, default=0, help="at most this many messages per folder")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--ipc", action="store_true", help="also measure the scan-process round trip")
    args = ap.parse_args()
    settings = load_settings(None)
    engine = Engine(settings, clients=build_clients(settings, offline=True))
    raws = [p.read_bytes() for p in iter_files(args.folders, args.limit)]
    if not raws:
        print("no messages found", file=sys.stderr)
        return 2
    clock = Clock()
    instrument_parse(clock)
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(profile(engine, raws[:5], clock, Path(tmp)))  # warm caches, lazy imports
        clock.take()
        rows = asyncio.run(profile(engine, raws, clock, Path(tmp)))
    extra = {"ipc: scan process": asyncio.run(ipc_cost(settings, raws))} if args.ipc else {}
    table = summarise(rows, extra)
    total = sum(r["mean_ms"] for r in table)
    if args.json:
        print(json.dumps({"messages": len(raws), "total_ms": total, "stages": table}, indent=1))
        return 0
    print(f"{len(raws)} messages, {total:.2f} CPU ms per message in all (one thread)")
    print(f"{'stage':38} {'mean ms':>8} {'p50 ms':>8} {'p99 ms':>8} {'share':>6}")
    for r in table:
        print(f"{r['stage']:38} {r['mean_ms']:8.3f} {r['p50_ms']:8.3f} {r['p99_ms']:8.3f} "
              f"{r['share']:6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
