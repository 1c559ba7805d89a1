"""The address of a MAIL FROM / RCPT TO command, read without the e-mail header parser.

aiosmtpd reads the address with the stdlib's RFC 5322 header parser (``get_angle_addr``) and
defines a ``typing.Protocol`` class on every call: together about 7% of the gateway's CPU per
message. Nearly every real command is the plain form ``<local@domain>`` followed by ESMTP
parameters, which one regular expression reads; :func:`simple_address` answers exactly what
aiosmtpd's ``_getaddr`` answers for that form and None for anything else (quoted local parts,
source routes, comments, domain literals, non-ASCII, the null sender ``<>``), which is then
left to aiosmtpd. The two are compared on generated commands in the tests.
"""

from __future__ import annotations

import re

__all__ = ["simple_address"]

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_PARAM = r"[A-Za-z0-9=+._-]+"
#: ``<dot-atom@dot-atom>``, then parameters (printable ASCII words, no comment) or nothing.
_SIMPLE = re.compile(rf"<({_DOT_ATOM})@({_DOT_ATOM})>[ \t]*((?:{_PARAM}(?:[ \t]+{_PARAM})*)?)")


def simple_address(arg: str, local_part_limit: int = 0) -> tuple[str | None, str | None] | None:
    """``(address, parameters)`` as aiosmtpd's ``SMTP._getaddr`` gives them for a plain
    ``<local@domain> PARAMS`` argument (already stripped), or None: not that form, ask
    aiosmtpd. ``(None, None)`` when the local part is longer than ``local_part_limit``."""
    match = _SIMPLE.fullmatch(arg)
    if match is None:
        return None
    local, domain, params = match.groups()
    if local_part_limit and len(local) > local_part_limit:
        return None, None
    return f"{local}@{domain}", params
