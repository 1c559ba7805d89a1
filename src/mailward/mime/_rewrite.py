"""Raw-byte rewrites of a message's header blocks, one per way of reading an ambiguity.

A header block is found at the start of the message, after every delimiter line of any boundary
the message declares (every reading of every ``boundary=`` value) and after the header block of
an attached message. Each rewrite maps the fields of every block to new fields; the message is
then parsed again, so each reading goes through the same parser and tree walk as the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mailward.mime._ambiguity import boundary_readings

Fields = list[bytes]
Rewrite = Callable[[Fields], Fields]

_MIME = ("content-type", "content-transfer-encoding", "content-disposition")
_DECL = re.compile(rb"boundary\s*=\s*([^;\r\n]*)", re.IGNORECASE)
_BLANK = re.compile(rb"\n\r?\n")
_NAME = re.compile(rb"([^:\s\x00]+)[ \t]*(?:\x00[^:\r\n]*)?:")
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"?[^;]*|[^;]*)')
_MESSAGE = re.compile(rb"^content-type[ \t]*:[ \t]*message/", re.IGNORECASE | re.MULTILINE)
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def header_blocks(raw: bytes, max_blocks: int) -> list[tuple[int, int]]:
    """(start, end) of every header block, at most ``max_blocks``; end is the blank line."""
    names: set[bytes] = set()
    for match in _DECL.finditer(raw):
        value = match[1].decode("latin-1")
        names.update(r.encode("latin-1") for r in boundary_readings(value))
    starts = [0]
    if names:
        alts = b"|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        delim = re.compile(rb"^--(?:" + alts + rb")(?:--)?[ \t]*\r?\n", re.MULTILINE)
        starts += [m.end() for m in delim.finditer(raw)]
    blocks: list[tuple[int, int]] = []
    while starts and len(blocks) < max_blocks:
        start = starts.pop(0)
        end = _block_end(raw, start)
        blocks.append((start, end))
        if _MESSAGE.search(raw, start, end):
            starts.insert(0, end + (2 if raw[end : end + 2] == b"\r\n" else 1))
    return sorted(set(blocks))


def _block_end(raw: bytes, start: int) -> int:
    if raw[start : start + 1] == b"\n" or raw[start : start + 2] == b"\r\n":
        return start
    match = _BLANK.search(raw, start)
    return match.start() + 1 if match else len(raw)


def rewrite(raw: bytes, blocks: list[tuple[int, int]], change: Rewrite) -> bytes:
    """``raw`` with every header block's fields passed through ``change``."""
    out: list[bytes] = []
    pos = 0
    for start, end in blocks:
        if start < pos:
            continue
        out.append(raw[pos:start])
        out.append(b"".join(change(split_fields(raw[start:end]))))
        pos = end
    out.append(raw[pos:])
    return b"".join(out)


def split_fields(block: bytes) -> Fields:
    fields: Fields = []
    for line in block.splitlines(keepends=True):
        if fields and line[:1] in {b" ", b"\t"}:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def field_name(field: bytes) -> str:
    match = _NAME.match(field)
    return match[1].decode("latin-1").lower() if match else ""


def _split_value(field: bytes) -> tuple[str, str, list[tuple[str, str]]]:
    """(name, value head, [(param, raw value)]) of a structured field."""
    text = _FOLD.sub("", field.decode("latin-1")).rstrip("\r\n")
    name, _, value = text.partition(":")
    head, sep, _ = value.partition(";")
    params = [(m[1], m[2].strip()) for m in _PARAM.finditer(value[len(head) :])] if sep else []
    return name.strip(), head.strip(), params


def _join_value(name: str, head: str, params: list[tuple[str, str]]) -> bytes:
    text = f"{name}: {head}" + "".join(f"; {k}={v}" for k, v in params) + "\r\n"
    return text.encode("latin-1")


Params = list[tuple[str, str]]


def _change_params(
    fields: Fields, names: tuple[str, ...], edit: Callable[[Params], Params]
) -> Fields:
    out: Fields = []
    for field in fields:
        if field_name(field) in names:
            name, head, params = _split_value(field)
            new = edit(params)
            if new != params:
                out.append(_join_value(name, head, new))
                continue
        out.append(field)
    return out


def _base(param: str) -> str:
    return param.split("*", 1)[0].lower()


def last_wins(fields: Fields) -> Fields:
    """Keep the last of each duplicated MIME header, and the last of each repeated parameter."""
    last = {field_name(f): i for i, f in enumerate(fields)}
    kept = [
        f for i, f in enumerate(fields) if field_name(f) not in _MIME or last[field_name(f)] == i
    ]

    def dedupe(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
        final = {(_base(k), "*" in k): i for i, (k, _) in enumerate(params)}
        return [p for i, p in enumerate(params) if final[(_base(p[0]), "*" in p[0])] == i]

    return _change_params(kept, ("content-type", "content-disposition"), dedupe)


def prefer_rfc2231(fields: Fields) -> Fields:
    """Drop plain ``name``/``filename`` where an RFC 2231 ``name*``/``filename*`` is given."""

    def edit(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
        starred = {_base(k) for k, _ in params if "*" in k}
        return [(k, v) for k, v in params if "*" in k or _base(k) not in starred]

    return _change_params(fields, ("content-type", "content-disposition"), edit)


def prefer_type_name(fields: Fields) -> Fields:
    """Drop the disposition's ``filename`` so the Content-Type ``name`` is the file name."""

    def edit(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(k, v) for k, v in params if _base(k) != "filename"]

    return _change_params(fields, ("content-disposition",), edit)


def fix_header_names(fields: Fields) -> Fields:
    """Read "Name :" and "Name\\0junk:" as "Name:"."""
    return [_NAME.sub(lambda m: m[1] + b":", f, count=1) if _NAME.match(f) else f for f in fields]


def boundary_as(readings: dict[str, str]) -> Rewrite:
    """A rewrite that reads each raw ``boundary=`` value as the reading given for it."""

    def edit(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for k, v in params:
            if _base(k) == "boundary" and v in readings:
                quoted = readings[v].replace("\\", "\\\\").replace('"', '\\"')
                out.append((k, f'"{quoted}"'))
            else:
                out.append((k, v))
        return out

    def change(fields: Fields) -> Fields:
        return _change_params(fields, ("content-type",), edit)

    return change


def bare_cr_not_eol(raw: bytes) -> bytes:
    """The reading where a carriage return alone does not end a line."""
    return re.sub(rb"\r(?!\n)", b" ", raw)
