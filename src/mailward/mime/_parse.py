"""bytes -> ParsedMessage: limits first, then the stdlib parser, then the tree walk.

The stdlib parser's tree is built by :mod:`mailward.mime._feed` (the same parse as
``email.feedparser``, over the whole text at once).

A message in which :mod:`mailward.mime._ambiguity` finds an ambiguity is also read the other
ways a mail program might read it (:mod:`mailward.mime._views`); its text, links and attachments
are then the union of every reading, and ``ambiguities`` says what was found.

The stdlib parser runs with ``compat32`` (header access never raises; headers are decoded by
:mod:`mailward.mime._headers`). Empty input, or input that does not start with a header block
(no header could be read), is a ParseError: such bytes are quarantined as unparsed rather than
scanned as an empty message.
"""

from __future__ import annotations

import dataclasses
from email.message import Message

from mailward.config.settings import LimitSettings
from mailward.errors import LimitExceeded, MailwardError, ParseError
from mailward.mime._ambiguity import find_ambiguities
from mailward.mime._feed import parse_bytes
from mailward.mime._headers import (
    RAW_POLICY,
    addresses,
    decode_header_value,
    duplicate_notes,
    header_items,
    message_id,
)
from mailward.mime._limits import check_header_block, check_nesting
from mailward.mime._rawscan import RawScan
from mailward.mime._views import build_views, merge, walk_views
from mailward.mime._walk import Walker
from mailward.model import ParsedMessage


def parse_message(raw: bytes, limits: LimitSettings) -> ParsedMessage:
    """Parse ``raw`` into a ParsedMessage.

    Raises LimitExceeded when a hard limit is broken (nesting depth, MIME parts, decoded
    bytes, header block bytes, HTML nesting work) and ParseError for anything else that
    cannot be read; no other exception leaves this function (MemoryError aside).
    """
    try:
        return _parse(raw, limits)
    except (MailwardError, MemoryError):
        raise
    except Exception as exc:
        raise ParseError(f"unreadable message: {type(exc).__name__}: {exc}") from exc


def _parse(raw: bytes, limits: LimitSettings) -> ParsedMessage:
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise ParseError(f"message must be bytes, not {type(raw).__name__}")
    raw = bytes(raw)
    if not raw or raw.isspace():
        raise ParseError("empty message")
    scan = RawScan(raw)  # what the stages below each need from the raw bytes, found once
    check_header_block(raw, limits)
    check_nesting(raw, limits, scan)
    msg = _parse_bytes(raw, limits, scan)
    walker = Walker(limits)
    walker.walk(msg)
    for note in duplicate_notes(msg):
        walker.note(note)
    found = find_ambiguities(raw, msg, scan)
    if not found:
        return _build(raw, msg, walker, limits)
    views = build_views(raw, msg, found, limits)
    others = walk_views(views, limits)
    merged = merge(walker, others, limits)
    notes = tuple(str(a) for a in found) + tuple(dict.fromkeys(merged.hidden))
    lost = list(getattr(views, "dropped", ()))
    failed = getattr(others, "failed", 0)
    if failed:
        lost.append(f"{failed} readings could not be parsed")
    if lost:
        notes += (
            f"readings_incomplete: not every reading of the message could be built "
            f"({'; '.join(dict.fromkeys(lost))}), so content may be hidden from the scan.",
        )
    return dataclasses.replace(
        _build(raw, msg, walker, limits),
        text="\n".join(merged.texts)[: limits.max_text_chars],
        html="\n".join(merged.htmls)[: limits.max_text_chars],
        urls=merged.urls,
        attachments=merged.attachments,
        ambiguities=notes,
    )


def _parse_bytes(raw: bytes, limits: LimitSettings, scan: RawScan | None = None) -> Message:
    try:
        msg = parse_bytes(raw, RAW_POLICY, scan)
    except RecursionError as exc:
        # Only nesting far beyond any sane max_depth makes the stdlib parser recurse this deep.
        raise LimitExceeded("nesting depth", limits.max_depth + 1, limits.max_depth) from exc
    if not msg.keys():
        raise ParseError("not a message: it does not start with a header block")
    return msg


def _build(raw: bytes, msg: Message, walker: Walker, limits: LimitSettings) -> ParsedMessage:
    cap = limits.max_text_chars
    return ParsedMessage(
        raw=raw,
        headers=header_items(msg),
        message_id=message_id(msg),
        subject=decode_header_value(msg.get("subject", "")),
        from_=addresses(msg, "from"),
        reply_to=addresses(msg, "reply-to"),
        to=addresses(msg, "to"),
        cc=addresses(msg, "cc"),
        text="\n".join(walker.texts)[:cap],
        html="\n".join(walker.htmls)[:cap],
        urls=tuple(walker.urls.values()),
        attachments=walker.finished_attachments(),
        defects=tuple(walker.defects),
    )
