"""File type from content, with libmagic, shared by all threads behind one lock.

The same bytes are often typed more than once in one scan (each reading of an ambiguous message
walks its attachments again; the lenient reading's decoders often agree), so the answers for the
last few distinct heads are kept (:data:`CACHE_SIZE`, keyed by the head's bytes).
"""

from __future__ import annotations

import functools
import threading

import magic

#: libmagic reads at most this much of a part; enough for every signature it knows.
SNIFF_BYTES = 65536
#: Distinct heads whose answers are kept (at most this many times SNIFF_BYTES of memory).
CACHE_SIZE = 64

_lock = threading.Lock()
_mime: magic.Magic | None = None
_desc: magic.Magic | None = None


def detect_type(content: bytes) -> tuple[str, str]:
    """(MIME type, description) libmagic finds in the first 64 KiB of ``content``."""
    return _detect(bytes(content[:SNIFF_BYTES]))


def detect_mime(content: bytes) -> str:
    """The MIME type libmagic finds in the first 64 KiB of ``content`` (half the work of
    :func:`detect_type`), "application/octet-stream" when libmagic fails on it. Where
    libmagic works, ``detect_type`` gives this type unless its description fails, and then
    "application/octet-stream"."""
    return _detect_mime(bytes(content[:SNIFF_BYTES]))


@functools.lru_cache(maxsize=CACHE_SIZE)
def _detect(head: bytes) -> tuple[str, str]:
    global _mime, _desc  # lazily built libmagic handles, shared by all threads
    with _lock:
        try:
            if _mime is None or _desc is None:
                _mime, _desc = magic.Magic(mime=True), magic.Magic()
            return str(_mime.from_buffer(head)), str(_desc.from_buffer(head))
        except (magic.MagicException, OSError, ValueError, UnicodeError):
            return "application/octet-stream", "data (libmagic could not tell)"


@functools.lru_cache(maxsize=CACHE_SIZE)
def _detect_mime(head: bytes) -> str:
    global _mime, _desc
    with _lock:
        try:
            if _mime is None or _desc is None:
                _mime, _desc = magic.Magic(mime=True), magic.Magic()
            return str(_mime.from_buffer(head))
        except (magic.MagicException, OSError, ValueError, UnicodeError):
            return "application/octet-stream"
