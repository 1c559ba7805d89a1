"""Browsing the quarantine (the console's list): filters and keyset paging, on every backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mailward.store import MessageRecord, Store
from mailward.store.browse import QuarantineBrowser, QuarantineFilter, decode_cursor

RecordFactory = Callable[..., MessageRecord]


def test_paging_and_filters(store: Store, store_url: str, make_record: RecordFactory) -> None:
    for n in range(25):
        rcpts = ("a@example.com", "b@example.com") if n % 5 == 0 else ("a@example.com",)
        store.quarantine(make_record(f"m{n:03d}", received_at=1000.0 + n // 3, rcpt_tos=rcpts),
                         b"raw")
    store.release("m000", ["b@example.com"], "t", "r")  # partial
    store.delete("m001", None, "t", "r")
    browser = QuarantineBrowser(store_url)
    try:
        seen: list[str] = []
        cursor = None
        while True:
            page = browser.page(QuarantineFilter(status=None), cursor, limit=7)
            seen += [e.id for e in page.entries]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [f"m{n:03d}" for n in reversed(range(25))]
        held = browser.page(QuarantineFilter(), None, 100).entries
        assert {e.id for e in held} == {f"m{n:03d}" for n in range(2, 25)}
        assert [e.id for e in browser.page(QuarantineFilter(status="partial")).entries] == ["m000"]
        assert [e.id for e in browser.page(QuarantineFilter(status="deleted")).entries] == ["m001"]
        assert len(browser.page(QuarantineFilter(recipient="B@EXAMPLE", status=None)).entries) == 5
        whole = QuarantineFilter(recipient="B@example.com", status=None)  # index path
        assert len(browser.page(whole).entries) == 5
        some = QuarantineFilter(status=None, ids=("m003", "m017", "nope"))
        assert [e.id for e in browser.page(some).entries] == ["m017", "m003"]
        assert browser.page(QuarantineFilter(status=None, ids=())).entries == []
        with pytest.raises(ValueError):
            browser.page(QuarantineFilter(status="bogus"))
        with pytest.raises(ValueError):
            decode_cursor("!!")
    finally:
        browser.close()
