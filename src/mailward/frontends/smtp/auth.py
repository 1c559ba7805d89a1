"""SMTP AUTH against configured users with PBKDF2-SHA256 password hashes.

Hash format: ``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>``; ``mailward passwd`` makes one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from aiosmtpd.smtp import AuthResult, LoginPassword

DEFAULT_ITERATIONS = 200_000


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, iterations, salt_hex, hash_hex = encoded.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        digest = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), bytes.fromhex(salt_hex), int(iterations)
        )
    except (ValueError, OverflowError):
        return False
    return hmac.compare_digest(digest.hex().encode(), hash_hex.encode())


#: Told of each AUTH attempt: (login, client address, succeeded).
AuthObserver = Callable[[str, str, bool], None]


class PasswordAuthenticator:
    """aiosmtpd authenticator: PLAIN and LOGIN against the configured users; ``observer`` is
    told of every attempt (the activity checks count logins and failures)."""

    def __init__(self, users: Mapping[str, str], observer: AuthObserver | None = None) -> None:
        self.users = dict(users)
        self.observer = observer

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if mechanism not in ("LOGIN", "PLAIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        encoded = self.users.get(user)
        password = auth_data.password.decode("utf-8", "replace")
        ok = encoded is not None and verify_password(password, encoded)
        if self.observer is not None:
            peer = getattr(session, "peer", None)
            ip = str(peer[0]) if isinstance(peer, tuple) and peer else str(peer or "")
            self.observer(user, ip, ok)
        if not ok:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=user)
