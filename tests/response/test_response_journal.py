"""The delivery journal: record, find by each indicator kind, windows, idempotence, retention."""

from __future__ import annotations

import dataclasses
import email.policy
import functools
import hashlib
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "store"))
from dbreset import BACKENDS, empty_postgres, pg_url  # as tests/store: PostgreSQL too when set

from mailward.config.settings import LimitSettings
from mailward.errors import StoreError
from mailward.mime import parse_message
from mailward.model import Action, Envelope, Verdict
from mailward.response.indicators import (
    entry_from_message,
    maildir_location,
    normalise_indicator,
    relay_location,
    subject_fingerprint,
)
from mailward.response.journal import Journal, JournalEntry, SideWrite
from mailward.store.history import SenderStats, SqlSenderHistory

T0 = 1_750_000_000.0
ATTACHMENT = b"%PDF-1.4 quarterly figures, built for this test\n"


def build_message(
    subject: str = "Quarterly report 2024 ready",
    sender: str = "Reports Team <reports@news.partner-mail.test>",
    link: str = "https://Files.Share-Docs.example.co.uk/d/8812?ref=mail",
    message_id: str = "<q-2024@news.partner-mail.test>",
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "alice@corp.example.org"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content(f"The report is here: {link}\n")
    msg.add_alternative(f'<p>Open <a href="{link}">the report</a>.</p>', subtype="html")
    msg.add_attachment(ATTACHMENT, maintype="application", subtype="pdf", filename="q.pdf")
    return msg.as_bytes(policy=email.policy.SMTP)


def make_entry(spool_id: str = "sp-1", at: float = T0, **kw: object) -> JournalEntry:
    raw = build_message(**kw)  # type: ignore[arg-type]
    envelope = Envelope(
        mail_from="bounce@mailer.partner-mail.test",
        rcpt_tos=("alice@corp.example.org", "bob@corp.example.org"),
        peer_ip="192.0.2.7", received_at=at,
    )
    parsed = parse_message(raw, LimitSettings())
    copies = {
        "alice@corp.example.org": maildir_location("/srv/mail/alice/new/x"),
        "bob@corp.example.org": relay_location("mx.corp.example.org"),
    }
    verdict = Verdict(Action.DELIVER, 1.5, "below thresholds")
    return entry_from_message(spool_id, raw, envelope, verdict, copies, parsed)




@pytest.fixture(params=BACKENDS)
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Journal]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'mailward.db'}"
    else:
        url = pg_url()
        empty_postgres(url)
    opened = Journal(url)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(f"sqlite:///{tmp_path / 'data' / 'mailward.db'}")
    yield opened
    opened.close()


# --- building entries ------------------------------------------------------------------------


def test_entry_from_message_collects_indicators() -> None:
    entry = make_entry()
    assert entry.from_address == "reports@news.partner-mail.test"
    assert entry.from_domain == "news.partner-mail.test"
    assert entry.urls == ("files.share-docs.example.co.uk/d/8812?ref=mail",)
    assert entry.hosts == ("files.share-docs.example.co.uk",)
    assert entry.domains == ("example.co.uk",)
    (att,) = entry.attachments
    assert att.filename == "q.pdf"
    assert att.sha256 == hashlib.sha256(ATTACHMENT).hexdigest()
    assert att.md5 == hashlib.md5(ATTACHMENT).hexdigest()
    assert att.sha1 == hashlib.sha1(ATTACHMENT).hexdigest()
    assert dict(entry.copies)["bob@corp.example.org"] == "relay:mx.corp.example.org"


def test_entry_from_unparseable_bytes_keeps_envelope() -> None:
    envelope = Envelope("x@sender.test", ("alice@corp.example.org",), received_at=T0)
    entry = entry_from_message("sp-x", b"\x00" * 10, envelope, Verdict(Action.DELIVER, 0, ""))
    assert entry.mail_from == "x@sender.test"
    assert entry.urls == () and entry.attachments == ()


