"""ArchiveDetector: a file attached twice under one name is expanded once, in one thread hop
for all the attachments, and every expansion is published for the later stages."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from helpers_detectors import attachment, by_symbol, context, make_message

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "attachments"))
from helpers_archives import WINDOWS_JS, zipped

from mailward.attachments import ExpansionResult
from mailward.detectors import archives
from mailward.detectors.archives import ArchiveDetector


def test_the_same_archive_twice_is_expanded_once_and_reported_for_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expanded: list[tuple[str | None, Any]] = []
    real = archives.expand

    def spy(content: bytes, name: str | None, *args: Any) -> ExpansionResult:
        expanded.append((name, args[-1]))
        return real(content, name, *args)

    monkeypatch.setattr(archives, "expand", spy)
    payload = zipped(("invoice.js", WINDOWS_JS))
    first, again = attachment("invoice.zip", payload), attachment("invoice.zip", payload)
    renamed = attachment("copy.zip", payload)
    other = attachment("other.zip", zipped(("run.js", WINDOWS_JS)))
    ctx = context()
    msg = make_message(attachments=(first, again, renamed, other))
    found = by_symbol(asyncio.run(ArchiveDetector(ArchiveDetector.Settings()).check(msg, ctx)))
    # once per distinct (content, name), with the type the parser found
    assert [name for name, _ in expanded] == ["invoice.zip", "copy.zip", "other.zip"]
    assert expanded[0][1] == (first.detected_type, first.detected_description)
    hit = found["ATT_ARCHIVE_EXECUTABLE"]
    assert hit.evidence == (
        "invoice.zip > invoice.js",
        "copy.zip > invoice.js",
        "other.zip > run.js",
    )
    assert "(3 more)" in hit.explanation  # the attachment twice counts twice, as before
    assert set(ctx.expansions) == {first.sha256, other.sha256}
    assert ctx.expansions[other.sha256].members[0].name == "run.js"


def test_attachments_out_of_time_are_not_published(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SimpleNamespace(monotonic=iter([0.0, 100.0]).__next__)  # deadline, then past it
    monkeypatch.setattr(archives, "time", clock)
    payload = zipped(("notes.txt", b"hello"))
    ctx = context()
    msg = make_message(attachments=(attachment("a.zip", payload),))
    found = by_symbol(asyncio.run(ArchiveDetector(ArchiveDetector.Settings()).check(msg, ctx)))
    assert found["ATT_ARCHIVE_TOO_COMPLEX"].evidence == ("a.zip",)
    assert ctx.expansions == {}
