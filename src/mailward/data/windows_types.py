"""The table of file types by what Windows does with them (windows_file_types.toml).

Public surface:

- :class:`WindowsFileType`: one row (extensions, what Windows does, how it is recognised by
  content, references);
- :func:`windows_file_types`: every row, read once and checked;
- :func:`type_for_extension`: the row of one extension, or None;
- :func:`extensions_that`: the extensions of the rows whose ``windows_does`` is one of those
  given (``extensions_that("runs_code")`` is the attachments detector's default list).

The file is reviewed data shipped with the package; docs/windows-file-types.md explains it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, cast

from mailward.errors import ConfigError

WindowsDoes = Literal["runs_code", "shell_handler", "mounts", "container"]
WINDOWS_DOES: tuple[WindowsDoes, ...] = ("runs_code", "shell_handler", "mounts", "container")
CONTENT_KINDS = frozenset(
    {"", "pe", "appx", "script", "chm", "reg", "lnk", "url", "library", "search", "scf",
     "disk-image", "onenote"}
)  # fmt: skip
_KEYS = frozenset({"id", "name", "extensions", "windows_does", "what", "content", "references"})
_FILE = "windows_file_types.toml"


@dataclass(frozen=True, slots=True)
class WindowsFileType:
    """One row of the table: a family of extensions Windows treats alike."""

    id: str
    name: str
    extensions: tuple[str, ...]
    windows_does: WindowsDoes
    what: str
    content: str
    references: tuple[str, ...]


def _strings(row: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = row.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {key} must be a non-empty list of strings")
    return tuple(cast(list[str], value))


def _row(row: dict[str, Any], index: int) -> WindowsFileType:
    where = f"{_FILE} type #{index + 1} ({row.get('id', '?')})"
    unknown = set(row) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("id", "name", "what"):
        if not isinstance(row.get(key), str) or not row[key]:
            raise ConfigError(f"{where}: {key} must be a non-empty string")
    does = row.get("windows_does")
    if does not in WINDOWS_DOES:
        raise ConfigError(f"{where}: windows_does must be one of {', '.join(WINDOWS_DOES)}")
    content = row.get("content", "")
    if content not in CONTENT_KINDS:
        raise ConfigError(f"{where}: content {content!r} is not a known recogniser")
    extensions = _strings(row, "extensions", where)
    if any(e != e.lower() or e.startswith(".") for e in extensions):
        raise ConfigError(f"{where}: extensions are lower case, without the dot")
    return WindowsFileType(
        id=row["id"],
        name=row["name"],
        extensions=extensions,
        windows_does=cast(WindowsDoes, does),
        what=row["what"],
        content=content,
        references=_strings(row, "references", where),
    )


@cache
def windows_file_types() -> tuple[WindowsFileType, ...]:
    """Every row of the shipped table, checked (an extension may appear in one row only)."""
    text = resources.files("mailward.data").joinpath(_FILE).read_text(encoding="utf-8")
    rows = tomllib.loads(text).get("type", [])
    types = tuple(_row(row, i) for i, row in enumerate(rows))
    seen: dict[str, str] = {}
    for row in types:
        for ext in row.extensions:
            if ext in seen:
                raise ConfigError(f"{_FILE}: .{ext} is in both {seen[ext]} and {row.id}")
            seen[ext] = row.id
    return types


@cache
def _by_extension() -> dict[str, WindowsFileType]:
    return {ext: row for row in windows_file_types() for ext in row.extensions}


def type_for_extension(extension: str) -> WindowsFileType | None:
    """The row of ``extension`` (any case, with or without the dot), or None."""
    return _by_extension().get(extension.strip().lstrip(".").lower())


def extensions_that(*does: WindowsDoes) -> tuple[str, ...]:
    """The extensions of every row whose ``windows_does`` is one of ``does``, in table order."""
    return tuple(ext for row in windows_file_types() if row.windows_does in does
                 for ext in row.extensions)  # fmt: skip


def by_id(type_id: str) -> WindowsFileType:
    """The row called ``type_id`` (KeyError when there is none)."""
    for row in windows_file_types():
        if row.id == type_id:
            return row
    raise KeyError(type_id)
