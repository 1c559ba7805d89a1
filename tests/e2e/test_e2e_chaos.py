"""Chaos: SIGKILL of the gateway's whole process group at random instants while clients send
and a next hop receives. Nothing acknowledged is lost; duplicates stay within what a kill can
cause, and the figures are printed.

Several client threads send uniquely numbered messages; each sends a message again until it gets
a 250 (as an MTA does), and notes the acknowledged ones. The gateway relays to a next hop the
test runs (``delivery.inbound = "relay"``). At seeded random instants (each after at least one
new 250 since the last start, so the run progresses) the test SIGKILLs the gateway's process
group (the gateway, its forkserver and scan processes) and starts it again on the same data
directory. At the end the spool must drain, then:

- every acknowledged message reached the next hop at least once (0 lost);
- a second copy is allowed for two reasons only, told apart by the spool id in the gateway's
  Received header: a second spool entry of the message, only when a kill cut the reply to
  that client's DATA (the gateway had it already and the client sent it again: one in flight
  per connection, SMTP's own limit); or one spool entry relayed twice, when the kill fell
  between the next hop's reply and the durable done mark of the recipient: at most one per
  relay connection in flight (one per spool worker) at each kill.

Size: ``MAILWARD_CHAOS_MESSAGES`` (300), ``MAILWARD_CHAOS_KILLS`` (8), ``MAILWARD_CHAOS_CLIENTS``
(4), ``MAILWARD_CHAOS_SEED`` (16). The long run of issue 16 by hand::

    MAILWARD_CHAOS_MESSAGES=2000 MAILWARD_CHAOS_KILLS=30 MAILWARD_CHAOS_TIMEOUT=1800 \\
        python3 -m pytest tests/e2e/test_e2e_chaos.py -s
"""

from __future__ import annotations

import collections
import email.policy
import os
import random
import re
import smtplib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mailward.config.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))

import messages
from gateway_harness import GatewayProcess, free_port, next_hop, toml_config

MESSAGES = int(os.environ.get("MAILWARD_CHAOS_MESSAGES", "300"))
KILLS = int(os.environ.get("MAILWARD_CHAOS_KILLS", "8"))
CLIENTS = int(os.environ.get("MAILWARD_CHAOS_CLIENTS", "4"))
SEED = int(os.environ.get("MAILWARD_CHAOS_SEED", "16"))
TIMEOUT = int(os.environ.get("MAILWARD_CHAOS_TIMEOUT", "900"))
#: Most seconds a kill is put off after the progress it waits for: the instant falls anywhere
#: in a DATA transfer, an inline scan, a relay to the next hop or a restart's recovery.
MAX_DELAY = 0.5
#: Messages left unacknowledged for each kill still to come, so that the last kill still falls
#: while the clients send (two transactions per client: the one answered, the one in flight).
RESERVE = 2 * CLIENTS
SENDER = "bob@partner.example.net"
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*<chaos-(\d+)@", re.MULTILINE | re.IGNORECASE)
#: The spool id in the gateway's Received header ("with ESMTP id <spool id>;").
_SPOOL_ID = re.compile(rb"\(mailward\) with E?SMTP\w* id ([0-9a-z_-]+);")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(TIMEOUT)]


def payload(n: int) -> bytes:
    msg = messages.clean(n)
    del msg["Message-ID"]
    msg["Message-ID"] = f"<chaos-{n}@partner.example.net>"
    return bytes(msg.as_bytes(policy=email.policy.SMTP))


@dataclass
class Tally:
    """What the clients did, shared by their threads."""

    acked: set[int] = field(default_factory=set)
    #: Messages whose whole DATA was sent and whose reply never came (the kill cut it).
    cut: collections.Counter[int] = field(default_factory=collections.Counter)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)


def send_one(smtp: smtplib.SMTP, n: int, tally: Tally) -> bool:
    """One transaction for message ``n``: True on 250. A reply cut after the whole DATA was
    sent is counted in ``tally.cut`` (the gateway may have the message)."""
    with tally.lock:
        tally.attempts += 1
    if smtp.mail(SENDER)[0] != 250 or smtp.rcpt("alice@example.com")[0] != 250:
        smtp.rset()
        return False
    if smtp.docmd("DATA")[0] != 354:
        smtp.rset()
        return False
    smtp.send(payload(n) + b".\r\n")  # no line starts with a dot: nothing to stuff
    try:
        code, _ = smtp.getreply()
    except (smtplib.SMTPException, OSError):
        with tally.lock:
            tally.cut[n] += 1
        raise
    if code != 250:
        return False
    with tally.lock:
        tally.acked.add(n)
    return True


