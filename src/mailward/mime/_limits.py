"""Cheap checks on the raw bytes, before the email package sees them.

The stdlib parser recurses once per nesting level and tests every line against every open
boundary, so a deeply nested message costs it quadratic time before any limit in the tree walk
could fire. These scans find such messages in linear time (regex work in C, a Python step only
per boundary line) and refuse them first.
"""

from __future__ import annotations

import re

from mailward.config.settings import LimitSettings
from mailward.errors import LimitExceeded

_BLANK = re.compile(rb"\r?\n\r?\n")
# Applied to the lower-cased bytes: a literal prefix lets the regex engine skip ahead fast.
_DECL = re.compile(rb"""boundary\s*=\s*(?:"([^"\r\n]*)"|([^\s;"]+))""")
_MESSAGE = re.compile(rb"content-type:\s*message/")
_DELIM = re.compile(rb"^--([^\r\n]*?)[ \t]*\r?$", re.MULTILINE)


def check_header_block(raw: bytes, limits: LimitSettings) -> None:
    """Raise LimitExceeded when the top-level header block is over ``max_header_bytes``."""
    cap = limits.max_header_bytes
    match = _BLANK.search(raw, 0, cap + 4)
    size = match.start() if match else len(raw)
    if size > cap:
        raise LimitExceeded("header block bytes", size, cap)


def check_nesting(raw: bytes, limits: LimitSettings) -> None:
    """Raise LimitExceeded when multipart boundaries nest deeper than ``max_depth``."""
    lowered = raw.lower()  # boundaries that differ only in case count as one: a lower bound
    declared = {m[1] if m[1] is not None else m[2] for m in _DECL.finditer(lowered)}
    if len(declared) + len(_MESSAGE.findall(lowered)) <= limits.max_depth:
        return  # cannot be deeper than the number of containers declared
    depth = boundary_depth(lowered, declared, stop_above=limits.max_depth)
    if depth > limits.max_depth:
        raise LimitExceeded("nesting depth", depth, limits.max_depth)


def boundary_depth(raw: bytes, declared: set[bytes], stop_above: int) -> int:
    """The most multipart boundaries open at once, following delimiter lines in order.

    A delimiter of an open boundary closes every boundary opened after it (a new sibling part
    starts), as the stdlib parser does; a close delimiter closes it and everything above.
    Stops as soon as the depth passes ``stop_above``, so the stack stays small.
    """
    stack: list[bytes] = []
    deepest = 0
    for match in _DELIM.finditer(raw):
        line = match[1]
        closing = line.endswith(b"--") and line[:-2] in declared
        name = line[:-2] if closing else line
        if not closing and name not in declared:
            continue
        if name in stack:
            del stack[stack.index(name) + (0 if closing else 1) :]
        elif not closing:
            stack.append(name)
            deepest = max(deepest, len(stack))
            if deepest > stop_above:
                break
    return deepest
