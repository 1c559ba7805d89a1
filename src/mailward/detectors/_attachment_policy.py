"""The operator's policy on attachment names and types (ATT_BLOCKED_TYPE).

As MailScanner's filename rules and Defender's common attachment filter: a part is blocked when
*any* name a mail program could show for it ends in a blocked extension
(``blocked_extensions``), or when its true type, found from the content by libmagic, is a
blocked type (``blocked_types``, shell-style patterns such as ``application/x-ms*``). The names
are every reading the parser made (:mod:`mailward.mime._names`: ``name`` and ``filename``,
RFC 2231 continuations and charsets, encoded words, repeated and conflicting headers), the names
of every other reading of an ambiguous message (its attachments are the union), and the names
and types of the members of archives and disk images, at any depth.

Both lists are empty by default: the policy costs nothing until an operator sets it.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from mailward.attachments import ArchiveLimits, Member, disk_image, expand, read_plan
from mailward.model import Attachment, Finding, ParsedMessage

SYMBOL = "ATT_BLOCKED_TYPE"
#: Bidi controls and invisible characters Windows shows as nothing.
_HIDDEN_CHARS = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\x00]")
_MAX_EVIDENCE = 10


def normalise_extensions(value: Iterable[str]) -> tuple[str, ...]:
    """".ZIP", "zip", " .tar.gz " -> "zip", "tar.gz"."""
    return tuple(dict.fromkeys(e.strip().lstrip(".").lower() for e in value if e.strip(" .")))


def normalise_types(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t.strip().lower() for t in value if t.strip()))


@dataclass(frozen=True, slots=True)
class Blocked:
    """One part or archive member the policy blocks: what it is called and why."""

    name: str
    reason: str


def blocked_name(names: Iterable[str], extensions: tuple[str, ...]) -> tuple[str, str] | None:
    """(name, extension) of the first name that ends in a blocked extension, or None."""
    for name in names:
        clean = _HIDDEN_CHARS.sub("", name).strip().rstrip(" .'\"").lower()
        for ext in extensions:
            if clean.endswith("." + ext):
                return name, ext
    return None


def blocked_type(detected: str, types: tuple[str, ...]) -> str | None:
    """The pattern of ``types`` the detected MIME type matches, or None."""
    kind = detected.split(";", 1)[0].strip().lower()
    return next((t for t in types if kind and fnmatch.fnmatchcase(kind, t)), None)


class AttachmentPolicy:
    """Checks every attachment, every name of it and every archive member against the lists."""

    def __init__(
        self, extensions: tuple[str, ...], types: tuple[str, ...], limits: ArchiveLimits
    ) -> None:
        self.extensions = extensions
        self.types = types
        self.limits = limits

    @property
    def active(self) -> bool:
        return bool(self.extensions or self.types)

    async def check(self, msg: ParsedMessage, detector: str) -> list[Finding]:
        if not self.active:
            return []
        hits: dict[str, Blocked] = {}
        deadline = time.monotonic() + self.limits.max_seconds
        for att in msg.attachments:
            for hit in self._attachment(att):
                hits.setdefault(hit.name, hit)
            remaining = deadline - time.monotonic()
            if remaining > 0 and _container(att):
                budget = replace(self.limits, max_seconds=remaining)
                result = await asyncio.to_thread(expand, att.content, att.filename, budget)
                for hit in self._members(result.members):
                    hits.setdefault(hit.name, hit)
        if not hits:
            return []
        found = list(hits.values())
        more = f" ({len(found) - 1} more)" if len(found) > 1 else ""
        return [
            Finding(
                symbol=SYMBOL,
                explanation=f"{found[0].reason}{more}; the operator's attachment policy blocks it.",
                evidence=tuple(h.name for h in found[:_MAX_EVIDENCE]),
                detector=detector,
            )
        ]

    def _attachment(self, att: Attachment) -> Iterator[Blocked]:
        names = att.all_names
        shown = names[0] if names else "(unnamed)"
        by_name = blocked_name(names, self.extensions)
        if by_name is not None:
            name, ext = by_name
            also = f' (also shown as "{shown}")' if name != shown else ""
            yield Blocked(name, f'The attachment "{name}"{also} ends in ".{ext}"')
        kind = blocked_type(att.detected_type, self.types)
        if kind is not None:
            yield Blocked(shown, f'The attachment "{shown}" is of type {att.detected_type}')

    def _members(self, members: Iterable[Member]) -> Iterator[Blocked]:
        for member in members:
            path = " > ".join(member.chain)
            by_name = blocked_name((member.name,), self.extensions)
            if by_name is not None:
                yield Blocked(path, f'"{path}" ends in ".{by_name[1]}"')
            elif blocked_type(member.detected_type, self.types) is not None:
                yield Blocked(path, f'"{path}" is of type {member.detected_type}')


def _container(att: Attachment) -> bool:
    return (
        read_plan(att.detected_type, att.filename) is not None
        or disk_image(att.detected_type, att.detected_description, att.filename) is not None
    )
