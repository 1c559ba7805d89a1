"""expand(): each member's head typed by libmagic once, and an attachment's known type reused;
the types found are those libmagic gives the bytes."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any

import magic
import pytest
from helpers_archives import MB, build

from mailward.attachments import ArchiveLimits, _expand, expand
from mailward.mime import SNIFF_BYTES, detect_type

#: A text larger than one libmagic head (so the head is typed while the member is read).
LONG_TEXT = b"".join(b"CONFIG_OPTION_%06d=y\n" % i for i in range(8000))


def counted(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bytes every detect_type call of the expansion got."""
    calls: list[bytes] = []
    real: Callable[[bytes], tuple[str, str]] = _expand.detect_type

    def spy(content: bytes) -> tuple[str, str]:
        calls.append(bytes(content[:SNIFF_BYTES]))
        return real(content)

    monkeypatch.setattr(_expand, "detect_type", spy)
    return calls


def libmagic(content: bytes) -> tuple[str, str]:
    head = content[:SNIFF_BYTES]
    return magic.from_buffer(head, mime=True), magic.from_buffer(head)


def essentials(result: Any) -> tuple[Any, ...]:
    members = tuple(
        (m.chain, m.size, m.sha256, m.detected_type, m.detected_description, m.content)
        for m in result.members
    )
    return (members, result.archives, result.images, result.limit_hit, result.errors)


def test_a_member_over_one_head_is_typed_once_with_libmagics_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert len(LONG_TEXT) > SNIFF_BYTES
    archive = gzip.compress(LONG_TEXT)
    calls = counted(monkeypatch)
    (member,) = expand(archive, "kernel.config.gz").members
    assert member.content == LONG_TEXT
    assert (member.detected_type, member.detected_description) == libmagic(LONG_TEXT)
    assert calls.count(LONG_TEXT[:SNIFF_BYTES]) == 1  # not once more for the Member
    assert len(calls) == 2  # the attachment, then its member


def test_small_and_large_members_in_one_archive_keep_their_own_types() -> None:
    small = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    tar = build("ustar", [("big.txt", LONG_TEXT), ("small.pdf", small), ("b2.txt", LONG_TEXT)])
    big, pdf, again = expand(tar, "bundle.tar").members
    assert (big.detected_type, big.detected_description) == libmagic(LONG_TEXT)
    assert (pdf.detected_type, pdf.detected_description) == libmagic(small)
    assert (again.detected_type, again.detected_description) == libmagic(LONG_TEXT)


def test_a_large_member_that_is_itself_an_archive_is_kept_whole_and_opened() -> None:
    inner = build("ustar", [("log.txt", LONG_TEXT * 20)])  # over keep_bytes, tar by content
    assert len(inner) > ArchiveLimits().keep_bytes
    outer = build("zip", [("inner.tar", inner)])
    result = expand(outer, "outer.zip")
    assert [m.chain for m in result.members] == [
        ("outer.zip", "inner.tar"),
        ("outer.zip", "inner.tar", "log.txt"),
    ]
    assert result.members[0].content == inner and not result.members[0].truncated
    assert result.members[1].truncated and len(result.members[1].content) == MB


def test_a_given_type_is_used_instead_of_typing_the_attachment_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    archive = gzip.compress(LONG_TEXT)
    known = detect_type(archive)
    plain = expand(archive, "a.gz")
    calls = counted(monkeypatch)
    given = expand(archive, "a.gz", detected=known)
    assert archive[:SNIFF_BYTES] not in calls
    assert essentials(given) == essentials(plain)
