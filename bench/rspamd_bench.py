"""rspamd and mailward side by side: CPU milliseconds per message on one core (issue #15).

    python bench/rspamd_bench.py [DIR] [--limit 1500] [--seed 15] [--rounds 3] [--cpu 1] [--json]

DIR (default /work/shared/corpus/dev) holds one folder per class (ham, phish, spam...) of .eml
files. A seeded sample of ``--limit`` messages is drawn across the classes, in proportion to
their sizes (largest remainder; every class gets at least one), and read into memory. Then, in
one run:

1. rspamd: ``bench/rspamd/setup.sh`` installs Debian's package if missing and writes an offline
   configuration (no DNS, no remote maps, no Redis, no external services; workers on 127.0.0.1
   only) under ``--workdir``; rspamd runs in the foreground as this script's child, pinned with
   ``taskset -c CPU`` (all its processes: main, normal worker, controller, hs_helper). Once its
   hyperscan database is loaded and ``--warmup`` messages are scanned, every sample message is
   POSTed to the normal worker's ``/checkv2`` on loopback (``--concurrency`` requests at a time,
   default 1; a new connection per message, as rspamc does).
2. mailward: a child process pinned the same way builds the engine as ``mailward eval`` does
   (default settings, offline), reads the messages, scans the warm-up messages, then scans
   every sample message with ``Engine.scan``, one after another.

Both stay up; each makes ``--rounds`` passes over the sample (default 3), alternating which
goes first, so a change of load on the busy machine falls on both. CPU time is measured the
same way for both: utime + stime (+ cutime + cstime of reaped children) of the process and all
its descendants, read from ``/proc/PID/stat`` just before the first and just after the last
message of a pass; the client side (this script) is not counted for either.
Printed: messages, CPU ms per message for each (median of the rounds, and each round's), the
ratio mailward/rspamd of the medians (and each round's), wall time, and (first round) each
one's actions per class (rspamd: flagged = add header, rewrite subject, soft reject or reject;
"greylist" only defers; mailward: flagged = any action other than deliver) with how often the two
agree. Also the DNS requests rspamd's log counts for the measured tasks (0 when the offline
configuration holds).
"""
# ruff: noqa: S603, S607 - runs the fixed tools it names (sh, taskset, rspamd, git, dpkg-query)

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SETUP = HERE / "rspamd" / "setup.sh"
DEFAULT_DIR = Path("/work/shared/corpus/dev")
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "mailward-rspamd-bench"
CLIENT_IP = "192.0.2.10"  # TEST-NET-1: a remote client, as a gateway sees one
STARTUP_TIMEOUT = 600.0  # hyperscan compiles every rule's regexps on first start (busy machine)
SCAN_TIMEOUT = 120.0
#: rspamd actions that mark or stop a message ("greylist" only defers it, "no action" passes it)
RSPAMD_FLAGGED = frozenset({"add header", "rewrite subject", "soft reject", "reject"})
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# ---------------------------------------------------------------- pure parts (tested)


@dataclass(frozen=True, slots=True)
class ProcStat:
    """The CPU fields of one /proc/PID/stat line, in clock ticks."""

    pid: int
    ppid: int
    utime: int
    stime: int
    cutime: int
    cstime: int

    @property
    def ticks(self) -> int:
        """CPU of the process (all its threads) and of its children it has reaped."""
        return self.utime + self.stime + self.cutime + self.cstime


def parse_stat(text: str) -> ProcStat:
    """Parse /proc/PID/stat. The command name (field 2) is in parentheses and may itself hold
    spaces and parentheses, so the fields are counted from the last ')'."""
    head, sep, tail = text.rpartition(")")
    if not sep:
        raise ValueError(f"not a /proc/PID/stat line: {text[:80]!r}")
    pid = int(head.split("(", 1)[0])
    fields = tail.split()
    # fields[0] is field 3 (state): field N is fields[N - 3]
    return ProcStat(pid, int(fields[1]), int(fields[11]), int(fields[12]), int(fields[13]),
                    int(fields[14]))


