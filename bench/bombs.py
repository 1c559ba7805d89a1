"""Bomb-like messages through the full scan, each in a fresh process: time, CPU and memory.

    python bench/bombs.py [--quick] [--json] [--only NAME ...] [--no-trace] [--list]

For every input of the catalogue (built at run time by bench/bomb_inputs.py; nothing big is
committed) the parent writes the message to a temporary file and starts a child process that
builds the engine as ``mailward scan`` does (default settings, DNS offline), scans a small
warm-up message, then runs ``Engine.scan`` on the input and reports:

- ``wall`` / ``cpu``: seconds of the scan (wall clock; CPU of every thread), including any
  detector thread still running when the scan returned (the asyncio loop waits for it);
- ``rss``: the child's peak RSS (getrusage ru_maxrss) and ``rss+``, its growth over the
  peak before the scan (the engine's own footprint and the input file's bytes excluded);
- ``py``: the tracemalloc peak of the scan, from a second child run with tracemalloc on
  (tracemalloc slows Python down, so it does not run in the timed child); ``--no-trace``
  skips it;
- the action and the symbols of the verdict.

Bounds (exit status 1 when any is broken):

- cpu <= TIME_BOUND (the engine's detector_timeout, 10 s: no scan should cost more than one
  detector is allowed) and wall <= WALL_BOUND (3 x that: wall time also counts what other
  processes take from the 2 cores, so it only catches hangs);
- rss+ <= RSS_BOUND_MIB (512 MiB) for every input: the parser needs several times a message's
  size (bytes, text, lines, decoded payload), so [limits] max_message_bytes (50 MB) keeps a
  message within it;
- the expected outcome: ``complex`` needs MIME_TOO_COMPLEX, ``held`` an action that keeps the
  message (quarantine, hold or reject), ``clean`` a scan without MIME_* or ENGINE_* findings.
  An exception out of the scan, a child killed by CHILD_TIMEOUT or by RLIMIT_AS
  (CHILD_MEMORY_CAP), and any ENGINE_DETECTOR_* finding are failures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bomb_inputs as bi

TIME_BOUND = 10.0
WALL_BOUND = 3 * TIME_BOUND
RSS_BOUND_MIB = 512
CHILD_TIMEOUT = 120.0
CHILD_MEMORY_CAP = 8 * 1024 * bi.MB
SRC = Path(__file__).resolve().parent.parent / "src"
KEPT = frozenset({"quarantine", "hold", "reject"})


@dataclass(frozen=True)
class Bomb:
    name: str
    family: str
    build: Callable[[bool], bytes]
    expect: str  # "complex" | "held" | "clean"


CATALOGUE = (
    Bomb("deep_multipart", "nesting", bi.deep_multipart, "complex"),
    Bomb("deep_rfc822", "nesting", bi.deep_rfc822, "complex"),
    Bomb("unclosed_boundaries", "nesting", bi.unclosed_boundaries, "complex"),
    Bomb("many_parts", "parts", bi.many_parts, "complex"),
    Bomb("huge_encoded_word", "encoded-words", bi.huge_encoded_word, "complex"),
    Bomb("big_encoded_word", "encoded-words", bi.big_encoded_word_under_limit, "clean"),
    Bomb("many_encoded_words", "encoded-words", bi.many_encoded_words, "complex"),
    Bomb("huge_to_list", "addresses", bi.huge_to_list, "complex"),
    Bomb("long_to_list", "addresses", bi.long_to_under_limit, "complex"),
    Bomb("nested_comments", "addresses", bi.nested_comments, "complex"),
    Bomb("quoted_pairs", "addresses", bi.quoted_pairs, "complex"),
    Bomb("nested_groups", "addresses", bi.nested_groups, "complex"),
    Bomb("angle_brackets", "addresses", bi.angle_brackets, "clean"),
    Bomb("many_headers", "headers", bi.many_headers, "complex"),
    Bomb("many_received", "headers", bi.many_received, "complex"),
    Bomb("header_line_100mb", "headers", bi.header_line_100mb, "complex"),
    Bomb("folded_header", "headers", bi.folded_header, "clean"),
    Bomb("param_semicolons", "params", bi.param_semicolons, "complex"),
    Bomb("part_param_semicolons", "params", bi.part_param_semicolons, "complex"),
    Bomb("many_params", "params", bi.many_params, "complex"),
    Bomb("part_header_40mb", "headers", bi.part_header_40mb, "complex"),
    Bomb("part_folded_header", "headers", bi.part_folded_header, "complex"),
    Bomb("base64_100mb", "bodies", bi.base64_100mb, "complex"),
    Bomb("base64_20mb", "bodies", bi.base64_20mb, "clean"),
    Bomb("base64_34mib", "bodies", bi.base64_34mib, "clean"),
    Bomb("huge_text", "bodies", bi.huge_text, "clean"),
    Bomb("deep_html", "html", bi.deep_html, "complex"),
    Bomb("html_formatting", "html", bi.deep_html_formatting, "clean"),
    Bomb("many_links", "html", bi.many_links, "clean"),
    Bomb("many_text_urls", "bodies", bi.many_text_urls, "clean"),
    Bomb("gzip_1gib", "archives", bi.gzip_1gib, "held"),
    Bomb("zip_overlap", "archives", bi.zip_overlap, "held"),
    Bomb("nested_zips", "archives", bi.nested_zips, "held"),
    Bomb("zip_42_like", "archives", bi.zip_42_like, "held"),
    Bomb("zip_10k_entries", "archives", bi.zip_10k_entries, "held"),
    Bomb("pdf_deep_nesting", "documents", bi.pdf_deep_nesting, "clean"),
    Bomb("pdf_many_objects", "documents", bi.pdf_many_objects, "clean"),
    Bomb("ole_many_streams", "documents", bi.ole_many_streams, "clean"),
    Bomb("ok_long_to", "control", bi.ok_long_to, "clean"),
)


@dataclass
class Row:
    name: str
    family: str
    expect: str
    size: int
    wall: float = 0.0
    cpu: float = 0.0
    rss_mib: float = 0.0
    rss_growth_mib: float = 0.0
    py_peak_mib: float | None = None
    action: str = ""
    symbols: list[str] = field(default_factory=list)
    error: str = ""
    problems: list[str] = field(default_factory=list)


# --- zygote and children -------------------------------------------------------------------


def zygote(trace_default: bool) -> None:
    """Build the engine once, then fork one child per input path read from stdin.

    Each child scans one message and dies, so its peak RSS is its own; the zygote never holds
    an input, so what a child inherits is only the engine. One JSON line per path on stdout.
    """
    import resource  # noqa: PLC0415

    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_CAP, CHILD_MEMORY_CAP))
    import asyncio  # noqa: PLC0415

    from mailward.config.settings import Settings  # noqa: PLC0415
    from mailward.engine.pipeline import Engine  # noqa: PLC0415
    from mailward.runtime.clients import build_clients  # noqa: PLC0415

    settings = Settings()
    engine = Engine(settings, clients=build_clients(settings, offline=True))
    asyncio.run(engine.scan(bi.message()))  # warm-up: lazy imports, caches, models
    for line in sys.stdin:
        path, _, mode = line.strip().partition(" ")
        print(json.dumps(fork_scan(engine, path, mode == "trace")), flush=True)


def fork_scan(engine: object, path: str, trace: bool) -> dict[str, object]:
    out_path = path + ".out"
    pid = os.fork()
    if pid == 0:  # the child: scan, write the figures, leave at once
        try:
            Path(out_path).write_text(json.dumps(scan_once(engine, path, trace)))
        finally:
            os._exit(0)
    deadline = time.monotonic() + CHILD_TIMEOUT
    while True:
        done, status, _ = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.wait4(pid, 0)
            return {"error": f"child killed after {CHILD_TIMEOUT:g} s"}
        time.sleep(0.02)
    try:
        result: dict[str, object] = json.loads(Path(out_path).read_text())
    except (OSError, ValueError):
        return {"error": f"child died (wait status {status})"}
    Path(out_path).unlink()
    return result


def scan_once(engine: object, path: str, trace: bool) -> dict[str, object]:
    """Scan the message in ``path`` once, in this (forked) process; the figures as a dict."""
    import asyncio  # noqa: PLC0415
    import resource  # noqa: PLC0415
    import tracemalloc  # noqa: PLC0415

    raw = Path(path).read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out: dict[str, object] = {}
    if trace:
        tracemalloc.start()
    started, cpu0 = time.perf_counter(), time.process_time()
    try:
        outcome = asyncio.run(engine.scan(raw))  # type: ignore[attr-defined]
        out["action"] = str(outcome.verdict.action)
        out["symbols"] = sorted({f.symbol for f in outcome.verdict.findings})
    except BaseException as exc:  # every way out is a result here
        out["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    out["wall"] = time.perf_counter() - started
    out["cpu"] = time.process_time() - cpu0
    if trace:
        out["py_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["rss"] = after * 1024
    out["rss_growth"] = max(0, after - before) * 1024
    return out


# --- parent ---------------------------------------------------------------------------------


class Zygote:
    """The forking scanner process, started once per run."""

    def __init__(self) -> None:
        env = dict(os.environ)  # the checkout's sources first, installed or not
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
        env.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS threads across fork()
        self.proc = subprocess.Popen(  # noqa: S603 - this interpreter, this script
            [sys.executable, __file__, "--zygote"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip

    def run(self, path: str, trace: bool) -> dict[str, object]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{path} {'trace' if trace else 'time'}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            return {"error": f"zygote exited ({self.proc.poll()})"}
        result: dict[str, object] = json.loads(line)
        return result

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def measure(zyg: Zygote, bomb: Bomb, quick: bool, trace: bool, tmp: Path) -> Row:
    raw = bomb.build(quick)
    path = tmp / f"{bomb.name}.eml"
    path.write_bytes(raw)
    del raw
    row = Row(bomb.name, bomb.family, bomb.expect, path.stat().st_size)
    timed = zyg.run(str(path), trace=False)
    row.wall = float(timed.get("wall", 0.0))  # type: ignore[arg-type]
    row.cpu = float(timed.get("cpu", 0.0))  # type: ignore[arg-type]
    row.rss_mib = int(timed.get("rss", 0)) / bi.MB  # type: ignore[call-overload]
    row.rss_growth_mib = int(timed.get("rss_growth", 0)) / bi.MB  # type: ignore[call-overload]
    row.action = str(timed.get("action", ""))
    row.symbols = list(timed.get("symbols", []))  # type: ignore[call-overload]
    row.error = str(timed.get("error", ""))
    if trace and not row.error:
        traced = zyg.run(str(path), trace=True)
        if "py_peak" in traced:
            row.py_peak_mib = int(traced["py_peak"]) / bi.MB  # type: ignore[call-overload]
    path.unlink()
    row.problems = problems(row)
    return row


def problems(row: Row) -> list[str]:
    found = []
    if row.error:
        return [row.error]
    if row.cpu > TIME_BOUND:
        found.append(f"cpu {row.cpu:.1f} s > {TIME_BOUND:g} s")
    if row.wall > WALL_BOUND:
        found.append(f"wall {row.wall:.1f} s > {WALL_BOUND:g} s")
    if row.rss_growth_mib > RSS_BOUND_MIB:
        found.append(f"rss+ {row.rss_growth_mib:.0f} MiB > {RSS_BOUND_MIB} MiB")
    engine = [s for s in row.symbols if s.startswith("ENGINE_DETECTOR")]
    if engine:
        found.append("detector failure: " + ",".join(engine))
    if row.expect == "complex" and "MIME_TOO_COMPLEX" not in row.symbols:
        found.append(f"expected MIME_TOO_COMPLEX, got {row.action}")
    if row.expect == "held" and row.action not in KEPT:
        found.append(f"expected the message kept, got {row.action}")
    if row.expect == "clean" and any(s.startswith(("MIME_", "ENGINE_")) for s in row.symbols):
        found.append("expected a full scan, got " + ",".join(row.symbols))
    return found


def table(rows: list[Row]) -> str:
    head = (f"{'input':<22} {'size MiB':>9} {'wall s':>7} {'cpu s':>7} {'rss MiB':>8} "
            f"{'rss+':>6} {'py MiB':>7}  {'action':<10} symbols / problems")  # fmt: skip
    lines = [head, "-" * len(head)]
    for r in rows:
        py = f"{r.py_peak_mib:7.1f}" if r.py_peak_mib is not None else "      -"
        syms = ",".join(s for s in r.symbols if s.startswith(("MIME_", "ATT_ARCHIVE", "ENGINE")))
        note = ("FAIL: " + "; ".join(r.problems)) if r.problems else (syms or "-")
        lines.append(f"{r.name:<22} {r.size / bi.MB:9.2f} {r.wall:7.2f} {r.cpu:7.2f} "
                     f"{r.rss_mib:8.0f} {r.rss_growth_mib:6.0f} {py}  {r.action:<10} {note}")
    bad = sum(1 for r in rows if r.problems)
    lines.append(f"{len(rows) - bad} passed, {bad} failed")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small inputs (the test suite)")
    parser.add_argument("--json", action="store_true", help="one JSON object per input")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these inputs")
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc run")
    parser.add_argument("--list", action="store_true", help="list the inputs and exit")
    parser.add_argument("--zygote", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.zygote:
        zygote(not args.no_trace)
        return 0
    chosen = [b for b in CATALOGUE if not args.only or b.name in args.only]
    if args.list:
        print("\n".join(f"{b.name:<22} {b.family:<14} {b.expect}" for b in chosen))
        return 0
    rows = []
    zyg = Zygote()
    with tempfile.TemporaryDirectory(prefix="mailward-bombs-") as tmp:
        for bomb in chosen:
            row = measure(zyg, bomb, args.quick, not args.no_trace, Path(tmp))
            rows.append(row)
            if args.json:
                print(json.dumps(asdict(row)), flush=True)
            else:
                print(table([row]).splitlines()[2], file=sys.stderr, flush=True)
    zyg.close()
    if not args.json:
        print(table(rows))
    return 1 if any(r.problems for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