def test_subject_fingerprint_ignores_digits_case_and_spacing() -> None:
    assert subject_fingerprint("Invoice 4411  due") == subject_fingerprint("INVOICE 9823 due")
    assert len(subject_fingerprint("x")) == 16
    assert subject_fingerprint("Invoice 4411 due") != subject_fingerprint("Receipt 4411 due")


def test_unknown_kind_is_refused(journal: Journal) -> None:
    with pytest.raises(ValueError, match="unknown indicator kind"):
        journal.find("colour", "red")


# --- record and find -------------------------------------------------------------------------

KIND_CASES = [
    ("url", "http://files.share-docs.example.co.uk:80/d/8812?ref=mail",
     "https://files.share-docs.example.co.uk/d/8813?ref=mail"),
    ("domain", "EXAMPLE.co.uk", "example.com"),
    ("host", "files.share-docs.example.co.uk", "share-docs.example.co.uk"),
    ("hash", hashlib.sha256(ATTACHMENT).hexdigest().upper(), "ab" * 32),
    ("hash", hashlib.md5(ATTACHMENT).hexdigest(), "cd" * 16),
    ("hash", hashlib.sha1(ATTACHMENT).hexdigest(), "ef" * 20),
    ("sender", "Reports@News.Partner-Mail.test", "reports@partner-mail.test"),
    ("sender", "<bounce@mailer.partner-mail.test>", "bounce@partner-mail.test"),
    ("sender_domain", "news.partner-mail.test", "partner-mail.test"),
    ("sender_domain", "mailer.partner-mail.test", "other.test"),
    ("subject_fp", subject_fingerprint("quarterly REPORT 1999 ready"),
     subject_fingerprint("Quarterly report ready")),
    ("message_id", "q-2024@news.partner-mail.test", "<q-2025@news.partner-mail.test>"),
]


@pytest.mark.parametrize(("kind", "hit", "miss"), KIND_CASES)
def test_find_each_kind_hit_and_miss(journal: Journal, kind: str, hit: str, miss: str) -> None:
    journal.record(make_entry())
    (found,) = journal.find(kind, hit)
    assert found.spool_id == "sp-1"
    assert found.subject == "Quarterly report 2024 ready"
    assert found.mail_from == "bounce@mailer.partner-mail.test"
    assert found.copies == (
        ("alice@corp.example.org", "maildir:/srv/mail/alice/new/x"),
        ("bob@corp.example.org", "relay:mx.corp.example.org"),
    )
    assert found.matched == (f"{kind}:{normalise_indicator(kind, hit)}",)
    assert journal.find(kind, miss) == []


def test_raw_is_kept_as_received(journal: Journal) -> None:
    entry = make_entry()
    journal.record(entry)
    (hit,) = journal.find("sender", "reports@news.partner-mail.test")
    assert journal.raw(hit.journal_id) == entry.raw
    assert journal.raw(hit.journal_id + 1000) is None


def test_long_url_is_found_through_its_digest(journal: Journal) -> None:
    long_link = "https://files.share-docs.example.co.uk/" + "a" * 900
    journal.record(make_entry(link=long_link))
    assert len(journal.find("url", long_link)) == 1
    assert journal.find("url", long_link + "b") == []


def test_record_is_idempotent_by_spool_id(journal: Journal) -> None:
    entry = make_entry()
    journal.record(entry)
    journal.record(entry)
    assert journal.count() == 1
    assert len(journal.find("domain", "example.co.uk")) == 1


def test_record_again_adds_only_new_copies(journal: Journal) -> None:
    first = make_entry()
    alice_only = dataclasses.replace(first, copies=first.copies[:1])
    journal.record(alice_only)
    (hit,) = journal.find("domain", "example.co.uk")
    assert [r for r, _ in hit.copies] == ["alice@corp.example.org"]
    journal.record(first)
    (hit,) = journal.find("domain", "example.co.uk")
    assert [r for r, _ in hit.copies] == ["alice@corp.example.org", "bob@corp.example.org"]