def tree_ticks(stats: Iterable[ProcStat], root: int) -> dict[int, int]:
    """CPU ticks of ``root`` and each of its descendants, by pid (empty when root is gone)."""
    by_parent: dict[int, list[ProcStat]] = {}
    found: dict[int, ProcStat] = {}
    for st in stats:
        found[st.pid] = st
        by_parent.setdefault(st.ppid, []).append(st)
    if root not in found:
        return {}
    out: dict[int, int] = {}
    todo = [found[root]]
    while todo:
        st = todo.pop()
        out[st.pid] = st.ticks
        todo.extend(by_parent.get(st.pid, ()))
    return out


def cpu_delta_ms(before: Mapping[int, int], after: Mapping[int, int]) -> float:
    """CPU milliseconds the tree spent between two snapshots; a process born in between counts
    from zero, one that died in between is in its parent's cutime/cstime."""
    ticks = sum(t - before.get(pid, 0) for pid, t in after.items())
    return ticks * 1000.0 / CLK_TCK


def select_sample(
    by_class: Mapping[str, Sequence[Path]], limit: int, seed: int
) -> list[tuple[str, Path]]:
    """``limit`` messages across the classes, in proportion to their sizes (largest remainder,
    at least one per non-empty class when ``limit`` allows), each class's files drawn with a
    generator seeded from ``seed`` and the class name; classes in name order, files in name
    order within a class. ``limit`` 0 or at least the total: every message."""
    classes = sorted(c for c, files in by_class.items() if files)
    total = sum(len(by_class[c]) for c in classes)
    if limit <= 0 or limit >= total:
        return [(c, p) for c in classes for p in sorted(by_class[c])]
    quotas = {c: limit * len(by_class[c]) / total for c in classes}
    counts = {c: int(q) for c, q in quotas.items()}
    if limit >= len(classes):
        for c in classes:
            if counts[c] == 0:
                counts[c] = 1
    left = limit - sum(counts.values())
    by_remainder = sorted(classes, key=lambda c: (-(quotas[c] - int(quotas[c])), c))
    i = 0
    while left > 0:
        c = by_remainder[i % len(by_remainder)]
        if counts[c] < len(by_class[c]):
            counts[c] += 1
            left -= 1
        i += 1
    while left < 0:  # the minimum of one pushed the sum over: take from the largest
        c = max(classes, key=lambda k: (counts[k], k))
        counts[c] -= 1
        left += 1
    out: list[tuple[str, Path]] = []
    for c in classes:
        rng = random.Random(f"{seed}:{c}")
        out.extend((c, p) for p in sorted(rng.sample(sorted(by_class[c]), counts[c])))
    return out


DNS_REQ = re.compile(r"\bdns req: (\d+)")


def dns_requests(log_lines: Iterable[str]) -> tuple[int, int]:
    """(tasks logged, DNS requests they made) from rspamd's task log lines."""
    tasks = requests = 0
    for line in log_lines:
        m = DNS_REQ.search(line)
        if m:
            tasks += 1
            requests += int(m.group(1))
    return tasks, requests


def hyperscan_ready(log_lines: Iterable[str]) -> bool:
    """True once rspamd's log shows the normal worker scanning with hyperscan and the
    hs_helper done compiling (its CPU is then not in the measurement). The worker has the
    database when it logs loading it (after a fresh compile), or when the main process loaded
    it from the cache before starting the worker (the worker inherits it)."""
    main_loaded = worker_loaded = compiled = False
    for line in log_lines:
        if "full hyperscan database" in line and "has been loaded" in line:
            if "(normal)" in line:
                worker_loaded = True
            elif "(main)" in line:
                main_loaded = True
        elif "starting normal process" in line:
            worker_loaded = worker_loaded or main_loaded
        elif "(hs_helper)" in line and "regular expressions to the hyperscan tree" in line:
            compiled = True
    return worker_loaded and compiled