def client(port: int, ids: list[int], tally: Tally, stop: threading.Event) -> None:
    """Send each of ``ids`` until it gets a 250, reconnecting after a broken session."""
    smtp: smtplib.SMTP | None = None
    for n in ids:
        while not stop.is_set():
            try:
                if smtp is None:
                    smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
                    smtp.ehlo("client.partner.example.net")
                if send_one(smtp, n, tally):
                    break
            except (smtplib.SMTPException, OSError):
                if smtp is not None:
                    smtp.close()
                smtp = None
                stop.wait(0.1)  # the gateway is down or restarting: ask again soon
    if smtp is not None:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def wait_for(condition: Callable[[], bool], seconds: float) -> None:
    """Wait ``seconds``, or less if ``condition`` holds before."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_sigkill_of_the_process_group_loses_nothing_and_duplicates_within_bounds(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    hop_port, port = free_port(), free_port()
    data = tmp_path / "data"
    config = tmp_path / "mailward.toml"
    config.write_text(toml_config(
        data, port,
        f'inbound = "relay"\n[delivery.relay]\nhost = "127.0.0.1"\nport = {hop_port}\n',
        engine="scan_processes = 1",
    ))
    gw = GatewayProcess(config, port, data, tmp_path / "gateway.log", group=True,
                        start_timeout=120)
    tally = Tally()
    stop = threading.Event()
    started = time.monotonic()
    with next_hop(hop_port) as hop:
        gw.start()
        threads = [
            threading.Thread(target=client, args=(port, list(range(c, MESSAGES, CLIENTS)),
                                                  tally, stop), daemon=True)
            for c in range(CLIENTS)
        ]
        for t in threads:
            t.start()
        kills = 0
        try:
            for done_kills in range(KILLS):
                # the kills spread over the messages still to come (a faster gateway
                # acknowledges more of them around each kill and restart)
                left = MESSAGES - tally.acked_count()
                step = max(1, left // (KILLS - done_kills + 1))
                # messages kept back for the kills still to come: a fast gateway acknowledges
                # dozens in one random delay, and the clients must still be sending at the last
                ceiling = MESSAGES - RESERVE * (KILLS - done_kills)
                goal = min(tally.acked_count() + rng.randint(1, step), ceiling)
                wait_until(lambda g=goal: tally.acked_count() >= g
                           or not any(t.is_alive() for t in threads),
                           TIMEOUT, "the clients' next 250")
                if not any(t.is_alive() for t in threads):
                    break
                # the random instant of this kill, brought forward if the reserve is reached
                wait_for(lambda c=ceiling: tally.acked_count() >= c, rng.uniform(0, MAX_DELAY))
                gw.kill_group()
                kills += 1
                gw.start()
            for t in threads:
                t.join(TIMEOUT)
            assert not any(t.is_alive() for t in threads), "clients still sending"
            gw.wait_spool_empty(timeout=120)
        finally:
            stop.set()
            if gw.proc is not None:
                gw.stop()
        with hop.lock:
            contents = [content for _f, _r, content in hop.received]
    copies: dict[int, list[str]] = collections.defaultdict(list)  # message -> spool ids
    for content in contents:
        found, spooled = _MESSAGE_ID.search(content), _SPOOL_ID.search(content)
        assert found is not None and spooled is not None, content[:300]
        copies[int(found.group(1))].append(spooled.group(1).decode())
    lost = sorted(tally.acked - set(copies))
    # a second spool entry of one message: the client sent it again (after a cut reply only);
    # one spool entry relayed twice: the kill fell between the next hop's reply and the mark
    resent = {n: len(set(ids)) - 1 for n, ids in copies.items() if len(set(ids)) > 1}
    redelivered = {n: len(ids) - len(set(ids)) for n, ids in copies.items()
                   if len(ids) > len(set(ids))}
    unexplained = {n: k for n, k in resent.items() if k > tally.cut[n]}
    delivered = sum(len(ids) for ids in copies.values())
    print(f"\nchaos: {MESSAGES} messages sent by {CLIENTS} clients in {tally.attempts} "
          f"attempts, {len(tally.acked)} acknowledged, {delivered} delivered "
          f"({len(copies)} distinct), {len(lost)} lost, {delivered - len(copies)} duplicates: "
          f"{sum(resent.values())} sent again by a client after a reply cut by a kill "
          f"({sum(tally.cut.values())} replies cut), {sum(redelivered.values())} relayed twice "
          f"by the gateway; {kills} kills, {time.monotonic() - started:.0f} s")
    assert len(tally.acked) == MESSAGES
    assert lost == [], f"acknowledged but never delivered: {lost[:10]}"
    assert unexplained == {}, f"spooled twice without a cut reply: {unexplained}"
    # One re-relay per relay connection in flight at the kill (issue #16: "at most the one
    # message in flight per connection"): the gateway relays from `workers` spool workers at
    # once. On a quiet machine it is about one per eight kills; a CI run with both cores busy
    # saw 9 after 8 kills, more than one per kill but within one per connection.
    in_flight = Settings().engine.workers
    assert sum(redelivered.values()) <= kills * in_flight, (
        f"relayed twice by the gateway: {redelivered}")
    assert kills == KILLS
