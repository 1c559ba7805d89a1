"""Several stores on one database (the serve process and the CLI): shared writes, no races."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from mailward.store import MessageRecord, Store, open_store

RecordFactory = Callable[..., MessageRecord]
RCPTS = tuple(f"user{i}@example.org" for i in range(20))


def test_two_stores_see_each_others_writes(store_url: str, make_record: RecordFactory) -> None:
    serve, cli = open_store(store_url), open_store(store_url)
    try:
        serve.record_message(make_record("m"))
        serve.quarantine(make_record("q"), b"raw")
        assert cli.get_message("m") == make_record("m")
        assert cli.release("q", None, "cli-user", "ok") == make_record("q").rcpt_tos
        entry = serve.get_quarantine("q")
        assert entry is not None
        assert entry.status == "released"
        assert [line.actor for line in serve.audit_log("q")] == ["cli-user"]
    finally:
        serve.close()
        cli.close()


def test_concurrent_releases_release_each_recipient_once(
    store_url: str, make_record: RecordFactory
) -> None:
    stores = [open_store(store_url) for _ in range(4)]
    try:
        stores[0].quarantine(make_record("q", rcpt_tos=RCPTS), b"raw")

        def release(i: int) -> tuple[str, ...]:
            store: Store = stores[i % len(stores)]
            return store.release("q", [RCPTS[i % len(RCPTS)], RCPTS[-1]], f"a{i}", "race")

        with ThreadPoolExecutor(max_workers=8) as pool:
            released = [r for batch in pool.map(release, range(40)) for r in batch]
        assert sorted(released) == sorted(RCPTS)
        assert len(stores[1].audit_log("q")) == 40
    finally:
        for store in stores:
            store.close()
