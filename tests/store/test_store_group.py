"""Group transactions: concurrent writes share a transaction; a failed batch is redone write by
write, each caller getting its own outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from mailward.store._engine import build_engine, transaction
from mailward.store._group import GroupTransaction


@pytest.fixture
def engine_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    engine = build_engine(url)
    with transaction(engine, "create", write=True) as conn:
        conn.exec_driver_sql("CREATE TABLE t (k INTEGER PRIMARY KEY)")
    engine.dispose()
    return url


class Recorder:
    """A GroupTransaction over table t whose first batch waits until ``arrived`` writers are
    queued, so the test knows a batch formed."""

    def __init__(self, url: str) -> None:
        self.engine = build_engine(url)
        self.batches: list[list[int]] = []
        self.alone: list[int] = []
        self.group: GroupTransaction[int] = GroupTransaction(self._begin, self._write,
                                                             self._alone)

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        with transaction(self.engine, "write", write=True) as conn:
            yield conn

    def _write(self, conn: Connection, items: list[int]) -> None:
        self.batches.append(list(items))
        for k in items:
            conn.execute(text("INSERT INTO t (k) VALUES (:k)"), {"k": k})

    def _alone(self, k: int) -> None:
        self.alone.append(k)
        with self._begin() as conn:
            conn.execute(text("INSERT INTO t (k) VALUES (:k)"), {"k": k})

    def keys(self) -> list[int]:
        with self._begin() as conn:
            return [int(r[0]) for r in conn.execute(text("SELECT k FROM t ORDER BY k"))]


def _run_together(rec: Recorder, keys: list[int]) -> dict[int, BaseException | None]:
    """Run a first writer that holds the leader's seat until the others are queued."""
    outcome: dict[int, BaseException | None] = {}
    gate = threading.Event()
    real_alone = rec._alone

    def first_alone(k: int) -> None:  # the first leader writes alone, once the rest queue up
        gate.wait(5)
        real_alone(k)

    rec.group._alone = first_alone

    def go(k: int) -> None:
        try:
            rec.group.run(k)
            outcome[k] = None
        except BaseException as exc:
            outcome[k] = exc

    first = threading.Thread(target=go, args=(keys[0],))
    first.start()
    while not rec.group._running:
        time.sleep(0.001)
    others = [threading.Thread(target=go, args=(k,)) for k in keys[1:]]
    for t in others:
        t.start()
    while len(rec.group._pending) < len(others):
        time.sleep(0.001)
    rec.group._alone = real_alone
    gate.set()
    for t in [first, *others]:
        t.join(10)
    return outcome


def test_waiting_writes_share_one_transaction(engine_url: str) -> None:
    rec = Recorder(engine_url)
    outcome = _run_together(rec, [1, 2, 3, 4])
    assert outcome == {1: None, 2: None, 3: None, 4: None}
    assert rec.keys() == [1, 2, 3, 4]
    assert sorted(rec.batches[0]) == [2, 3, 4]  # the three queued behind the first: one batch


def test_a_failed_batch_is_redone_write_by_write(engine_url: str) -> None:
    rec = Recorder(engine_url)
    rec.group.run(3)  # a lone write goes straight to alone
    assert rec.alone == [3] and rec.batches == []
    outcome = _run_together(rec, [1, 2, 3, 4])  # 3 again: the batch (2, 3, 4) fails
    assert outcome[1] is None and outcome[2] is None and outcome[4] is None
    assert outcome[3] is not None  # only the duplicate's caller sees the error
    assert rec.keys() == [1, 2, 3, 4]