def test_time_window_filters(journal: Journal) -> None:
    for n in range(3):
        journal.record(make_entry(f"sp-{n}", at=T0 + n * 3600))
    all_hits = journal.find("domain", "example.co.uk")
    assert [h.spool_id for h in all_hits] == ["sp-2", "sp-1", "sp-0"]  # newest first
    window = journal.find("domain", "example.co.uk", since=T0 + 1800, until=T0 + 7200)
    assert [h.spool_id for h in window] == ["sp-1"]
    assert journal.find("domain", "example.co.uk", since=T0 + 3 * 3600) == []
    assert len(journal.find("domain", "example.co.uk", limit=2)) == 2


def test_find_subject(journal: Journal) -> None:
    journal.record(make_entry("sp-a", subject="Your 100% refund is waiting"))
    journal.record(make_entry("sp-b", subject="Team lunch on Friday"))
    assert [h.spool_id for h in journal.find_subject("REFUND is")] == ["sp-a"]
    assert [h.spool_id for h in journal.find_subject("your*waiting")] == ["sp-a"]
    assert [h.spool_id for h in journal.find_subject("100%")] == ["sp-a"]
    assert journal.find_subject("10_%") == []  # _ and % are literal, not wildcards
    assert journal.find_subject("invoice") == []
    assert journal.find_subject("lunch", since=T0 + 1) == []


def test_iter_window_walks_in_batches_oldest_first(journal: Journal) -> None:
    for n in range(5):
        journal.record(make_entry(f"sp-{n}", at=T0 + n))
    walked = [h.spool_id for h in journal.iter_window(T0 + 1, T0 + 4, batch=2)]
    assert walked == ["sp-1", "sp-2", "sp-3"]
    assert [h.spool_id for h in journal.iter_window(batch=2)] == [f"sp-{n}" for n in range(5)]


def test_get_returns_details(journal: Journal) -> None:
    journal.record(make_entry())
    (hit,) = journal.find("sender", "reports@news.partner-mail.test")
    got = journal.get(hit.journal_id)
    assert got is not None
    assert got.details["hosts"] == ["files.share-docs.example.co.uk"]
    assert journal.get(hit.journal_id + 1) is None


# --- retention -------------------------------------------------------------------------------


def test_purge_drops_old_raw_but_keeps_indicators(journal: Journal) -> None:
    journal.record(make_entry("old", at=T0))
    journal.record(make_entry("new", at=T0 + 86400))
    assert journal.purge(older_than=T0 + 3600) == 1
    by_id = {h.spool_id: h for h in journal.find("domain", "example.co.uk")}
    assert set(by_id) == {"old", "new"}  # both still found
    assert journal.raw(by_id["old"].journal_id) is None
    assert journal.raw(by_id["new"].journal_id) is not None
    assert journal.purge(older_than=T0 + 3600) == 0


def test_purge_entries_drops_everything_older(journal: Journal) -> None:
    journal.record(make_entry("old", at=T0))
    journal.record(make_entry("new", at=T0 + 86400))
    assert journal.purge_entries(older_than=T0 + 3600) == 1
    assert [h.spool_id for h in journal.find("domain", "example.co.uk")] == ["new"]
    assert journal.count() == 1


def test_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError):
        Journal("mysql://nowhere/db")


# --- the subject index ------------------------------------------------------------------------


def _fts_rows(journal: Journal) -> int:
    from sqlalchemy import text

    with journal._engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM journal_subject_fts")).scalar_one())


def test_subject_hunt_uses_the_trigram_index(sqlite_journal: Journal) -> None:
    journal = sqlite_journal
    from sqlalchemy import text

    journal.record(make_entry("sp-a", subject="Payroll update required"))
    assert journal._subject_fts
    with journal._engine.connect() as conn:
        plan = conn.execute(text(
            "EXPLAIN QUERY PLAN SELECT rowid FROM journal_subject_fts WHERE subject LIKE '%roll%'"
        )).fetchall()
    assert any("VIRTUAL TABLE INDEX" in str(row) for row in plan)
    assert [h.spool_id for h in journal.find_subject("ROLL upd")] == ["sp-a"]
    assert [h.spool_id for h in journal.find_subject("ro")] == ["sp-a"]  # too short: a scan


