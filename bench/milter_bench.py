"""Messages per second through a real Postfix with and without mailward's milter, and the latency
the milter adds per message (median and p99).

One private Postfix (tests/postfixserver; Debian's postfix, root) with two smtpd listeners on
loopback: one with ``smtpd_milters`` pointing at a running `mailward serve` (``[milter]
listen``), one without milters. Both relay to the same local sink. The same messages (real ham
from ../shared/corpus/dev/ham when present, else small generated ones) are sent to each with
``--clients`` concurrent SMTP clients, one message per transaction:

- latency: MAIL FROM to the reply to end of data, per message (the milter scans while Postfix's
  client waits, so this is where its cost shows);
- throughput: messages accepted per second, and per second until the last reached the sink;
- for comparison, the same messages sent to mailward's own SMTP front end (relay mode).

    python3 bench/milter_bench.py [--messages 200] [--clients 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "tests" / "postfixserver"))

from gateway_harness import GatewayProcess, free_port, next_hop, toml_config  # noqa: E402
from postfix import Postfix, available  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "dev" / "ham"
SENDER = "bench@partner.example.net"
RCPT = "alice@example.com"


def load_messages(count: int) -> list[bytes]:
    files = sorted(CORPUS.glob("*.eml"))[:count] if CORPUS.is_dir() else []
    out = []
    for path in files:
        raw = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if len(raw) < 200_000:
            out.append(raw)
    n = 0
    while len(out) < count:
        out.append(
            f"From: Bob <bob@partner.example.net>\r\nTo: {RCPT}\r\nSubject: notes {n}\r\n"
            f"Message-ID: <bench-{n}@partner.example.net>\r\n\r\nHello, notes {n}.\r\n".encode()
        )
        n += 1
    return out[:count]


def send_all(port: int, msgs: list[bytes], clients: int) -> tuple[list[float], float, int]:
    """(latencies in seconds, wall time, failures) for sending every message once."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    queue = list(enumerate(msgs))

    def worker() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
            smtp.ehlo("bench.example.net")
            while True:
                with lock:
                    if not queue:
                        return
                    _, raw = queue.pop()
                began = time.perf_counter()
                try:
                    smtp.sendmail(SENDER, [RCPT], raw)
                except smtplib.SMTPResponseException:
                    with lock:
                        failures[0] += 1  # rejected or tempfailed: still a scanned message
                    smtp.rset()
                took = time.perf_counter() - began
                with lock:
                    latencies.append(took)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - started, failures[0]


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_sink(count: int, received: list[object], timeout: float = 300.0) -> float:
    began = time.perf_counter()
    while len(received) < count and time.perf_counter() - began < timeout:
        time.sleep(0.02)
    return time.perf_counter()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
    if not available():
        print("needs Debian's postfix (bash .ci/install-postfix.sh) and root", file=sys.stderr)
        return 2
    msgs = load_messages(args.messages)
    tmp = Path(tempfile.mkdtemp(prefix="mailward-milter-bench-"))
    tmp.chmod(0o755)
    sink_port, milter_port, smtp_port = free_port(), free_port(), free_port()
    postfix = Postfix(tmp / "postfix", free_port(), free_port(), sink_port, milter_port)
    cfg = tmp / "mailward.toml"
    cfg.write_text(toml_config(tmp / "data", smtp_port) + "\n[milter]\n"
                   f'listen = "inet:127.0.0.1:{milter_port}"\n')
    gateway = GatewayProcess(cfg, smtp_port, tmp / "data", tmp / "gateway.log")
    results = {}
    relay: tuple[list[float], float, int] = ([], 1.0, 0)
    try:
        with next_hop(sink_port) as sink:
            gateway.start()
            postfix.start()
            # warm-up: the scan processes' first messages, Postfix's first smtp client
            send_all(postfix.smtp_port, msgs[:10], 2)
            send_all(postfix.reinject_port, msgs[:10], 2)
            wait_sink(20, sink.received, 60)
            for label, port in (("without milter", postfix.reinject_port),
                                ("with milter", postfix.smtp_port)):
                before = len(sink.received)
                began = time.perf_counter()
                lat, wall, failed = send_all(port, msgs, args.clients)
                done = wait_sink(before + len(msgs) - failed, sink.received)
                results[label] = (lat, wall, done - began, failed)
            # for comparison: mailward's own SMTP front end (inline scan before its 250; it
            # delivers to its Maildirs, so only acceptance is measured)
            lat, wall, failed = send_all(gateway.port, msgs, args.clients)
            relay = (lat, wall, failed)
    finally:
        postfix.stop()
        gateway.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    source = "corpus ham" if CORPUS.is_dir() else "generated"
    print(f"{len(msgs)} messages ({source}), {args.clients} concurrent clients, "
          f"{os.cpu_count()} CPUs")
    for label, (lat, wall, to_sink, failed) in results.items():
        print(f"{label:>15}: accepted {len(lat) / wall:7.1f} msg/s, delivered to the sink "
              f"{(len(lat) - failed) / to_sink:7.1f} msg/s; latency median "
              f"{statistics.median(lat) * 1000:7.1f} ms, p99 {p(lat, 0.99) * 1000:7.1f} ms"
              f" ({failed} not accepted)")
    lat, wall, failed = relay
    print(f"{'mailward SMTP':>15}: accepted {len(lat) / wall:7.1f} msg/s (relay mode, for "
          f"comparison); latency median {statistics.median(lat) * 1000:7.1f} ms, p99 "
          f"{p(lat, 0.99) * 1000:7.1f} ms ({failed} not accepted)")
    base, milt = results["without milter"][0], results["with milter"][0]
    added = (statistics.median(milt) - statistics.median(base)) * 1000
    print(f"added by the milter: median {added:.1f} ms, "
          f"p99 {(p(milt, 0.99) - p(base, 0.99)) * 1000:.1f} ms per message")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
