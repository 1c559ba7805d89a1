"""Two `mailward serve` nodes on one PostgreSQL database and one Redis (docs/cluster.md): a
lockdown change on one is obeyed by the other within a second; every message is found exactly
once in the shared quarantine and journal; the held backlog is released from either node
exactly once, also when the node doing the release is killed in the middle of it.

Needs MAILWARD_TEST_PG_URL (a database of the test's own: its tables are dropped) and Redis on
127.0.0.1:6379 (a random key prefix per test); skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import smtplib
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.parser import BytesHeaderParser

import messages
import pytest
import redis
from gateway_harness import GatewayProcess, free_port, maildir_files, toml_config, wait_for_port
from sqlalchemy import Engine, MetaData, create_engine, text

pytestmark = pytest.mark.slow
PG_ENV = "MAILWARD_TEST_PG_URL"
REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class Node(GatewayProcess):
    """A gateway process with its own environment (data dir, port, node id) over the shared
    configuration file, in a process group of its own (its scan processes die with it)."""

    env: dict[str, str] | None = None

    def start(self, wait: bool = True) -> None:
        env = {**os.environ, **(self.env or {})}
        env.pop("MAILWARD_CONFIG", None)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mailward.cli.main", "-c", str(self.config), "serve"],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )
        if wait:
            self.wait_listening()

    def wait_listening(self) -> None:
        try:
            wait_for_port(self.port, timeout=60)
        except TimeoutError:
            self.stop()
            raise AssertionError("node did not start:\n" + self.log.read_text()) from None

    def kill_group(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def cli_start(self, *args: str) -> subprocess.Popen[bytes]:
        """A CLI command under way (it may outlive what it started)."""
        env = {**os.environ, **(self.env or {})}
        env.pop("MAILWARD_CONFIG", None)
        return subprocess.Popen(
            [sys.executable, "-m", "mailward.cli.main", "-c", str(self.config), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **(self.env or {})}
        env.pop("MAILWARD_CONFIG", None)
        return subprocess.run(
            [sys.executable, "-m", "mailward.cli.main", "-c", str(self.config), *args],
            capture_output=True, text=True, timeout=120, check=False, env=env,
        )


@dataclass
class Cluster:
    nodes: list[Node]
    pg_url: str
    prefix: str

    engine: Engine

    def sql(self, query: str) -> list[tuple[object, ...]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(query))]

    def count(self, query: str) -> int:
        return int(self.sql(query)[0][0])  # type: ignore[call-overload]

    def delivered(self) -> Counter[str]:
        """Message-ID of every delivered copy in every node's Maildirs (a repeat counts 2)."""
        found: Counter[str] = Counter()
        for node in self.nodes:
            for path in maildir_files(node.data_dir):
                head = BytesHeaderParser().parsebytes(path.read_bytes())
                found[mid(head["Message-ID"])] += 1
        return found


def mid(value: object) -> str:
    """A Message-ID without its angle brackets (as the store keeps it)."""
    return str(value).strip().strip("<>")


def wait_until(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _fresh_database(url: str) -> None:
    """Drop every table (the database is the test's own), waiting at most 20 s for locks."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '20s'"))
            meta = MetaData()
            meta.reflect(conn)
            meta.drop_all(conn)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two nodes for the module's tests (starting a node costs many seconds on a busy machine)."""
    tmp_path = tmp_path_factory.mktemp("cluster")
    pg_url = os.environ.get(PG_ENV)
    if not pg_url:
        pytest.skip(f"{PG_ENV} is not set (a PostgreSQL database of the test's own)")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"Redis does not answer at {REDIS_URL}")
    _fresh_database(pg_url)
    prefix = f"mwtest-{secrets.token_hex(6)}:"
    config = tmp_path / "mailward.toml"
    extra = f"""
[store]
url = "{pg_url}"
[lockdown]
release_batch_size = 2
release_rate = 2.0
[campaigns]
enabled = false
[cluster]
redis_url = "{REDIS_URL}"
key_prefix = "{prefix}"
lock_lease_seconds = 2.0
poll_seconds = 0.5
"""
    config.write_text(toml_config(tmp_path / "unused", 0, engine="workers = 2\nscan_processes = 1") + extra)
    nodes = []
    for name in ("node-a", "node-b"):
        port = free_port()
        env = {"MAILWARD__DATA_DIR": str(tmp_path / name), "MAILWARD__SMTP__LISTEN_PORT": str(port),
               "MAILWARD__CLUSTER__NODE_ID": name}
        nodes.append(Node(config, port, tmp_path / name, tmp_path / f"{name}.log", env=env))
    try:
        for node in nodes:  # both at once, then wait for both
            node.start(wait=False)
        for node in nodes:
            node.wait_listening()
        engine = create_engine(pg_url)
        yield Cluster(nodes, pg_url, prefix, engine)
        engine.dispose()
    finally:
        stop_all(nodes)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()


def stop_all(nodes: list[Node]) -> None:
    """SIGTERM every node at once, then wait for each (a node stops in seconds when busy)."""
    for node in nodes:
        if node.proc is not None:
            node.proc.terminate()
    for node in nodes:
        node.stop()  # waits for the exit (kills after 15 s)


def send(node: Node, msgs: list[object]) -> None:
    with smtplib.SMTP("127.0.0.1", node.port, timeout=60) as smtp:
        for msg in msgs:
            smtp.send_message(msg, from_addr="bob@partner.example.net")  # type: ignore[arg-type]