def agreement(rows: Sequence[tuple[str, bool, bool]]) -> dict[str, dict[str, int]]:
    """Per class: messages, flagged by rspamd, flagged by mailward, flagged by both, same
    call (both flagged or both passed). ``rows`` is (class, rspamd flagged, mailward flagged)."""
    out: dict[str, dict[str, int]] = {}
    for cls, r, m in rows:
        c = out.setdefault(cls, {"messages": 0, "rspamd": 0, "mailward": 0, "both": 0,
                                 "same": 0})
        c["messages"] += 1
        c["rspamd"] += r
        c["mailward"] += m
        c["both"] += r and m
        c["same"] += r == m
    return out


# ---------------------------------------------------------------- measurement


def snapshot(root: int) -> dict[int, int]:
    """CPU ticks of ``root``'s process tree now."""
    stats: list[ProcStat] = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as fh:
                    stats.append(parse_stat(fh.read()))
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
    return tree_ticks(stats, root)


def titles(pids: Iterable[int]) -> dict[int, str]:
    """Process titles (rspamd names its processes: "rspamd: normal process (...)")."""
    out: dict[int, str] = {}
    for pid in pids:
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        out[pid] = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return out


def wait_for(what: str, check: Any, timeout: float, proc: subprocess.Popen[Any]) -> None:
    """Poll ``check()`` until it is true; fail when ``proc`` dies or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while not check():
        if proc.poll() is not None:
            raise SystemExit(f"{what}: the process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not after {timeout:.0f} s")
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Pass:
    """One scanner's pass over the whole sample."""

    cpu_ms: float
    wall_s: float
    results: list[tuple[str, float]]  # (action, score) per sample message
    by_process: dict[str, float]


def process_title(cmdline: str) -> str:
    """"rspamd: normal process (127.0.0.1:11333)" -> "normal process"; the main process
    appends its statistics after a semicolon."""
    return re.split(r"[;(]", cmdline, maxsplit=1)[0].strip().removeprefix("rspamd: ")


# ---------------------------------------------------------------- rspamd


class Rspamd:
    """rspamd in the foreground, pinned, on the offline configuration setup.sh writes."""

    name = "rspamd"

    def __init__(self, workdir: Path, cpu: int, concurrency: int) -> None:
        self.workdir = workdir
        self.concurrency = concurrency
        self.port = free_port()
        self.notes: list[str] = []
        setup = subprocess.run(
            ["sh", str(SETUP), str(workdir), str(self.port), str(free_port())],
            capture_output=True, text=True, check=False,
        )
        if setup.returncode != 0:
            raise SystemExit(f"bench/rspamd/setup.sh failed:\n{setup.stderr}")
        argv = setup.stdout.split("\n")[:-1]
        self.log = workdir / "log" / "rspamd.log"
        self.out = (workdir / "rspamd.out").open("wb")
        self.proc = subprocess.Popen(  # taskset execs rspamd: the pid is rspamd's main process
            ["taskset", "-c", str(cpu), *argv], stdout=self.out, stderr=subprocess.STDOUT,
            cwd=workdir,
        )
        self.version = rspamd_version()

    def start(self, warmup: Sequence[bytes]) -> None:
        """Wait for the worker and its hyperscan database, then scan the warm-up messages."""
        wait_for("rspamd /ping", self.ready, STARTUP_TIMEOUT, self.proc)
        try:
            wait_for("rspamd hyperscan", self.hyperscan_loaded, STARTUP_TIMEOUT, self.proc)
        except SystemExit as exc:
            if self.proc.poll() is not None:
                raise
            self.notes.append(f"{exc}: measured with PCRE")
        for raw in warmup:
            self.check(raw)

    def log_lines(self) -> list[str]:
        try:
            return self.log.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def ready(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", "/ping")
            ok = conn.getresponse().read().strip() == b"pong"
            conn.close()
            return ok
        except OSError:
            return False

    def hyperscan_loaded(self) -> bool:
        return hyperscan_ready(self.log_lines())

    def check(self, raw: bytes) -> tuple[str, float]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=SCAN_TIMEOUT)
        try:
            conn.request("POST", "/checkv2", body=raw,
                         headers={"IP": CLIENT_IP, "Content-Length": str(len(raw))})
            reply = conn.getresponse()
            body = reply.read()
        finally:
            conn.close()
        if reply.status != 200:
            raise RuntimeError(f"rspamd answered {reply.status}: {body[:200]!r}")
        data = json.loads(body)
        return str(data.get("action", "?")), float(data.get("score", 0.0))

    def measure(self, messages: Sequence[bytes]) -> Pass:
        """Every message through /checkv2; CPU of all rspamd processes meanwhile."""
        logged = len(self.log_lines())
        before = snapshot(self.proc.pid)
        wall0 = time.perf_counter()
        if self.concurrency > 1:
            with ThreadPoolExecutor(self.concurrency) as pool:
                results = list(pool.map(self.check, messages))
        else:
            results = [self.check(raw) for raw in messages]
        wall = time.perf_counter() - wall0
        after = snapshot(self.proc.pid)
        tasks, dns = dns_requests(self.log_lines()[logged:])
        self.notes.append(f"rspamd's log for a pass: {tasks} tasks, {dns} DNS requests")
        names = titles(after)
        per_process: dict[str, float] = {}
        for pid, ticks in after.items():
            title = process_title(names.get(pid, str(pid)))
            ms = (ticks - before.get(pid, 0)) * 1000.0 / CLK_TCK
            per_process[title] = per_process.get(title, 0.0) + ms
        return Pass(cpu_delta_ms(before, after), wall, results, per_process)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


