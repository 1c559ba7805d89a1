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
#: Distinct heads whose answers are kept, by each of the two caches (type and description,
#: type alone): at most twice this many times SNIFF_BYTES of memory, mostly shared.
CACHE_SIZE = 64

_lock = threading.Lock()
_mime: magic.Magic | None = None
_desc: magic.Magic | None = None
#: What a head libmagic fails on is typed as.
_FAILED = ("application/octet-stream", "data (libmagic could not tell)")


def detect_type(content: bytes) -> tuple[str, str]:
    """(MIME type, description) libmagic finds in the first 64 KiB of ``content``."""
    return _detect(bytes(content[:SNIFF_BYTES]))


def detect_mime(content: bytes) -> str:
    """The MIME type libmagic finds in the first 64 KiB of ``content`` (half the work of
    :func:`detect_type`), "application/octet-stream" when libmagic fails on it. Where
    libmagic works, ``detect_type`` gives this type unless its description fails, and then
    "application/octet-stream"."""
    mime = _mime_of(bytes(content[:SNIFF_BYTES]))
    return "application/octet-stream" if mime is None else mime


def _handles() -> tuple[magic.Magic, magic.Magic]:
    """The libmagic handles (MIME type, description), built on first use; call with the
    lock held."""
    global _mime, _desc  # lazily built libmagic handles, shared by all threads
    if _mime is None or _desc is None:
        _mime, _desc = magic.Magic(mime=True), magic.Magic()
    return _mime, _desc


@functools.lru_cache(maxsize=CACHE_SIZE)
def _detect(head: bytes) -> tuple[str, str]:
    # the type comes from the cache the type-only question fills (a head is often asked
    # that first: the lenient reading's noise test), so libmagic types it once
    mime = _mime_of(head)
    if mime is None:
        return _FAILED
    with _lock:
        try:
            return mime, str(_handles()[1].from_buffer(head))
        except (magic.MagicException, OSError, ValueError, UnicodeError):
            return _FAILED


@functools.lru_cache(maxsize=CACHE_SIZE)
def _mime_of(head: bytes) -> str | None:
    """libmagic's MIME type of ``head``, None when libmagic fails on it."""
    with _lock:
        try:
            return str(_handles()[0].from_buffer(head))
        except (magic.MagicException, OSError, ValueError, UnicodeError):
            return None
