"""The documents detector's shortcuts give the answers of the full work: the search-ms: test
on raw bytes, the PDF name counts by window, one analysis per distinct attachment."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest
from helpers_detectors import attachment, make_message, run

from mailward.detectors import _documents_pdf, documents
from mailward.detectors._documents_base import DocHit, shorten
from mailward.detectors._documents_misc import _SEARCH_MS, _text, analyse_shortcut
from mailward.detectors.documents import DocumentDetector
from mailward.model import Attachment

_NAME = re.compile(rb"/([A-Za-z0-9#_.\-]{1,64})")
_HEX = re.compile(rb"#([0-9A-Fa-f]{2})")


def search_by_decoding(content: bytes) -> str | None:
    """What the search-ms: test finds when the head is always decoded (the reference)."""
    text = _text(content[:65536])
    if text.lstrip()[:10].lower().startswith("search-ms:"):
        return None
    found = _SEARCH_MS.search(text)
    return None if found is None else found.group(0)


def search_found(content: bytes) -> str | None:
    hits = analyse_shortcut(content)
    return hits[0].evidence[0] if hits else None


SEARCH_SAMPLES = [
    b'<a href="search-ms:query=x&crumb=location:\\\\198.51.100.7\\s">',
    b'<a href="SEARCH-MS:query=x">',
    '<a href="\u017fearch-m\u017f:query=x">'.encode(),  # long s: matches "s" ignoring case
    '<a href="search-ms:query=x">'.encode("utf-16"),  # with its byte-order mark
    b"\xef\xbb\xbf  search-ms:query=itself",
    b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 300,
    b"search-m\xc5\xbf:x",
    b"\xe2search-ms:x",
    b"earch-ms: no s before",
    b"x" * 65530 + b"search-ms:cut",  # cut at 64 KiB: not in the head
]


@pytest.mark.parametrize("content", SEARCH_SAMPLES, ids=range(len(SEARCH_SAMPLES)))
def test_search_ms_shortcut_on_bytes_agrees_with_decoding_the_head(content: bytes) -> None:
    expected = search_by_decoding(content)
    assert search_found(content) == (None if expected is None else shorten(expected))


def test_search_ms_shortcut_agrees_on_random_mixtures() -> None:
    pieces = [b"search-ms:", b"SeArCh-Ms:", b"\xc5\xbf", b"earch-m", b"s", b":", b"\xff\xfe",
              b"\xfe\xff", b" ", b"\x00", b"\xe2", b"q=1", b"\xc5", b"\xbf"]  # fmt: skip
    rng = random.Random(15)
    for _ in range(3000):
        content = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        expected = search_by_decoding(content)
        assert (search_found(content) is None) == (expected is None), content


def counts_one_by_one(content: bytes) -> Counter[str]:
    """token_counts as every name is decoded in turn (the reference)."""
    counts: Counter[str] = Counter()
    for match in _NAME.finditer(content):
        raw = match.group(1)
        name = _HEX.sub(lambda m: bytes([int(m.group(1), 16)]), raw) if b"#" in raw else raw
        if name.decode("latin-1") in _documents_pdf._TOKENS:
            counts[name.decode("latin-1")] += 1
    return counts


@pytest.mark.parametrize("window", [1, 5, 64, 256 * 1024])
def test_pdf_name_counts_by_window_equal_one_by_one(
    window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_documents_pdf, "_NAME_WINDOW", window)
    pieces = [b"/", b"JS", b"JavaScript", b"#4a", b"#53", b"#4A#53", b"A", b" ", b"Launch",
              b"OpenAction", b"x" * 70, b"Embedded", b"Files", b"File", b"#", b"\x00", b"/AA"]  # fmt: skip
    rng = random.Random(window)
    for _ in range(2000):
        content = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        assert _documents_pdf.token_counts(content) == counts_one_by_one(content), content


def test_the_same_file_attached_twice_is_analysed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    lnk = b"L\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00F" + bytes(56)
    analysed: list[Attachment] = []
    real = documents.analyse_attachment

    def spy(att: Attachment, *args: int) -> list[DocHit]:
        analysed.append(att)
        return real(att, *args)

    monkeypatch.setattr(documents, "analyse_attachment", spy)
    first, second = attachment("a.lnk", lnk), attachment("b.lnk", lnk)
    other = attachment("c.lnk", lnk + b"\x00")
    msg = make_message(attachments=(first, second, other))
    (found,) = run(DocumentDetector(DocumentDetector.Settings()), msg)
    assert [a.filename for a in analysed] == ["a.lnk", "c.lnk"]
    assert found.symbol == "DOC_SHORTCUT"
    assert '"a.lnk"' in found.explanation and "(2 more attachments too)" in found.explanation