def rspamd_version() -> str:
    try:
        pkg = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "rspamd"],
                             capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        pkg = ""
    return f"rspamd {pkg} (Debian package)" if pkg else "rspamd (not from a Debian package)"


# ---------------------------------------------------------------- mailward


def mailward_worker() -> int:
    """The pinned child: build the engine as `mailward eval` does, then scan on command.

    Protocol on stdin/stdout, one JSON or word a line: the parent sends {"paths": [...],
    "warmup": [...]}; the child reads the files, scans the warm-up ones, prints "ready". Then,
    until "quit" or the end of input: on "go" it scans every path in order and prints "done";
    on "report" it prints the last pass's results as JSON."""
    import asyncio  # noqa: PLC0415 - only the child needs the engine

    from mailward.config import load_settings  # noqa: PLC0415
    from mailward.engine.pipeline import Engine  # noqa: PLC0415
    from mailward.runtime.clients import build_clients  # noqa: PLC0415

    job = json.loads(sys.stdin.readline())
    settings = load_settings()
    engine = Engine(settings, clients=build_clients(settings, offline=True))
    messages = [Path(p).read_bytes() for p in job["paths"]]
    warm = [Path(p).read_bytes() for p in job["warmup"]]

    async def scan_all(raws: Sequence[bytes]) -> list[tuple[str, float]]:
        out = []
        for raw in raws:
            verdict = (await engine.scan(raw)).verdict
            out.append((str(verdict.action), verdict.score))
        return out

    loop = asyncio.new_event_loop()
    loop.run_until_complete(scan_all(warm))
    print("ready", flush=True)
    results: list[tuple[str, float]] = []
    for line in sys.stdin:
        command = line.strip()
        if command == "go":
            results = loop.run_until_complete(scan_all(messages))
            print("done", flush=True)
        elif command == "report":
            print(json.dumps(results), flush=True)
        else:
            break
    loop.close()
    return 0