def test_subject_index_follows_deletions(sqlite_journal: Journal) -> None:
    journal = sqlite_journal
    journal.record(make_entry("old", at=T0, subject="Payroll update required"))
    journal.record(make_entry("new", at=T0 + 86400, subject="Payroll update again"))
    assert _fts_rows(journal) == 2
    journal.purge_entries(older_than=T0 + 3600)
    assert _fts_rows(journal) == 1
    assert [h.spool_id for h in journal.find_subject("payroll")] == ["new"]


def test_a_journal_made_before_the_index_gets_it_filled(tmp_path: Path) -> None:
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    first = Journal(url)
    first.record(make_entry("sp-a", subject="Wire transfer today"))
    with first._engine.begin() as conn:  # as a journal from before the index existed
        for name in ("journal_subject_ai", "journal_subject_ad"):
            conn.execute(text(f"DROP TRIGGER {name}"))
        conn.execute(text("DROP TABLE journal_subject_fts"))
    first.close()
    reopened = Journal(url)
    try:
        assert [h.spool_id for h in reopened.find_subject("transfer")] == ["sp-a"]
    finally:
        reopened.close()


def test_short_patterns_fall_back_to_a_scan() -> None:
    from mailward.response._subject_index import indexable

    assert indexable("%pay%") and indexable("%a%bcd%")
    assert not indexable("%ab%") and not indexable("%a_b%c%")


def test_broad_subject_patterns_walk_newest_first(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailward.response import _subject_index

    for n in range(4):
        journal.record(make_entry(f"sp-{n}", at=T0 + n, subject=f"Payroll notice {n}"))
    journal.record(make_entry("other", at=T0 + 9, subject="Team lunch"))
    monkeypatch.setattr(_subject_index, "BROAD", 3)  # four matches: broad
    assert [h.spool_id for h in journal.find_subject("payroll", limit=2)] == ["sp-3", "sp-2"]
    monkeypatch.setattr(_subject_index, "BROAD", 50)  # the same answer through the index
    assert [h.spool_id for h in journal.find_subject("payroll", limit=2)] == ["sp-3", "sp-2"]


def test_patterns_the_index_cannot_take() -> None:
    from mailward.response._subject_index import indexed_like

    assert indexed_like("Pay*roll") == "%Pay%roll%"
    assert indexed_like("100% off") is None  # a literal % needs ESCAPE, which FTS5 ignores
    assert indexed_like("a*b") is None


def test_by_spool_ids(journal: Journal) -> None:
    journal.record(make_entry("sp-1", T0))
    journal.record(make_entry("sp-2", T0 + 5))
    assert [h.spool_id for h in journal.by_spool_ids(["sp-1", "sp-2"])] == ["sp-2", "sp-1"]
    assert journal.by_spool_ids(["sp-9"]) == []
    assert journal.by_spool_ids([]) == []


# --- a write beside the entry (the sender history's sighting) --------------------------------


def _history_beside(journal: Journal) -> tuple[SqlSenderHistory, SideWrite]:
    history = SqlSenderHistory(journal.url)
    side = SideWrite(functools.partial(history.record_in, address="reports@partner.test",
                                       at=T0),
                     functools.partial(history.record_sync, "reports@partner.test", T0))
    return history, side


def test_side_write_is_committed_with_the_entry(journal: Journal) -> None:
    history, side = _history_beside(journal)
    journal.record(make_entry(), side)
    assert journal.count() == 1
    assert history.seen_sync("reports@partner.test") == SenderStats(T0, T0, 1)
    history.close()


def test_side_write_is_made_alone_when_the_entry_was_journaled_before(journal: Journal) -> None:
    history, side = _history_beside(journal)
    entry = make_entry()
    journal.record(entry)
    journal.record(entry, side)  # the insert is refused: the entry the careful way, the side alone
    assert journal.count() == 1
    assert history.seen_sync("reports@partner.test") == SenderStats(T0, T0, 1)
    history.close()


def test_failing_side_write_never_loses_the_entry(journal: Journal) -> None:
    def broken(*_args: object) -> None:
        raise StoreError("history is down")

    journal.record(make_entry(), SideWrite(broken, broken))
    assert journal.count() == 1
