"""SMTP load generator: the gateway end to end at 1, 10 and 50 concurrent clients (issue #15).

    python bench/smtp_load.py [--levels 1,10,50] [--messages 600] [--seconds 30]
                              [--folder ../shared/corpus/dev/ham] [--target HOST:PORT]
                              [--rate MSG_PER_S]

Without ``--target`` it starts ``mailward serve`` itself on a temporary data directory with the
shipped defaults (Maildir delivery, the spool fsynced before every 250, scans in scan
processes) except DNS, which is off (``--dns`` keeps it on): nothing leaves the machine.

Each client is a small asyncio SMTP client on one connection (EHLO once, then MAIL, RCPT, DATA
per message, sent in one write when the server offers PIPELINING, as Postfix's client does,
unless ``--no-pipelining``; reconnecting after ``--per-connection`` messages). For each
concurrency level it sends until ``--messages`` are answered or ``--seconds`` pass, and prints
messages per second, the p50/p99 time from the end of DATA (the final ``.`` sent) to the reply,
the replies by code, and -- when it started the gateway -- the gateway's CPU seconds per
message: user + system time of every process in the gateway's process group (the gateway, the
fork server, the scan processes; reaped ones through their parent), read from /proc after the
spool has drained (so delivery is counted too), and the load generator's own CPU per message.

By default the clients run a closed loop (each sends its next message once the last is
answered): the rate printed is the gateway's saturation rate, and with N clients the time to
the reply is N / rate at least, by Little's law. ``--rate R`` runs an open loop instead: the
clients together offer R messages per second on schedule (a client behind its schedule sends at
once and is counted late), which gives the time to the reply at that load.

Messages: a few synthetic ham messages made here, or with ``--folder`` the ``.eml`` files of a
folder under 100 kB (the first ``--max-files``). Before the first level it measures the time
from the port opening to the first message's 250 (``first 250 after port open``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
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
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from _proc import process_stats

RCPT = "alice@example.com"
SENDER = "sender@partner.example.net"
_LINE_END = re.compile(rb"\r?\n")


def synthetic_messages(count: int = 6) -> list[bytes]:
    """Small ham-like messages: plain text, text + HTML with a link, a small CSV attachment."""
    out = []
    for n in range(count):
        msg = EmailMessage()
        msg["From"] = f"Sender {n} <sender{n}@partner.example.net>"
        msg["To"] = RCPT
        msg["Subject"] = f"Project update {n}"
        msg["Message-ID"] = f"<load-{n}@partner.example.net>"
        msg["Date"] = "Mon, 07 Dec 2026 10:00:00 +0000"
        text = (f"Hi Alice,\n\nthe notes of meeting {n} are at "
                f"https://docs.partner.example.net/notes/{n}.\nSee you on Thursday.\n")
        msg.set_content(text * 8)
        if n % 3 == 1:
            msg.add_alternative(
                f"<p>Notes of meeting {n}: <a href='https://docs.partner.example.net/{n}'>"
                "open</a></p>", subtype="html")
        if n % 3 == 2:
            msg.add_attachment(f"item,qty\nwidget,{n}\n".encode(), maintype="text",
                               subtype="csv", filename=f"order-{n}.csv")
        out.append(msg.as_bytes())
    return out


def folder_messages(folder: Path, limit: int, max_bytes: int = 100_000) -> list[bytes]:
    out = []
    for path in sorted(folder.rglob("*.eml")):
        if path.stat().st_size < max_bytes:
            out.append(path.read_bytes())
        if len(out) >= limit:
            break
    return out


def smtp_payload(raw: bytes) -> bytes:
    """CRLF line ends, dot-stuffed, with the final ``.``."""
    lines = _LINE_END.split(raw)
    if lines and lines[-1] == b"":
        lines.pop()
    body = b"\r\n".join(b"." + ln if ln.startswith(b".") else ln for ln in lines)
    return body + b"\r\n.\r\n"


class SmtpClient:
    """A minimal SMTP client: enough for MAIL, RCPT, DATA on one connection."""

    def __init__(self, host: str, port: int, source: str | None = None,
                 pipelining: bool = True) -> None:
        self.host, self.port, self.source = host, port, source
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        #: Send MAIL, RCPT and DATA in one write when the server offers PIPELINING (RFC 2920),
        #: as Postfix's SMTP client does; else one command per round trip.
        self.pipelining = pipelining

    async def connect(self) -> None:
        local = (self.source, 0) if self.source else None
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, local_addr=local)
        await self._expect("2")
        ehlo = await self.command(b"EHLO loadgen.example.net", "2")
        self.pipelining = self.pipelining and "PIPELINING" in ehlo.upper()

    async def _reply(self) -> str:
        assert self.reader is not None
        lines = []
        while True:
            line = (await self.reader.readline()).decode("latin-1")
            if not line:
                raise ConnectionError("connection closed")
            lines.append(line.rstrip())
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    async def _expect(self, code: str) -> str:
        reply = await self._reply()
        if not reply.startswith(code):
            raise ConnectionError(f"unexpected reply: {reply[:200]}")
        return reply

    async def command(self, line: bytes, code: str) -> str:
        assert self.writer is not None
        self.writer.write(line + b"\r\n")
        return await self._expect(code)

    async def send(self, payload: bytes) -> tuple[str, float]:
        """One message; returns the DATA reply and seconds from the final ``.`` to it."""
        assert self.writer is not None
        mail, rcpt = f"MAIL FROM:<{SENDER}>".encode(), f"RCPT TO:<{RCPT}>".encode()
        if self.pipelining:  # one write, then the three replies in order
            self.writer.write(b"%s\r\n%s\r\nDATA\r\n" % (mail, rcpt))
            for code in ("2", "2", "3"):
                await self._expect(code)
        else:
            await self.command(mail, "2")
            await self.command(rcpt, "2")
            await self.command(b"DATA", "3")
        self.writer.write(payload)
        await self.writer.drain()
        started = time.perf_counter()
        reply = await self._reply()
        return reply, time.perf_counter() - started

    async def close(self) -> None:
        if self.writer is None:
            return
        with contextlib.suppress(Exception):
            self.writer.write(b"QUIT\r\n")
            await asyncio.wait_for(self._reply(), 2)
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
        self.writer = None


@dataclass
class LevelResult:
    clients: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    cpu_seconds: float | None = None
    cpu_split: dict[str, float] = field(default_factory=dict)
    #: Open loop: the offered rate (msg/s), and by how much each late message was late (s).
    offered: float = 0.0
    lags: list[float] = field(default_factory=list)
    #: CPU seconds of this load generator (its own process) over the level.
    load_cpu_seconds: float = 0.0

    @property
    def sent(self) -> int:
        return sum(self.codes.values())

    def row(self) -> dict[str, object]:
        lat = sorted(self.latencies)
        ok = self.codes.get("250", 0)
        return {
            "clients": self.clients,
            "messages": self.sent,
            "msg_per_s": round(self.sent / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(1000 * _pct(lat, 50), 1) if lat else None,
            "p99_ms": round(1000 * _pct(lat, 99), 1) if lat else None,
            "max_ms": round(1000 * lat[-1], 1) if lat else None,
            "codes": dict(self.codes),
            "errors": self.errors,
            "offered_msg_per_s": self.offered or None,
            "late": len(self.lags),
            "max_late_ms": round(1000 * max(self.lags), 1) if self.lags else 0.0,
            "cpu_ms_per_msg": (round(1000 * self.cpu_seconds / ok, 2)
                               if self.cpu_seconds is not None and ok else None),
            "cpu_ms_per_msg_by_process": {k: round(1000 * v / ok, 2)
                                          for k, v in self.cpu_split.items()} if ok else {},
            "load_cpu_ms_per_msg": round(1000 * self.load_cpu_seconds / self.sent, 2)
                                   if self.sent else None,
        }


def _source(host: str, n: int) -> str | None:
    """On loopback, ten clients per source address (127.0.0.10, .11, ...): the gateway
    allows ``smtp.max_connections_per_ip`` (20) connections per address."""
    return f"127.0.0.{10 + n // 10}" if host.startswith("127.") else None


def _pct(values: list[float], p: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


async def run_level(
    host: str, port: int, payloads: list[bytes], clients: int, limit: int, seconds: float,
    per_connection: int, rate: float = 0.0, pipelining: bool = True,
) -> LevelResult:
    """Closed loop (``rate`` 0): each client sends its next message as soon as the last one
    was answered, so the level measures the gateway's saturation rate. Open loop (``rate`` > 0,
    messages per second over all clients): message k of client n is due at
    ``(k * clients + n) / rate`` seconds after the start; a client behind its schedule sends at
    once, and how far behind it was is recorded (``lag``)."""
    result = LevelResult(clients)
    budget = [limit]
    start = time.monotonic()
    deadline = start + seconds

    async def one_client(n: int) -> None:
        client: SmtpClient | None = None
        used = 0
        turn = n
        k = 0
        while budget[0] > 0 and time.monotonic() < deadline:
            budget[0] -= 1
            if rate > 0:
                due = start + (k * clients + n) / rate
                k += 1
                now = time.monotonic()
                if due > now:
                    await asyncio.sleep(due - now)
                else:
                    result.lags.append(now - due)
            try:
                if client is None or used >= per_connection:
                    if client is not None:
                        await client.close()
                    client, used = SmtpClient(host, port, _source(host, n), pipelining), 0
                    await client.connect()
                reply, took = await client.send(payloads[turn % len(payloads)])
            except (ConnectionError, OSError) as exc:
                result.errors += 1
                if result.errors <= 5:
                    print(f"  client {n}: {exc}", file=sys.stderr)
                if client is not None:
                    await client.close()
                client = None
                continue
            used += 1
            turn += clients
            result.codes[reply[:3]] += 1
            result.latencies.append(took)
        if client is not None:
            await client.close()

    await asyncio.gather(*(one_client(n) for n in range(clients)))
    result.seconds = time.monotonic() - start
    result.offered = rate
    return result


# -- the gateway, when we start it --------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


class Gateway:
    """``mailward serve`` in its own process group, on a temporary data directory."""

    def __init__(self, dns: bool, extra_toml: str = "") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mw-smtp-load-"))
        self.port = _free_port()
        self.config = self.dir / "mailward.toml"
        self.config.write_text(
            f'data_dir = "{self.dir / "data"}"\n'
            f"[dns]\nenabled = {'true' if dns else 'false'}\n"
            f'[smtp]\nlisten_host = "127.0.0.1"\nlisten_port = {self.port}\n{extra_toml}\n')
        self.log = self.dir / "gateway.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start it and wait for its port; returns when the port opened (perf_counter)."""
        env = dict(os.environ)
        env.pop("MAILWARD_CONFIG", None)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603  (our own interpreter)
                [sys.executable, "-m", "mailward.cli.main", "-c", str(self.config), "serve"],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        started = time.perf_counter()
        while not _port_open(self.port):
            if self.proc.poll() is not None or time.perf_counter() - started > 120:
                raise SystemExit("the gateway did not start:\n" + self.log.read_text()[-3000:])
            time.sleep(0.01)
        return time.perf_counter()

    def cpu_seconds(self) -> float:
        """User + system seconds of every process in the gateway's process group, reaped
        children included."""
        return sum(self.cpu_by_process().values())

    def cpu_by_process(self) -> dict[str, float]:
        """CPU seconds of the gateway process itself ("gateway") and of the others
        ("scan processes": the fork server, the scan processes and those it reaped)."""
        assert self.proc is not None
        out = {"gateway": 0.0, "scan processes": 0.0}
        for pid, _parent, group, own, with_reaped in process_stats():
            if group != self.proc.pid:
                continue
            if pid == self.proc.pid:  # its reaped children are not scan processes
                out["gateway"] += own
            else:
                out["scan processes"] += with_reaped
        return out

    def spool_count(self) -> int:
        queue = self.dir / "data" / "spool" / "queue"
        return len(list(queue.glob("*.msg"))) if queue.exists() else 0

    def wait_drained(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.spool_count() and time.monotonic() < deadline:
            time.sleep(0.1)

    def scan_process_memory(self) -> list[dict[str, object]]:
        """RSS, PSS and address space (MiB) of the scan processes (named mailward-scan-*)."""
        out: list[dict[str, object]] = []
        assert self.proc is not None
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError):
                stat = Path(f"/proc/{pid}/stat").read_text()
                if int(stat[stat.rindex(")") + 2:].split()[2]) != self.proc.pid:
                    continue
                status = Path(f"/proc/{pid}/status").read_text()
                vm = dict(re.findall(r"^(VmSize|VmRSS):\s+(\d+) kB", status, re.M))
                pss = re.search(r"^Pss:\s+(\d+) kB",
                                Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M)
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                out.append({"pid": int(pid), "rss_mb": int(vm.get("VmRSS", 0)) >> 10,
                            "pss_mb": (int(pss.group(1)) >> 10) if pss else 0,
                            "vsz_mb": int(vm.get("VmSize", 0)) >> 10,
                            "cmd": cmd.decode(errors="replace")[:80]})
        return out

    def stop(self, keep: bool) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if keep:
            print(f"gateway data and log kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


async def first_reply(host: str, port: int, payload: bytes, opened: float) -> tuple[str, float]:
    """Send one message right after the port opened: its reply and seconds since then."""
    client = SmtpClient(host, port)
    await client.connect()
    try:
        reply, _ = await client.send(payload)
    finally:
        await client.close()
    return reply, time.perf_counter() - opened


def print_level(result: LevelResult, rate: float, *, as_json: bool) -> None:
    row = result.row()
    if as_json:
        print(json.dumps(row))
        return
    print(f"{result.clients:3d} clients: {row['messages']} msgs in {result.seconds:.1f} s"
          f" = {row['msg_per_s']} msg/s; end of DATA to reply p50 {row['p50_ms']} ms"
          f" p99 {row['p99_ms']} ms max {row['max_ms']} ms; replies {row['codes']}"
          f" errors {row['errors']}"
          + (f"; offered {rate} msg/s, {row['late']} sent late (max"
             f" {row['max_late_ms']} ms)" if rate else "")
          + f"; gateway CPU {row['cpu_ms_per_msg']} ms/msg"
          f" {row['cpu_ms_per_msg_by_process']}"
          f"; load generator CPU {row['load_cpu_ms_per_msg']} ms/msg")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", default="1,10,50", help="concurrent clients, comma-separated")
    ap.add_argument("--messages", type=int, default=600, help="messages per level at most")
    ap.add_argument("--seconds", type=float, default=30.0, help="seconds per level at most")
    ap.add_argument("--folder", type=Path, help="send these .eml files (<100 kB)")
    ap.add_argument("--max-files", type=int, default=200)
    ap.add_argument("--per-connection", type=int, default=100,
                    help="messages per connection before reconnecting")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="open loop: offer this many msg/s over all clients (0: closed loop, "
                    "each client sends as soon as answered)")
    ap.add_argument("--no-pipelining", action="store_true",
                    help="one command per round trip even where the server offers PIPELINING")
    ap.add_argument("--target", help="HOST:PORT of a running gateway (else one is started)")
    ap.add_argument("--dns", action="store_true", help="leave the started gateway's DNS on")
    ap.add_argument("--toml", default="", help="extra lines under [smtp] of the started "
                    "gateway's configuration (sections may follow)")
    ap.add_argument("--keep", action="store_true", help="keep the started gateway's data dir")
    ap.add_argument("--json", action="store_true", help="print one JSON object per level")
    args = ap.parse_args()

    raws = folder_messages(args.folder, args.max_files) if args.folder else synthetic_messages()
    if not raws:
        raise SystemExit("no messages to send")
    payloads = [smtp_payload(r) for r in raws]
    print(f"{len(payloads)} messages, mean {statistics.mean(map(len, payloads)) / 1024:.1f} kB")
    gateway = None
    if args.target:
        host, _, port_text = args.target.rpartition(":")
        port = int(port_text)
    else:
        gateway = Gateway(args.dns, args.toml)
        host, port = "127.0.0.1", gateway.port
    try:
        if gateway is not None:
            opened = gateway.start()
            reply, took = asyncio.run(first_reply(host, port, payloads[0], opened))
            print(f"first 250 after port open: {took * 1000:.0f} ms ({reply[:3]})")
            gateway.wait_drained()
        for clients in (int(c) for c in args.levels.split(",")):
            cpu_before = gateway.cpu_by_process() if gateway is not None else None
            load_cpu = time.process_time()
            result = asyncio.run(run_level(host, port, payloads, clients, args.messages,
                                           args.seconds, args.per_connection, args.rate,
                                           not args.no_pipelining))
            result.load_cpu_seconds = time.process_time() - load_cpu
            if gateway is not None and cpu_before is not None:
                gateway.wait_drained()
                cpu_after = gateway.cpu_by_process()
                result.cpu_split = {k: cpu_after[k] - cpu_before[k] for k in cpu_after}
                result.cpu_seconds = sum(result.cpu_split.values())
            print_level(result, args.rate, as_json=args.json)
        if gateway is not None:
            for proc in gateway.scan_process_memory():
                print(f"process {proc['pid']}: RSS {proc['rss_mb']} MiB, PSS {proc['pss_mb']} "
                      f"MiB, address space {proc['vsz_mb']} MiB: {proc['cmd']}")
    finally:
        if gateway is not None:
            gateway.stop(args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
