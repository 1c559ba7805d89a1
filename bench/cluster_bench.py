"""Cluster throughput (issue #16): messages per second through one node on SQLite, one node on
PostgreSQL + Redis, and two nodes on PostgreSQL + Redis, on this machine, and where the time goes.

    MAILWARD_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1/mw_x \\
        python bench/cluster_bench.py [--messages 300] [--clients 8] [--only sqlite,pg1,pg2]

Each setup starts ``mailward serve`` node(s) on fresh temporary data directories (Maildir
delivery, DNS off: nothing leaves the machine; the PostgreSQL database's tables are DROPPED
first, so give it a database of its own). ``--clients`` SMTP connections send ``--messages``
small ham messages, spread over the nodes; the figure is messages per second from the first
MAIL to the last message delivered (every spool empty). Where the time goes: CPU seconds per
message of the gateway processes (each node's process group: the gateway and its scan
processes), of the PostgreSQL backends serving the bench's database (``postgres: USER DB ...``;
not the server's shared writers) and of Redis, read from /proc before and after,
and the p50/p99 time from the end of DATA to the 250.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import redis
from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import make_url

REDIS_URL = "redis://127.0.0.1:6379/0"
TICK = os.sysconf("SC_CLK_TCK")


def message(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Sender {n % 7} <sender{n % 7}@partner.example.net>"
    msg["To"] = "alice@example.com"
    msg["Subject"] = f"Project update {n}"
    msg["Message-ID"] = f"<bench-{n}-{secrets.token_hex(4)}@partner.example.net>"
    msg.set_content(f"Hi Alice,\n\nthe notes of meeting {n} are in the usual folder.\n"
                    "See you on Thursday.\n\nBob\n")
    return msg.as_bytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_of(match: str) -> float:
    """CPU seconds (user + system, with reaped children) of processes whose command has
    ``match``; for process groups, ``match`` is ``pgid=N``."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if match.startswith("pgid="):
            if fields[2] != match[5:]:
                continue
        elif match not in cmd and match not in stat[:stat.rindex(")")]:
            continue
        total += sum(int(f) for f in fields[11:15]) / TICK
    return total


@dataclass
class Node:
    config: Path
    data_dir: Path
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.data_dir.parent / f"{self.data_dir.name}.log").open("ab")
        self.proc = subprocess.Popen(  # noqa: S603  (our own interpreter)
            [sys.executable, "-m", "mailward.cli.main", "-c", str(self.config), "serve"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env},
            start_new_session=True)

    def wait(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, "node exited"
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError("node did not listen")

    def spooled(self) -> int:
        queue = self.data_dir / "spool" / "queue"
        return len(list(queue.glob("*.msg"))) if queue.exists() else 0

    def delivered(self) -> int:
        return len(list((self.data_dir / "maildir").glob("*/*/new/*")))

    def cpu(self) -> float:
        assert self.proc is not None
        return cpu_of(f"pgid={self.proc.pid}")

    def stop(self) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@dataclass
class Result:
    name: str
    messages: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        lat = sorted(self.latencies)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else 0.0
        per = ", ".join(f"{k} {v / self.messages * 1000:.1f}" for k, v in self.cpu.items())
        return (f"{self.name:<28} {self.messages / self.seconds:6.1f} msg/s  "
                f"({self.messages} in {self.seconds:.1f} s; 250 after DATA p50 "
                f"{statistics.median(lat) * 1000:.0f} ms p99 {p99 * 1000:.0f} ms; "
                f"CPU ms/msg: {per})")


def config(root: Path, pg_url: str | None, prefix: str) -> Path:
    text = f"""data_dir = "{root / 'unused'}"
[dns]
enabled = false
[organisation]
accepted_domains = ["example.com"]
[smtp]
listen_port = 0
"""
    if pg_url:
        text += f"""[store]
url = "{pg_url}"
[cluster]
redis_url = "{REDIS_URL}"
key_prefix = "{prefix}"
"""
    path = root / "mailward.toml"
    path.write_text(text)
    return path


def drop_tables(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        meta.drop_all(engine)
    finally:
        engine.dispose()


def send_all(nodes: list[Node], total: int, clients: int) -> list[float]:
    """Send ``total`` messages over ``clients`` connections spread over the nodes."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def client(k: int) -> None:
        node = nodes[k % len(nodes)]
        with smtplib.SMTP("127.0.0.1", node.port, timeout=120) as smtp:
            smtp.ehlo("bench.example.net")
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                smtp.mail("bob@partner.example.net")
                smtp.rcpt("alice@example.com")
                began = time.perf_counter()
                code, _ = smtp.data(message(n))
                took = time.perf_counter() - began
                assert code == 250, code
                with lock:
                    latencies.append(took)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def run(name: str, count: int, pg_url: str | None, args: argparse.Namespace) -> Result:
    root = Path(tempfile.mkdtemp(prefix="mw-cluster-bench-"))
    prefix = f"mwbench-{secrets.token_hex(4)}:"
    if pg_url:
        drop_tables(pg_url)
    cfg = config(root, pg_url, prefix)
    nodes = []
    for k in range(count):
        port = free_port()
        data = root / f"node{k}"
        nodes.append(Node(cfg, data, port, {
            "MAILWARD__DATA_DIR": str(data), "MAILWARD__SMTP__LISTEN_PORT": str(port),
            "MAILWARD__CLUSTER__NODE_ID": f"bench-{k}"}))
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait()
        send_all(nodes, len(nodes) * 2, len(nodes))  # warm: scan processes up, tables cached
        while sum(n.delivered() for n in nodes) < len(nodes) * 2:
            time.sleep(0.1)
        pg_db = f" {make_url(pg_url).database} " if pg_url else "-"
        before = {"gateway": sum(n.cpu() for n in nodes), "postgres": cpu_of(pg_db),
                  "redis": cpu_of("redis-server")}
        began = time.perf_counter()
        latencies = send_all(nodes, args.messages, args.clients)
        while sum(n.delivered() for n in nodes) < args.messages + len(nodes) * 2 \
                or any(n.spooled() for n in nodes):
            time.sleep(0.05)
        seconds = time.perf_counter() - began
        after = {"gateway": sum(n.cpu() for n in nodes), "postgres": cpu_of(pg_db),
                 "redis": cpu_of("redis-server")}
        cpu = {k: after[k] - before[k] for k in before}
        if not pg_url:
            cpu.pop("postgres")
            cpu.pop("redis")
        return Result(name, args.messages, seconds, latencies, cpu)
    finally:
        for node in nodes:
            node.stop()
        if pg_url:
            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(match=f"{prefix}*"):
                client.delete(key)
            client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--only", default="sqlite,pg1,pg2")
    args = parser.parse_args()
    pg_url = os.environ.get("MAILWARD_TEST_PG_URL")
    setups = {"sqlite": ("1 node, SQLite", 1, None),
              "pg1": ("1 node, PostgreSQL + Redis", 1, pg_url),
              "pg2": ("2 nodes, PostgreSQL + Redis", 2, pg_url)}
    print(f"{args.messages} messages, {args.clients} SMTP clients, {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.1f} at start")
    for key in args.only.split(","):
        name, count, url = setups[key]
        if key != "sqlite" and not url:
            print(f"{name}: skipped (set MAILWARD_TEST_PG_URL)")
            continue
        print(run(name, count, url, args).line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
