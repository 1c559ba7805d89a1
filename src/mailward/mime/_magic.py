"""File type from content, with libmagic, shared by all threads behind one lock."""

from __future__ import annotations

import threading

import magic

#: libmagic reads at most this much of a part; enough for every signature it knows.
SNIFF_BYTES = 65536

_lock = threading.Lock()
_mime: magic.Magic | None = None
_desc: magic.Magic | None = None


def detect_type(content: bytes) -> tuple[str, str]:
    """(MIME type, description) libmagic finds in the first 64 KiB of ``content``."""
    global _mime, _desc  # lazily built libmagic handles, shared by all threads
    head = content[:SNIFF_BYTES]
    with _lock:
        try:
            if _mime is None or _desc is None:
                _mime, _desc = magic.Magic(mime=True), magic.Magic()
            return str(_mime.from_buffer(head)), str(_desc.from_buffer(head))
        except (magic.MagicException, OSError, ValueError, UnicodeError):
            return "application/octet-stream", "data (libmagic could not tell)"
