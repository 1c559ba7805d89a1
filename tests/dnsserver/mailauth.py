"""DKIM keys, signatures and ARC seals for tests, with keys published in the local DNS zone.

Usage::

    pem, txt = new_key()                      # zone: {"sel._domainkey.bank.example": [("TXT", txt)]}
    signed = dkim_sign(raw, pem, "bank.example")
    sealed = arc_seal(signed, pem, "lists.example.net", "dmarc=pass header.from=bank.example")

dkimpy needs the ``authres`` package to *seal* (not to verify); it is not a dependency, so
:func:`arc_seal` lends dkimpy a minimal stand-in for the one call. Verification stays real.
"""

from __future__ import annotations

import base64
import types

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def new_key() -> tuple[bytes, str]:
    """A fresh RSA key: (PEM private key, the DKIM TXT record that publishes its public key)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def dkim_sign(
    raw: bytes, pem: bytes, domain: str, selector: str = "sel",
    headers: tuple[str, ...] = ("from", "to", "subject", "date", "message-id"),
) -> bytes:
    """``raw`` with a DKIM-Signature of ``domain`` on top."""
    header = dkim.sign(
        raw, selector.encode(), domain.encode(), pem,
        include_headers=[h.encode() for h in headers],
    )
    return bytes(header) + raw


class _Result:
    def __init__(self, text: str) -> None:
        self.text = text
        self.method, _, rest = text.partition("=")
        self.result = rest.split()[0] if rest.split() else ""

    def __str__(self) -> str:
        return self.text


class _Header:
    def __init__(self, authserv_id: str, results: list[_Result]) -> None:
        self.authserv_id, self.results = authserv_id, results

    @classmethod
    def parse(cls, text: str) -> _Header:
        parts = [" ".join(p.split()) for p in text.split(":", 1)[1].split(";")]
        return cls(parts[0], [_Result(p) for p in parts[1:] if p])


AUTHRES_STUB = types.SimpleNamespace(
    AuthenticationResultsHeader=_Header, core=types.SimpleNamespace(SyntaxError=ValueError)
)


def arc_seal(raw: bytes, pem: bytes, sealer: str, results: str, selector: str = "arc") -> bytes:
    """``raw`` as ``sealer`` forwards it: its Authentication-Results (``results``: "spf=pass
    smtp.mailfrom=...; dmarc=pass header.from=...") and a new ARC set on top."""
    with_ar = f"Authentication-Results: {sealer}; {results}\r\n".encode() + raw
    had = hasattr(dkim, "authres")
    saved = getattr(dkim, "authres", None)
    dkim.authres = AUTHRES_STUB  # type: ignore[attr-defined]
    try:
        headers = dkim.arc_sign(with_ar, selector.encode(), sealer.encode(), pem, sealer.encode())
    finally:
        if had:
            dkim.authres = saved  # type: ignore[attr-defined]
        else:
            del dkim.authres  # type: ignore[attr-defined]
    assert headers, "arc_sign produced no ARC set"
    return b"".join(headers) + with_ar
