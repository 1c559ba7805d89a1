"""The other shared state on the store's URL, on SQLite and PostgreSQL (``store_url``): the
lockdown level, classifier feedback and console sessions, each seen by a second opener (another
process or node) as the first one left it."""

from __future__ import annotations

from mailward.response.lockdown import Level, LockdownState
from mailward.store import Store
from mailward.store.feedback import FeedbackStore
from mailward.web._accounts import Accounts


def test_lockdown_level_is_shared(store_url: str, store: Store) -> None:
    first, second = LockdownState(store_url, cache_seconds=0), LockdownState(store_url,
                                                                            cache_seconds=0)
    try:
        assert second.level() is Level.NORMAL
        first.set(Level.HOLD_EXTERNAL, actor="admin", reason="upgrade", store=store)
        assert second.level() is Level.HOLD_EXTERNAL
        assert [a.action for a in store.audit_log("lockdown")] == [
            "lockdown normal -> hold-external"]
    finally:
        first.close()
        second.close()


def test_feedback_is_shared(store_url: str) -> None:
    first, second = FeedbackStore(store_url), FeedbackStore(store_url)
    try:
        ids = [first.add("spam", b"one", "ann", "r1"), first.add("ham", b"two", "bob", "r2")]
        assert ids[1] > ids[0]
        assert [(s.id, s.label, s.raw) for s in second.iter_samples(batch=1)] == [
            (ids[0], "spam", b"one"), (ids[1], "ham", b"two")]
    finally:
        first.close()
        second.close()


def test_console_sessions_are_shared(store_url: str) -> None:
    first, second = Accounts(store_url), Accounts(store_url)
    try:
        first.add_user("ann", "long enough", "analyst")
        user = second.authenticate("ann", "long enough")
        assert user is not None and user.role == "analyst"
        assert second.authenticate("ann", "wrong password") is None
        token = second.open_session(user)
        session = first.session(token)
        assert session is not None and session.user.name == "ann"
        first.close_session(token)
        assert second.session(token) is None
    finally:
        first.close()
        second.close()