class Mailward:
    """The pinned mailward worker (this script with --mailward-worker)."""

    name = "mailward"

    def __init__(self, paths: Sequence[Path], cpu: int, workdir: Path) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p)}
        workdir.mkdir(parents=True, exist_ok=True)
        self.err = (workdir / "mailward-worker.err").open("wb")  # parsers' warnings
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(cpu), sys.executable, str(Path(__file__).resolve()),
             "--mailward-worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True, env=env,
        )
        self.paths = paths
        self.notes: list[str] = []
        self.version = mailward_version()

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def _expect(self, word: str) -> None:
        assert self.proc.stdout is not None
        got = self.proc.stdout.readline().strip()
        if got != word:
            raise SystemExit(f"mailward worker: expected {word!r}, got {got!r} (see "
                             f"{self.err.name})")

    def start(self, warmup: Sequence[Path]) -> None:
        self._send(json.dumps({"paths": [str(p) for p in self.paths],
                               "warmup": [str(p) for p in warmup]}))
        self._expect("ready")

    def measure(self, messages: Sequence[bytes]) -> Pass:
        """The worker scans its copy of the same messages; CPU of its process tree."""
        del messages  # the worker read the same files itself, before the clock started
        before = snapshot(self.proc.pid)
        wall0 = time.perf_counter()
        self._send("go")
        self._expect("done")
        wall = time.perf_counter() - wall0
        after = snapshot(self.proc.pid)
        self._send("report")
        assert self.proc.stdout is not None
        results = [(str(a), float(s)) for a, s in json.loads(self.proc.stdout.readline())]
        cpu = cpu_delta_ms(before, after)
        return Pass(cpu, wall, results, {"scan process": cpu})

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self._send("quit")
                self.proc.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.err.close()


def mailward_version() -> str:
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    return f"mailward {commit}" if commit else "mailward"


# ---------------------------------------------------------------- report


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model or platform.processor()}, {os.cpu_count()} cores, {platform.system()}"


def summary(sample: Sequence[tuple[str, Path]], scanners: Mapping[str, Any],
            passes: Mapping[str, Sequence[Pass]], args: argparse.Namespace,
            load: tuple[float, float]) -> dict[str, Any]:
    """The figures: median CPU ms per message over the rounds, each round's, the ratio of the
    medians and each round's ratio; actions and agreement from the first round."""
    n = len(sample)
    per_msg = {name: [p.cpu_ms / n for p in ps] for name, ps in passes.items()}
    med = {name: statistics.median(v) for name, v in per_msg.items()}
    first = {name: ps[0] for name, ps in passes.items()}
    flagged = [
        (cls, r[0] in RSPAMD_FLAGGED, m[0] != "deliver")
        for (cls, _), r, m in zip(sample, first["rspamd"].results, first["mailward"].results,
                                  strict=True)
    ]
    actions: dict[str, dict[str, dict[str, int]]] = {}
    for name, p in first.items():
        per: dict[str, Counter[str]] = {}
        for (cls, _), (action, _score) in zip(sample, p.results, strict=True):
            per.setdefault(cls, Counter())[action] += 1
        actions[name] = {cls: dict(c.most_common()) for cls, c in sorted(per.items())}
    return {
        "messages": n,
        "classes": dict(sorted(Counter(cls for cls, _ in sample).items())),
        "rounds": len(passes["rspamd"]),
        "cpu": args.cpu,
        "machine": machine(),
        "load_average": {"start": load[0], "end": load[1]},
        "scanners": {
            name: {
                "version": scanners[name].version,
                "cpu_ms_per_message": round(med[name], 3),
                "cpu_ms_per_message_by_round": [round(v, 3) for v in per_msg[name]],
                "wall_s_by_round": [round(p.wall_s, 2) for p in passes[name]],
                "messages_per_wall_s": round(n / statistics.median(
                    p.wall_s for p in passes[name]), 1),
                "cpu_ms_by_process_first_round": {
                    k: round(v, 1) for k, v in sorted(first[name].by_process.items())},
                "notes": sorted(set(scanners[name].notes)),
            } for name in passes
        },
        "ratio_mailward_over_rspamd": round(med["mailward"] / med["rspamd"], 3)
        if med["rspamd"] else None,
        "ratio_by_round": [round(m / r, 3) if r else None
                           for r, m in zip(per_msg["rspamd"], per_msg["mailward"], strict=True)],
        "actions": actions,
        "agreement": agreement(flagged),
    }


