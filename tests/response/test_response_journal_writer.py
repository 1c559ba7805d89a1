"""The journal's driver writes (mailward.response._writer) against the Core statements they
replace: the same rows, the same hunts; batches, duplicates in a batch, old zlib rows."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).parent))
from test_response_journal import T0, make_entry

from mailward.response import _raw, _writer
from mailward.response._schema import journal_raw
from mailward.response.indicators import normalise_indicator
from mailward.response.journal import Journal, JournalEntry, _Item

TABLES = ("journal", "journal_indicators", "journal_copies")


def entries() -> list[JournalEntry]:
    """Entries of different shapes: links, a long link, no link, no raw bytes, one recipient
    twice, an unparsed message (envelope only), subjects sharing a fingerprint."""
    out = [
        make_entry("sp-0"),
        make_entry("sp-1", at=T0 + 60, subject="Invoice 4411 due",
                   link="https://pay.Example-Billing.test:8443/i?id=9",
                   message_id="<inv-1@billing.test>"),
        make_entry("sp-2", at=T0 + 120, link="https://files.example.net/" + "x" * 700,
                   sender="Boss <ceo@corp.example.org>"),
        make_entry("sp-3", at=T0 + 180, subject="INVOICE 9823  due", link="http://[2001:db8::1]/a"),
    ]
    out[3] = dataclasses.replace(out[3], raw=None)
    twice = make_entry("sp-4", at=T0 + 240)
    out.append(dataclasses.replace(twice, copies=(*twice.copies, twice.copies[0])))
    out.append(JournalEntry("sp-5", T0 + 300, "bounce@elsewhere.test", ("carol@corp.example.org",),
                            copies=(("carol@corp.example.org", "maildir:/srv/c"),), raw=b"\x00"))
    return out


def open_journal(tmp_path: Path, name: str, *, driver: bool) -> Journal:
    journal = Journal(f"sqlite:///{tmp_path / name / 'mailward.db'}")
    journal._driver_writes = driver  # False: every write through the Core statements
    return journal


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Journal, Journal]]:
    new, old = (open_journal(tmp_path, "new", driver=True),
                open_journal(tmp_path, "old", driver=False))
    yield new, old
    new.close()
    old.close()


def rows(journal: Journal) -> dict[str, list[tuple[object, ...]]]:
    with journal._tx("dump") as conn:
        out = {t: sorted(tuple(r) for r in conn.execute(text(f"SELECT * FROM {t}")))
               for t in TABLES}
        out["journal_raw"] = sorted(
            (r.journal_id, r.received_at, _raw.unpack(r.raw))
            for r in conn.execute(select(journal_raw)))
    return out


def hunts(journal: Journal, recorded: list[JournalEntry]) -> list[object]:
    """Every hunt the entries can answer, with every hit in full."""
    asked = []
    for entry in recorded:
        asked += [("sender", entry.mail_from), ("sender", entry.from_address),
                  ("sender_domain", entry.from_domain), ("message_id", entry.message_id),
                  ("subject_fp", entry.subject_fp)]
        asked += [("url", u) for u in entry.urls] + [("host", h) for h in entry.hosts]
        asked += [("domain", d) for d in entry.domains]
        asked += [("hash", h) for a in entry.attachments for h in (a.sha256, a.md5, a.sha1)]
    answers: list[object] = []
    for kind, value in sorted(set(asked)):
        if value and normalise_indicator(kind, value):
            answers.append((kind, value, [(h.to_json(), h.details)
                                          for h in journal.find(kind, value)]))
    for pattern in ("invoice", "*report*ready", "due"):
        answers.append([h.to_json() for h in journal.find_subject(pattern)])
    answers.append([(h.to_json(), journal.raw(h.journal_id)) for h in journal.iter_window()])
    return answers


def test_one_at_a_time_the_same_rows_and_hunts_as_the_core_statements(
    pair: tuple[Journal, Journal],
) -> None:
    new, old = pair
    recorded = entries()
    for entry in recorded:
        new.record(entry)
        old.record(entry)
    assert rows(new) == rows(old)
    answers = hunts(new, recorded)
    assert answers == hunts(old, recorded)
    assert sum(len(a[2]) for a in answers if isinstance(a, tuple)) > 20  # hunts do find


def test_a_batch_writes_what_one_at_a_time_writes(pair: tuple[Journal, Journal]) -> None:
    batched, old = pair
    recorded = entries()
    errors = batched._writes.run_all([_Item(e, None, _writer.prepare(e)) for e in recorded])
    assert errors == [None] * len(recorded)
    assert (batched._writes.batches, batched._writes.writes) == (1, len(recorded))
    for entry in recorded:
        old.record(entry)
    assert rows(batched) == rows(old)
    assert hunts(batched, recorded) == hunts(old, recorded)


def test_a_batch_with_an_entry_recorded_before_adds_its_new_copies_only(
    sqlite_journal: Journal,
) -> None:
    first, second = entries()[:2]
    sqlite_journal.record(dataclasses.replace(first, copies=first.copies[:1]))
    items = [_Item(e, None, _writer.prepare(e)) for e in (first, second)]
    assert sqlite_journal._writes.run_all(items) == [None, None]
    assert sqlite_journal.count() == 2
    (hit,) = sqlite_journal.find("message_id", first.message_id)
    assert [r for r, _ in hit.copies] == ["alice@corp.example.org", "bob@corp.example.org"]
    assert len(sqlite_journal.find("message_id", second.message_id)) == 1


def test_raw_rows_written_with_zlib_are_still_read(sqlite_journal: Journal) -> None:
    entry = make_entry()
    sqlite_journal.record(dataclasses.replace(entry, raw=None))
    (hit,) = sqlite_journal.find("message_id", entry.message_id)
    assert entry.raw is not None
    with sqlite_journal._tx("old row", write=True) as conn:
        conn.execute(journal_raw.insert(), {"journal_id": hit.journal_id, "received_at": T0,
                                            "raw": zlib.compress(entry.raw, 1)})
    assert sqlite_journal.raw(hit.journal_id) == entry.raw


@pytest.mark.parametrize("data", [b"", b"x", b"Subject: hi\r\n\r\n" * 500, bytes(range(256)) * 9])
def test_raw_pack_round_trip(data: bytes) -> None:
    packed = _raw.pack(data)
    assert packed[:4] == b"\x28\xb5\x2f\xfd"
    assert _raw.unpack(packed) == data
    assert _raw.unpack(zlib.compress(data, 6)) == data
    assert hashlib.sha256(_raw.unpack(packed)).digest() == hashlib.sha256(data).digest()


@pytest.fixture
def sqlite_journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(f"sqlite:///{tmp_path / 'data' / 'mailward.db'}")
    yield opened
    opened.close()
