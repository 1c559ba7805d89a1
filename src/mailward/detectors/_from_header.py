"""The From header as different programs read it (espoofer, "Composition Kills", ESpoofing).

DMARC protects the domain of the one From mailbox; an attacker who makes the verifier read one
domain and the mail program show another passes DMARC for the first and spoofs the second. This
module reads the raw header block and names every trick it finds:

- several From header lines, counting lines only some programs read as From ("From :",
  " From:" folded onto nothing, "From\\0:"), or several mailboxes in one From; a From line the
  standard parser does not read as From at all;
- no From at all while a Sender or a Resent-From is given (programs then show that);
- addresses hidden from one reader: an encoded word where the address should be, a source
  route ("<@legit.example:x@evil.example>"), a quoted local part or a comment holding an
  "@", a backslash escape, a NUL;
- addresses that a simple reader ("the last <...> wins", "the first @ wins") reads otherwise
  than the standard parser;
- invisible characters (zero-width space or joiner, soft hyphen, bidi controls, BOM, control
  characters) in the address, or in the display name where they can only serve to disguise;
- encoded words in UTF-7, UTF-16/32, EBCDIC or a charset Python does not know;
- a display name that shows an address of another organisation ("admin@bank.example"
  <x@evil.example>). A mailing list that rewrote From to its own address ("'Alice' via Team"
  <team@lists.example>, with a List-Id of that domain) is no trick.

A bare domain in the display name ("CNET News.com" <x@newsletter.online.com>) is often the
sender's own brand, so it is no trick on its own, but a reader sees it: it is returned in
``shown`` so that its DMARC policy can be applied.

:func:`from_readings` gives the tricks (none when From is plain), every domain a reader could
take as the sender's (so DMARC can be checked for each reading), and whether the tricks are
only in the display name, so the From address itself is clear.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from email.utils import getaddresses

from mailward.detectors._domains import find_domains, organisation_domain
from mailward.detectors._mail_kind import list_rewritten
from mailward.mime._headers import decode_header_value
from mailward.mime._lines import blank_line
from mailward.model import Address, ParsedMessage

_END = re.compile(rb"\r?\n\r?\n")
_FROM_LINE = re.compile(rb"^[ \t]*from[ \t]*(?:\x00[^:\r\n]*)?:(.*)$", re.IGNORECASE)
_OTHER_LINE = re.compile(rb"^(sender|resent-from|resent-sender)[ \t]*:(.*)$", re.IGNORECASE)
_OTHERS = ("sender", "resent-from", "resent-sender")
#: A line that reads as From (``_FROM_LINE``) or else as one of ``_OTHERS`` (``_OTHER_LINE``),
#: in a header block whose lines end at LF, with a LF put before the block: the LF before each
#: line stands for ``^`` (re.MULTILINE), so the regex engine skips from LF to LF (its literal
#: start) instead of trying every byte as a line start. A match ends before a LF, never takes
#: the one the next match starts with.
_HEADER_LINE_LF = re.compile(
    rb"\n(?:[ \t]*from[ \t]*(?:\x00[^:\r\n]*)?:(?P<from>.*)"
    rb"|(?P<name>sender|resent-from|resent-sender)[ \t]*:(?P<other>.*))$",
    re.IGNORECASE | re.MULTILINE,
)
_CONTINUATION = re.compile(rb"\n([ \t].*)")
_FOLDS = re.compile(r"\n[ \t]+")
_ADDR = re.compile(r"[^\s<>()@,;:\"]+@([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,})")
_HOST = re.compile(r"(?<![\w@.-])((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,})\b")
_ROUTE = re.compile(r"<\s*@([^:,>\s]+)")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_COMMENT = re.compile(r"\([^()]*\)")
_ANGLE = re.compile(r"<([^<>]*)>")
_QUOTED_LOCAL = re.compile(r'"((?:[^"\\]|\\.)*)"\s*@')
_NOT_HOST = re.compile(r"[\\\s\"<>()\[\],;:@]")
_CHARSET = re.compile(r"=\?([^?\s]+)\?[qQbB]\?")
_TRICKS = (
    (re.compile(r"<\s*@"), "a source route in the From address"),
    (re.compile(r"\x00"), "a NUL byte in the From header"),
    (re.compile(r'"[^"<>]*@[^"<>]*"@'), "a quoted local part that holds an @"),
    (re.compile(r"<[^<>]*\\[^<>]*>|^[^<>\"]*\\"), "a backslash escape in the From address"),
)
#: Characters that show as nothing (or reorder what is shown) besides the Cc and Cf classes.
_INVISIBLE_EXTRA = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0")
#: Bidi embeddings, overrides and isolates: they reorder the text around them.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Encodings in which the same bytes read differently or that many programs cannot read.
_ODD_CHARSETS = ("utf-7", "utf7", "unicode-1-1-utf-7", "x-imap4-modified-utf7", "utf-16",
                 "utf16", "utf-32", "utf32", "ucs-2", "ucs2", "ucs-4", "ucs4", "ebcdic", "hz")
_EBCDIC = frozenset({"cp037", "cp273", "cp424", "cp500", "cp875", "cp1026", "cp1140"})
#: Reserved top-level names (RFC 2606, 6761) count as domains in display names like real ones.
_RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost"})


@dataclass(frozen=True, slots=True)
class FromReadings:
    """The tricks found in From (none when it is plain), and every domain a reader may see."""

    tricks: tuple[str, ...]
    domains: tuple[str, ...]
    #: The tricks are all in the display name: the From address itself is one and clear.
    display_only: bool = False
    #: The domain of the one From mailbox, as a reader sees it ("" unless there is one).
    author: str = ""
    #: Other domains its display name shows, bare ("CNET News.com"): often the sender's brand,
    #: so no trick on their own, but a reader sees them: their DMARC policy still counts.
    shown: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        return "; ".join(self.tricks)


def _unfold(value: bytes) -> str:
    text = value.decode("utf-8", "replace")
    # the pattern needs a LF: a one-line value (the usual From) skips it
    return (_FOLDS.sub(" ", text) if "\n" in text else text).strip()


def _raw_from_values(raw: bytes) -> tuple[list[str], dict[str, list[str]]]:
    """The raw values of every line some program may read as From (a continuation line that
    reads as a From line on its own counts too), and of Sender, Resent-From, Resent-Sender.

    Lines end at LF, CR or CRLF. The From and other lines are found by one regex over the
    header block (:data:`_HEADER_LINE_LF`, the two line patterns as one alternation, From
    first), not by two matches on every line; each takes the continuation lines after it that
    do not read as From lines themselves (:func:`_raw_from_values_by_line` is the plain way).
    The block ends where :data:`_END` first matches, found by :func:`blank_line` (the pattern
    starts with an optional CR, so the regex engine would try it at every byte).
    """
    end = blank_line(raw)
    head = raw[: end[0] if end else len(raw)]
    if b"\r" in head:
        head = head.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    head = b"\n" + head  # each line, the first too, is found by the LF before it
    entries: list[tuple[str, bytearray]] = []
    for match in _HEADER_LINE_LF.finditer(head):
        name = match["name"]
        current = bytearray(match["other"] if name else match["from"])
        entries.append((name.decode().lower() if name else "from", current))
        pos = match.end()
        while (more := _CONTINUATION.match(head, pos)) and not _FROM_LINE.match(more[1]):
            current += b"\n" + more[1]
            pos = more.end()
    return _values(entries)


def _raw_from_values_by_line(raw: bytes) -> tuple[list[str], dict[str, list[str]]]:
    """:func:`_raw_from_values` line by line, two matches a line (the plain way)."""
    end = _END.search(raw)
    head = raw[: end.start() if end else len(raw)].replace(b"\r\n", b"\n")
    entries: list[tuple[str, bytearray]] = []
    current: bytearray | None = None
    for line in re.split(rb"\n|\r", head):
        match = _FROM_LINE.match(line)
        other = None if match else _OTHER_LINE.match(line)
        if match is not None:
            current = bytearray(match[1])
            entries.append(("from", current))
        elif other is not None:
            current = bytearray(other[2])
            entries.append((other[1].decode().lower(), current))
        elif line[:1] in (b" ", b"\t") and current is not None:
            current += b"\n" + line
        else:
            current = None
    return _values(entries)


def _values(entries: list[tuple[str, bytearray]]) -> tuple[list[str], dict[str, list[str]]]:
    others: dict[str, list[str]] = {name: [] for name in _OTHERS}
    for kind, value in entries:
        if kind != "from":
            others[kind].append(_unfold(bytes(value)))
    return [_unfold(bytes(v)) for k, v in entries if k == "from"], others


def from_readings(msg: ParsedMessage, *, domains_too: bool = True) -> FromReadings:
    """Read the From header every way a program might; see the module docstring.

    ``domains_too=False``: the tricks only (``domains`` left empty), for a caller that looks no
    further when there are none: reading every domain is most of the work.
    """
    values, others = _raw_from_values(msg.raw)
    structural = _structural(msg, values, others)
    addresses, bare = _shown_in_name(msg, msg.from_[0]) if len(msg.from_) == 1 else ([], [])
    display = _display_tricks(msg, values, addresses)
    if not domains_too:
        tricks = tuple(dict.fromkeys([*structural, *display]))
        author = clean_domain(msg.from_[0].domain) if len(msg.from_) == 1 else ""
        return FromReadings(tricks, (), bool(display) and not structural, author, tuple(bare))
    domains = [a.domain for a in msg.from_ if a.domain]
    for value in values:
        domains.extend(_domains(value))
    if structural and not values and not msg.from_:  # programs show the Sender instead
        for value in (v for name in _OTHERS for v in others[name]):
            domains.extend(_domains(value))
    domains.extend([*addresses, *bare])
    clean = (clean_domain(d) for d in domains)
    tricks = tuple(dict.fromkeys([*structural, *display]))
    author = clean_domain(msg.from_[0].domain) if len(msg.from_) == 1 else ""
    readable = tuple(dict.fromkeys(d for d in clean if "." in d))
    return FromReadings(
        tricks, readable, bool(display) and not structural, author, tuple(bare)
    )


def clean_domain(domain: str) -> str:
    """A domain as a reader sees it: lower case, invisible characters and punctuation gone."""
    return _NOT_HOST.sub("", _visible(domain).lower()).strip(".")


def _visible(text: str) -> str:
    if _plain(text):
        return text
    return "".join(c for c in text if not _is_invisible(c))


def _domains(value: str) -> list[str]:
    """Every domain some reader may take from one From value (invisible characters unseen)."""
    value = _visible(value)
    pairs = getaddresses([value])
    out = [addr.rpartition("@")[2] for _, addr in pairs if "@" in addr]
    for name, _ in pairs:  # what a display name shows
        out.extend(_name_domains(decode_header_value(name)))
    out.extend(_ROUTE.findall(value))
    for local in _QUOTED_LOCAL.findall(value):  # "admin@legit.example"@evil.example
        out.extend(_ADDR.findall(local))
    for comment in _COMMENT.findall(_QUOTED.sub(" ", value)):  # a@evil(admin@legit.example)
        out.extend(_ADDR.findall(comment))
    bare = _COMMENT.sub(" ", _QUOTED.sub(" ", value))
    if "=?" in bare:  # an encoded word where an address should be
        out.extend(_ADDR.findall(_visible(decode_header_value(bare))))
    out.extend(_naive_domains(value))
    return out


def _naive_domains(value: str) -> list[str]:
    """The domains simple readers take: the last <...>, and the first @ outside quotes."""
    out = []
    angles = _ANGLE.findall(value)
    if angles and "@" in angles[-1]:
        out.append(angles[-1].rpartition("@")[2])
    first = _ADDR.search(_COMMENT.sub(" ", _QUOTED.sub(" ", value)))
    if first:
        out.append(first[1])
    return [clean_domain(d) for d in out]


def _structural(msg: ParsedMessage, values: list[str], others: dict[str, list[str]]) -> list[str]:
    """Tricks that make the From mailbox itself uncertain."""
    parsed = len(msg.header_all("From"))
    if len(values) > 1 or parsed > 1:
        return [f"{max(len(values), parsed)} From headers, not all of them read by every program"]
    if len(msg.from_) > 1:
        return [f"the From header names {len(msg.from_)} senders"]
    if values and not parsed:
        return ["a From line the standard parser does not read as From"]
    if not values:
        if parsed or msg.from_:
            return []
        shown = [name for name in _OTHERS if others[name]]
        if shown:
            title = "-".join(w.capitalize() for w in shown[0].split("-"))
            return [f"no From header, so programs show the {title} instead"]
        return []
    return _value_tricks(values[0], msg)


def _value_tricks(value: str, msg: ParsedMessage) -> list[str]:
    tricks = [what for pattern, what in _TRICKS if pattern.search(value)]
    if any("@" in c for c in _COMMENT.findall(_QUOTED.sub(" ", value))):
        tricks.append("a comment in the From header that holds an address")
    bare = _COMMENT.sub(" ", _QUOTED.sub(" ", value))
    shown = _ADDR.findall(decode_header_value(bare)) if "=?" in bare else []
    real = {a.domain for a in msg.from_}
    if shown and (not real - {""} or set(map(str.lower, shown)) - real):
        tricks.append("an encoded word that hides the From address")
    angles = _ANGLE.findall(bare)
    spec = angles[-1] if angles else bare
    if "=?" in spec and "?=" in spec:
        tricks.append("an encoded word inside the From address")
    address = msg.from_[0].address if msg.from_ else spec
    invisible = [] if _plain(address) else [c for c in address if _is_invisible(c)]
    if invisible:
        tricks.append(f"an invisible character ({_char_name(invisible[0])}) in the From address")
    naive = set(_naive_domains(value))
    standard = {clean_domain(a.domain) for a in msg.from_ if a.domain}
    if naive - standard:
        tricks.append(
            "mail programs read different From addresses "
            f"({', '.join(sorted(standard) or ['none'])} or {', '.join(sorted(naive - standard))})"
        )
    return tricks


def _charset_tricks(value: str) -> list[str]:
    out = []
    for charset in dict.fromkeys(c.partition("*")[0].lower() for c in _CHARSET.findall(value)):
        if charset.startswith(_ODD_CHARSETS) or charset in _EBCDIC or not _known(charset):
            kind = "a UTF-7" if "7" in charset and "utf" in charset else f"a {charset}"
            out.append(f"{kind} encoded word in the From header")
    return out


def _known(charset: str) -> bool:
    try:
        codecs.lookup(charset)
    except LookupError:
        return False
    return True


def _display_tricks(msg: ParsedMessage, values: list[str], addresses: list[str]) -> list[str]:
    """Tricks of a From with one clear mailbox: all in the display name. ``addresses``: the
    domains of addresses the display name shows (:func:`_shown_in_name`)."""
    if len(msg.from_) != 1:
        return []
    sender = msg.from_[0]
    tricks = []
    hidden = _hidden_in_name(sender.display_name)
    if hidden:
        tricks.append(f"an invisible character ({_char_name(hidden)}) in the From display name")
    if addresses:
        tricks.append(f"the From display name shows an address at {addresses[0]}")
    tricks.extend(_charset_tricks(values[0]) if values else [])
    return tricks


def _shown_in_name(msg: ParsedMessage, sender: Address) -> tuple[list[str], list[str]]:
    """Domains of other organisations the display name shows: in addresses, and bare."""
    name = sender.display_name
    if not name or list_rewritten(msg, sender):
        return [], []
    real = organisation_domain(clean_domain(sender.domain))
    addresses = [h for h in _name_domains(name, bare=False) if organisation_domain(h) != real]
    bare = [h for h in _name_domains(name, bare=True) if organisation_domain(h) != real]
    return addresses, [h for h in bare if h not in addresses]


def _name_domains(name: str, bare: bool | None = None) -> list[str]:
    """Hosts a display name shows: in addresses (``bare=False``), as domains (``bare=True``),
    or both."""
    seen = _visible(name)
    found = [] if bare else list(_ADDR.findall(seen))
    if bare is not False:
        without = _ADDR.sub(" ", seen)
        found.extend(d.host for d in find_domains(without))
        found.extend(
            h for h in _HOST.findall(without) if h.rsplit(".", 1)[-1].lower() in _RESERVED_TLDS
        )
    hosts = (clean_domain(h) for h in found)
    return list(dict.fromkeys(h for h in hosts if "." in h))


def _plain(text: str) -> bool:
    """Printable ASCII only: no character of it is invisible (:func:`_is_invisible`), so a
    search for one can be skipped (printable ASCII holds no Cc or Cf character)."""
    return text.isascii() and text.isprintable()


def _is_invisible(char: str) -> bool:
    if char in _INVISIBLE_EXTRA:
        return True
    return unicodedata.category(char) in {"Cc", "Cf"} and char != "\t"


def _hidden_in_name(name: str) -> str:
    """The first invisible character of a display name that can only serve to disguise it:
    a control or bidi character anywhere, any other beside plain ASCII (zero-width joiners
    within Arabic or Indic words, or in emoji, have their use)."""
    if _plain(name):
        return ""
    for i, char in enumerate(name):
        if not _is_invisible(char):
            continue
        if char in _BIDI or unicodedata.category(char) == "Cc":
            return char
        around = name[max(i - 1, 0) : i] + name[i + 1 : i + 2]
        if not around or any(c.isascii() for c in around):
            return char
    return ""


def _char_name(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, 'control character')}"
