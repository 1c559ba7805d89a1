"""Indicator kinds and their match keys: the one place where a URL, domain, hash, address,
subject or Message-ID is turned into the value stored in (and looked up from) the journal's
indicator table, so recording and hunting always agree.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Literal, get_args

from mailward.feeds import normalise_domain, normalise_url

Kind = Literal[
    "url", "domain", "host", "hash", "sender", "sender_domain", "subject_fp", "message_id"
]
KINDS: tuple[str, ...] = get_args(Kind)

#: Longer keys are stored as a digest, so every key fits a portable B-tree index.
MAX_KEY_CHARS = 400

_DIGITS = re.compile(r"\d")
_SPACE = re.compile(r"\s+")
_HEX = re.compile(r"[0-9a-f]{32,128}")


def subject_fingerprint(subject: str) -> str:
    """Lower-case, digits as 0, whitespace collapsed, then the first 16 hex digits of SHA-1.

    "Invoice 4411 due" and "INVOICE  9823 due" share a fingerprint (campaign variants).
    """
    text = _SPACE.sub(" ", _DIGITS.sub("0", subject.lower())).strip()
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


def _address(value: str) -> str | None:
    value = value.strip().strip("<>").strip().lower()
    return value or None


def _cap(value: str) -> str:
    if len(value) <= MAX_KEY_CHARS:
        return value
    return "#sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=65536)
def normalise_indicator(kind: str, value: str) -> str | None:
    """The stored match key of ``value`` as an indicator of ``kind``; None when it is not one.

    url: scheme-less host[:port]/path[?query] (shared with the threat feeds); domain, host and
    sender_domain: lower-case ASCII (IDNA); hash: lower-case hex (MD5, SHA-1 or SHA-256);
    sender and message_id: lower-case without angle brackets; subject_fp: as given, lower case.
    Raises ValueError for an unknown kind. Cached: hosts and senders repeat a lot.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown indicator kind {kind!r}; use one of {', '.join(KINDS)}")
    key: str | None
    if kind == "url":
        key = normalise_url(value)
    elif kind in ("domain", "host", "sender_domain"):
        key = normalise_domain(value)
    elif kind == "hash":
        key = value.strip().lower()
        key = key if _HEX.fullmatch(key) else None
    else:
        key = _address(value)
    return None if key is None else _cap(key)
