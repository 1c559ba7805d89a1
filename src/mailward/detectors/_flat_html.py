"""HTML bytes flattened for literal-led searches, made once per HTML for several detectors.

The evasion and smuggling detectors both look for short patterns in a message's HTML whose
regular expressions, run over the text, are tried at every digit or every white space (about
one character in seven). Over a flattened copy of the HTML's UTF-8 bytes the same places are
found from a literal (``0000``, ``xp``, ``on``, ``download``), which the regex engine searches
for without trying the pattern at each character. The flattened copy maps:

- the ASCII digits to ``0`` and the ASCII capitals to small letters;
- the ASCII white space of ``\\s`` (tab, LF, VT, FF, CR, 1C-1F) to a space;
- every non-ASCII byte to 0x80: it stands for any non-ASCII character (a digit, a white
  space or a case variant of a letter of another script), so a search over the copy may find
  more than the text holds but never less. Callers confirm a find with their own pattern.

The copy of the last HTML asked for is kept (the detectors of one scan run in one thread and
read the same ``msg.html`` object), so the second detector does not make it again.
"""

from __future__ import annotations

import string

_WHITE = b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
_TABLE = bytes.maketrans(
    b"123456789" + string.ascii_uppercase.encode() + _WHITE + bytes(range(0x80, 0x100)),
    b"000000000" + string.ascii_lowercase.encode() + b" " * len(_WHITE) + b"\x80" * 0x80,
)


#: The last HTML flattened (held, so that its identity cannot be reused) and its copy, as one
#: tuple swapped whole (a reader in another thread sees a pair, never half of two).
_last: list[tuple[str, bytes]] = [("", b"")]


def flat_html(html: str) -> bytes:
    """``html`` as UTF-8 (lone surrogates kept as bytes), flattened as the module says."""
    last = _last[0]
    if last[0] is html:
        return last[1]
    flat = plain_flat_html(html)
    _last[0] = (html, flat)
    return flat


def kept_flat_html(html: str) -> bytes | None:
    """The kept flattened copy when it is ``html``'s, else None (nothing is made)."""
    last = _last[0]
    return last[1] if last[0] is html else None


def plain_flat_html(html: str) -> bytes:
    """:func:`flat_html` without the kept copy (for tests and one-off calls)."""
    return html.encode("utf-8", "surrogatepass").translate(_TABLE)
