"""The store: message journal, quarantine (raw bytes + per-recipient status) and audit log.

Open one with :func:`open_store` (a SQLAlchemy URL: SQLite by default, PostgreSQL for scale)
and use it through the :class:`Store` interface. The API is synchronous; async callers run it
in a thread. Failures raise :class:`mailward.errors.StoreError`.
"""

from mailward.store.base import (
    AuditEntry,
    MessageRecord,
    QuarantineEntry,
    Store,
    derive_status,
)
from mailward.store.sql import SqlStore, open_store

__all__ = [
    "AuditEntry",
    "MessageRecord",
    "QuarantineEntry",
    "SqlStore",
    "Store",
    "derive_status",
    "open_store",
]
