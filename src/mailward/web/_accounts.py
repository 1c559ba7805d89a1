"""Console accounts and sessions, in tables beside the store (same SQLAlchemy URL).

console_users     name, argon2id password hash, role (viewer, analyst, admin), when set
console_sessions  SHA-256 of the session token (the token itself is only in the browser's
                  cookie), user, CSRF token, created and last-seen times

A session ends ``idle`` seconds after its last request and ``absolute`` seconds after login,
whatever happens; changing a user's password or role, or removing the user, ends all of that
user's sessions. Every failure raises :class:`~mailward.errors.StoreError`.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, Connection, Float, MetaData, String, Table, delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from mailward.errors import StoreError
from mailward.store._engine import WRITE_OPTION, open_tables

ROLES: Final = ("viewer", "analyst", "admin")
_RANK: Final = {role: i for i, role in enumerate(ROLES)}
#: Refreshing last_seen at most this often keeps page loads from writing every time.
_TOUCH_EVERY_S: Final = 5.0

_METADATA = MetaData()
console_users = Table(
    "console_users",
    _METADATA,
    Column("name", String(128), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False),
    Column("changed_at", Float, nullable=False),
)
console_sessions = Table(
    "console_sessions",
    _METADATA,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(128), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
)

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# A hash to verify against when the user does not exist, so timing does not tell who exists.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))


def has_role(role: str, needed: str) -> bool:
    """True when ``role`` is ``needed`` or above it (viewer < analyst < admin)."""
    return _RANK.get(role, -1) >= _RANK[needed]


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class Session:
    """A live session: its user (with the role as it is now) and its CSRF token."""

    user: User
    csrf: str
    created_at: float


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_role(role: str) -> None:
    if role not in _RANK:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise ValueError("a console password has at least 8 characters")


class Accounts:
    """Users and sessions of the console on the store's SQLAlchemy URL."""

    def __init__(
        self, url: str, *, idle: float = 1800.0, absolute: float = 43200.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = open_tables(url, _METADATA, "console accounts")
        self.idle, self.absolute, self._clock = idle, absolute, clock

    @contextmanager
    def _tx(self, what: str, *, write: bool = False) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    yield conn
        except IntegrityError as exc:
            raise StoreError(f"cannot {what}: it exists already") from exc
        except SQLAlchemyError as exc:
            detail = getattr(exc, "orig", None) or exc
            raise StoreError(f"store failed to {what}: {type(detail).__name__}: {detail}") from exc

    def close(self) -> None:
        self._engine.dispose()

    # -- users ------------------------------------------------------------------------------

    def add_user(self, name: str, password: str, role: str) -> None:
        _check_role(role)
        _check_password(password)
        if not name or len(name) > 128 or not name.isprintable() or name != name.strip():
            raise ValueError("a user name is 1 to 128 printable characters, no outer spaces")
        values = {"name": name, "password_hash": _HASHER.hash(password), "role": role,
                  "changed_at": self._clock()}
        with self._tx(f"add user {name!r}", write=True) as conn:
            conn.execute(console_users.insert().values(**values))

    def set_password(self, name: str, password: str) -> None:
        _check_password(password)
        self._change(name, password_hash=_HASHER.hash(password))

    def set_role(self, name: str, role: str) -> None:
        _check_role(role)
        self._change(name, role=role)

    def remove_user(self, name: str) -> None:
        with self._tx(f"remove user {name!r}", write=True) as conn:
            gone = conn.execute(delete(console_users).where(console_users.c.name == name))
            if not gone.rowcount:
                raise StoreError(f"no console user {name!r}")
            conn.execute(delete(console_sessions).where(console_sessions.c.username == name))

    def _change(self, name: str, **values: str) -> None:
        """Update a user and end the user's sessions (a new password or role starts afresh)."""
        with self._tx(f"change user {name!r}", write=True) as conn:
            changed = conn.execute(
                update(console_users).where(console_users.c.name == name)
                .values(changed_at=self._clock(), **values)
            )
            if not changed.rowcount:
                raise StoreError(f"no console user {name!r}")
            conn.execute(delete(console_sessions).where(console_sessions.c.username == name))

    def users(self) -> list[User]:
        query = select(console_users.c.name, console_users.c.role).order_by(console_users.c.name)
        with self._tx("list console users") as conn:
            return [User(name, role) for name, role in conn.execute(query)]

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password is right, else None (same work either way)."""
        query = select(console_users.c.password_hash, console_users.c.role).where(
            console_users.c.name == name
        )
        with self._tx("read a console user") as conn:
            row = conn.execute(query).first()
        stored = row.password_hash if row is not None else _DUMMY_HASH
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return None if row is None else User(name, row.role)

    # -- sessions ---------------------------------------------------------------------------

    def open_session(self, user: User) -> str:
        """A new session for ``user``; returns the token for the cookie (stored only hashed)."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        values = {"token_hash": _token_hash(token), "username": user.name,
                  "csrf": secrets.token_urlsafe(32), "created_at": now, "last_seen": now}
        with self._tx("open a console session", write=True) as conn:
            conn.execute(console_sessions.insert().values(**values))
            # expired sessions of anyone go now, so the table does not grow
            conn.execute(delete(console_sessions).where(
                (console_sessions.c.last_seen < now - self.idle)
                | (console_sessions.c.created_at < now - self.absolute)
            ))
        return token

    def session(self, token: str) -> Session | None:
        """The live session of ``token`` (its last-seen time refreshed), or None."""
        if not token:
            return None
        s, u = console_sessions, console_users
        key = _token_hash(token)
        now = self._clock()
        query = (
            select(s.c.csrf, s.c.created_at, s.c.last_seen, u.c.name, u.c.role)
            .join(u, u.c.name == s.c.username)
            .where(s.c.token_hash == key)
        )
        with self._tx("read a console session") as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        if now - row.last_seen > self.idle or now - row.created_at > self.absolute:
            self.close_session(token)
            return None
        if now - row.last_seen >= min(_TOUCH_EVERY_S, self.idle / 10):
            with self._tx("refresh a console session", write=True) as conn:
                conn.execute(update(s).where(s.c.token_hash == key).values(last_seen=now))
        return Session(User(row.name, row.role), row.csrf, row.created_at)

    def close_session(self, token: str) -> None:
        with self._tx("close a console session", write=True) as conn:
            conn.execute(delete(console_sessions).where(
                console_sessions.c.token_hash == _token_hash(token)
            ))