def notices(node: Node, level: str) -> list[float]:
    """Seconds from each change to ``level`` to this node's receipt of its notice (its log)."""
    pattern = re.compile(rf"lockdown notice: {level} from node \S+, ([0-9.]+) s after")
    return [float(m) for m in pattern.findall(node.log.read_text())]


def change_level(by: Node, other: Node, level: str) -> float:
    """Change the level on ``by``; the seconds until ``other`` heard of it."""
    before = len(notices(other, level))
    changed = by.cli("lockdown", level, "--reason", "incident", "--actor", "soc")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    wait_until(f"{other.data_dir.name} to hear of {level}",
               lambda: len(notices(other, level)) > before, 10)
    return notices(other, level)[-1]


def test_two_nodes_share_lockdown_quarantine_journal_and_release(cluster: Cluster) -> None:
    a, b = cluster.nodes
    send(a, [messages.clean(0), messages.executable()])
    send(b, [messages.clean(1)])
    wait_until("the first mail delivered and quarantined",
               lambda: sum(cluster.delivered().values()) == 2 and not a.spool_count()
               and not b.spool_count())

    lag = change_level(a, b, "hold-all")
    print(f"\nnode-b obeyed node-a's lockdown change {lag * 1000:.0f} ms after it")
    assert lag < 1.0

    held = [messages.clean(n) for n in range(100, 104)]
    send(b, held[:2])  # at once, on the node that did not make the change
    send(a, held[2:])
    wait_until("4 held in the shared store",
               lambda: cluster.count("select count(*) from held_mail where state='held'") == 4)
    assert sum(cluster.delivered().values()) == 2, "nothing delivered during the hold"

    # ordered on node b (the order is filed and announced; the running nodes release it)
    released = b.cli("lockdown", "release", "--detach", "--reason", "over", "--actor", "soc")
    assert released.returncode == 0, released.stdout + released.stderr
    wait_until("the release order done", lambda: cluster.count(
        "select count(*) from release_orders where done_at is null") == 0)
    assert cluster.count("select count(*) from held_mail where state='released'") == 4
    wait_until("the backlog delivered", lambda: sum(cluster.delivered().values()) == 6
               and not a.spool_count() and not b.spool_count())

    delivered = cluster.delivered()
    assert set(delivered.values()) == {1}, f"delivered twice: {delivered}"
    assert {mid(m["Message-ID"]) for m in held} <= set(delivered)
    quarantined = cluster.sql("select message_id from quarantine")
    assert [mid(q[0]) for q in quarantined] == ["exe@supplier.example.net"]
    journal = Counter(mid(r[0]) for r in cluster.sql("select message_id from journal"))
    assert journal == delivered, "each delivered message once in the journal"
    assert cluster.count("select count(*) from release_orders where done_at is null") == 0


def test_a_node_killed_during_a_release_loses_and_repeats_nothing(cluster: Cluster) -> None:
    a, b = cluster.nodes
    if cluster.sql("select level from lockdown_state") != [("hold-all",)]:
        change_level(a, b, "hold-all")
    backlog = [messages.clean(200 + n) for n in range(10)]
    send(a, backlog[:5])
    send(b, backlog[5:])
    wait_until("10 held in the shared store",
               lambda: cluster.count("select count(*) from held_mail where state='held'") == 10)

    # the CLI files the order and returns; the running nodes release (watched as it goes)
    filing = a.cli_start("lockdown", "release", "--detach", "--reason", "incident over")
    wait_until("the release order", lambda: cluster.count(
        "select count(*) from release_orders where done_at is null") == 1, 60)
    order = int(cluster.sql("select id from release_orders where done_at is null")[0][0])  # type: ignore[call-overload]
    released = f"select count(*) from held_mail where order_id = {order}"
    lock = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    lock_key = f"{cluster.prefix}lock:lockdown-release"
    holder: list[str] = []

    def releasing() -> bool:
        holder[:] = [str(lock.get(lock_key) or "")]
        return bool(holder[0]) and cluster.count(released) >= 3

    wait_until("a node releasing", releasing, 30)
    victim = a if holder[0].startswith("node-a:") else b
    survivor = b if victim is a else a
    victim.kill_group()
    at_kill = cluster.count(released)
    assert filing.wait(120) == 0
    assert at_kill < 10, "the node was to be killed in the middle of the release"
    wait_until("the survivor to take the release over", lambda: str(
        lock.get(lock_key) or "").startswith(f"{survivor.data_dir.name}:") or cluster.count(
        "select count(*) from release_orders where done_at is null") == 0, 30)
    victim.start(wait=False)  # starts while the survivor, holding the lock, finishes the order
    wait_until("the survivor to finish the order",
               lambda: cluster.count("select count(*) from release_orders where done_at is null")
               == 0, 60)
    assert cluster.count("select count(*) from held_mail where state='held'") == 0
    finished_by = cluster.sql(f"select done_by from release_orders where id = {order}")[0][0]
    assert finished_by == survivor.data_dir.name
    victim.wait_listening()  # what it had claimed but not delivered is in its spool
    wait_until("every spool empty", lambda: not a.spool_count() and not b.spool_count(), 60)
    wanted = {mid(m["Message-ID"]) for m in backlog}
    wait_until("all 10 delivered", lambda: wanted <= set(cluster.delivered()), 30)
    delivered = cluster.delivered()
    lost = wanted - set(delivered)
    twice = [m for m, n in delivered.items() if n > 1]
    print(f"\nkilled {victim.data_dir.name} after {at_kill} of 10 released; "
          f"{survivor.data_dir.name} finished: lost {len(lost)}, twice {len(twice)}")
    assert not lost and not twice
    lock.close()