def print_summary(s: Mapping[str, Any]) -> None:
    classes = ", ".join(f"{c} {n}" for c, n in s["classes"].items())
    print(f"{s['messages']} messages ({classes}), {s['rounds']} rounds, each scanner pinned to "
          f"CPU {s['cpu']}; {s['machine']}; load average {s['load_average']['start']:.2f} at "
          f"start, {s['load_average']['end']:.2f} at end")
    print()
    print("| scanner | version | CPU ms per message (median) | by round | wall s by round | "
          "messages per wall s |")
    print("|---|---|---|---|---|---|")
    for name, r in s["scanners"].items():
        rounds = ", ".join(f"{v:.2f}" for v in r["cpu_ms_per_message_by_round"])
        walls = ", ".join(f"{v:.1f}" for v in r["wall_s_by_round"])
        print(f"| {name} | {r['version']} | {r['cpu_ms_per_message']:.2f} | {rounds} | {walls} | "
              f"{r['messages_per_wall_s']} |")
    print()
    by_round = ", ".join(str(v) for v in s["ratio_by_round"])
    print(f"ratio mailward / rspamd (CPU per message, medians): "
          f"{s['ratio_mailward_over_rspamd']} (by round: {by_round})")
    for name, r in s["scanners"].items():
        parts = ", ".join(f"{k} {v:.0f}" for k, v in r["cpu_ms_by_process_first_round"].items())
        print(f"{name} CPU ms by process (first round): {parts}")
        for note in r["notes"]:
            print(f"{name}: {note}")
    print()
    print("| class | messages | rspamd flagged | mailward flagged | both | same call |")
    print("|---|---|---|---|---|---|")
    for cls, c in sorted(s["agreement"].items()):
        print(f"| {cls} | {c['messages']} | {c['rspamd']} | {c['mailward']} | {c['both']} | "
              f"{c['same']} |")
    print()
    for name, per in s["actions"].items():
        for cls, counts in per.items():
            print(f"{name} {cls}: " + ", ".join(f"{a} {n}" for a, n in counts.items()))


# ---------------------------------------------------------------- main


def class_files(root: Path) -> dict[str, list[Path]]:
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    out = {f.name: sorted(p for p in f.rglob("*.eml") if p.is_file()) for f in folders}
    if not any(out.values()):
        raise SystemExit(f"{root}: no class folders of .eml files")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DIR)
    p.add_argument("--limit", type=int, default=1500, help="messages in the sample (0: all)")
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--rounds", type=int, default=3,
                   help="passes over the sample by each scanner, alternating which goes first")
    p.add_argument("--warmup", type=int, default=20,
                   help="messages from outside the sample each scans first (not counted)")
    p.add_argument("--cpu", type=int, default=1, help="the core both scanners are pinned to")
    p.add_argument("--concurrency", type=int, default=1, help="requests in flight to rspamd")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                   help="rspamd's configuration, logs and hyperscan cache")
    p.add_argument("--json", action="store_true")
    p.add_argument("--mailward-worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.mailward_worker:
        return mailward_worker()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop rspamd on the way out
    if shutil.which("taskset") is None:
        raise SystemExit("taskset (util-linux) is needed to pin the scanners")
    files = class_files(args.dir)
    sample = select_sample(files, args.limit, args.seed)
    chosen = {p for _, p in sample}
    rest = [p for _, p in select_sample(files, 0, args.seed) if p not in chosen]
    warmup = random.Random(args.seed).sample(rest, min(args.warmup, len(rest)))
    raws = [p.read_bytes() for _, p in sample]
    load0 = os.getloadavg()[0]
    rspamd = Rspamd(args.workdir, args.cpu, args.concurrency)
    mailward: Mailward | None = None
    passes: dict[str, list[Pass]] = {"rspamd": [], "mailward": []}
    try:
        mailward = Mailward([p for _, p in sample], args.cpu, args.workdir)
        rspamd.start([p.read_bytes() for p in warmup])
        mailward.start(warmup)
        for i in range(max(1, args.rounds)):
            order: list[Rspamd | Mailward] = [rspamd, mailward] if i % 2 == 0 else [mailward,
                                                                                   rspamd]
            for scanner in order:
                passes[scanner.name].append(scanner.measure(raws))
    finally:
        rspamd.stop()
        if mailward is not None:
            mailward.stop()
    scanners = {"rspamd": rspamd, "mailward": mailward}
    s = summary(sample, scanners, passes, args, (load0, os.getloadavg()[0]))
    if args.json:
        print(json.dumps(s, indent=2))
    else:
        print_summary(s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
