"""libmagic answers are kept for recently typed heads (mailward.mime._magic)."""

from __future__ import annotations

from mailward.mime import _magic, detect_type

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"


def test_the_same_bytes_are_typed_once() -> None:
    first = detect_type(PDF + b"%cache-hit\n")
    hits = _magic._detect.cache_info().hits
    assert detect_type(PDF + b"%cache-hit\n") == first
    assert _magic._detect.cache_info().hits == hits + 1
    assert first[0] == "application/pdf"


def test_other_bytes_are_typed_anew() -> None:
    detect_type(PDF + b"%one\n")
    misses = _magic._detect.cache_info().misses
    assert detect_type(b"plain words, nothing else, miss\n")[0] == "text/plain"
    assert _magic._detect.cache_info().misses == misses + 1
