"""Messages named on the command line: .eml files, folders of them (recursive), mbox files."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mailward.errors import MailwardError


class SourceError(MailwardError):
    """A path that names no readable message; the text names the path and the problem."""


@dataclass(frozen=True, slots=True)
class MessageSource:
    path: str
    raw: bytes


def is_mbox(raw: bytes) -> bool:
    """An mbox file starts with its first message's ``From `` separator line."""
    return raw.startswith(b"From ")


def iter_messages(paths: list[Path]) -> Iterator[MessageSource]:
    for path in paths:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if not child.name.startswith("."):
                    yield from _from_file(child)
        elif path.is_file():
            yield from _from_file(path)
        else:
            raise SourceError(f"{path}: no such file or folder")


def _from_file(path: Path) -> Iterator[MessageSource]:
    try:
        raw = path.read_bytes()  # one read: most files are single messages
        if is_mbox(raw):
            box = mailbox.mbox(path, create=False)
            try:
                for index, key in enumerate(box.keys()):
                    yield MessageSource(f"{path}#{index}", box.get_bytes(key))
            finally:
                box.close()
            return
        yield MessageSource(str(path), raw)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def count_files(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        if path.is_dir():
            total += sum(1 for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            total += 1
    return total
