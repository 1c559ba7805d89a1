"""The labels file of an `eval` corpus: where each message file comes from and what kind it is.

A CSV file with a header naming at least the columns ``file,class,source,kind`` (other columns
are ignored). ``file`` is relative to the corpus folder and starts with its class folder, e.g.
``ham/0005....eml,ham,enron-a-l,business-2001``. A malformed file is a :class:`SourceError`
naming the file, the line and the problem; it is read whole before any message is scanned.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mailward.cli.sources import SourceError

#: The labels file `eval` reads from the corpus folder when no --sources is given.
LABELS_NAME = "SOURCES.csv"
COLUMNS = ("file", "class", "source", "kind")
#: Source and kind of a message the labels file does not name.
UNLABELLED = "unlabelled"

_MBOX_INDEX = re.compile(r"#\d+$")


@dataclass(frozen=True, slots=True)
class Label:
    source: str
    kind: str


UNLABELLED_LABEL = Label(UNLABELLED, UNLABELLED)


@dataclass(frozen=True, slots=True)
class Labels:
    path: Path
    by_file: dict[str, Label]

    def get(self, relpath: str) -> Label:
        """The label of ``relpath`` (``class/name``; an mbox message ``class/box#3`` takes the
        label of its file), or :data:`UNLABELLED_LABEL`."""
        found = self.by_file.get(relpath) or self.by_file.get(_MBOX_INDEX.sub("", relpath))
        return found or UNLABELLED_LABEL


def load_labels(path: Path) -> Labels:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the labels file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: the labels file is not UTF-8 text ({exc.reason})") from exc
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        width, index = _columns(path, next(reader, None))
        by_file: dict[str, Label] = {}
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            where = f"{path} line {reader.line_num}"
            if len(row) != width:
                raise SourceError(f"{where}: {len(row)} fields where the header has {width}")
            _add_row(by_file, [row[i].strip() for i in index], where)
    except csv.Error as exc:
        raise SourceError(f"{path} line {reader.line_num}: not valid CSV: {exc}") from exc
    return Labels(path, by_file)


def _columns(path: Path, header: list[str] | None) -> tuple[int, list[int]]:
    """The header's number of fields, and where COLUMNS are in it."""
    need = ",".join(COLUMNS)
    if header is None:
        raise SourceError(f"{path}: the labels file is empty (it needs a header: {need})")
    names = [name.strip().lower() for name in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise SourceError(
            f"{path} line 1: the header lacks the column(s) {', '.join(missing)} "
            f"(it needs {need}; it has {','.join(names)})"
        )
    return len(names), [names.index(c) for c in COLUMNS]


def _add_row(by_file: dict[str, Label], values: list[str], where: str) -> None:
    file, cls, source, kind = values
    empty = [c for c, value in zip(COLUMNS, values, strict=True) if not value]
    if empty:
        raise SourceError(f"{where}: empty {', '.join(empty)}")
    rel = PurePosixPath(file)
    if rel.is_absolute() or ".." in rel.parts or len(rel.parts) < 2:
        raise SourceError(f"{where}: {file!r} is not a path inside a class folder (class/name)")
    if rel.parts[0] != cls:
        raise SourceError(f"{where}: {file} is in the folder {rel.parts[0]}/ but labelled {cls!r}")
    label = Label(source, kind)
    key = rel.as_posix()
    if by_file.setdefault(key, label) != label:
        raise SourceError(f"{where}: {file} is labelled again, differently")
