"""Shared by the IsolatedEngine tests: an async-test runner, a test message and its envelope,
and whether a process is gone."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Coroutine
from typing import Any

from mailward.model import Envelope

ENVELOPE = Envelope(mail_from="alice@partner.example.net", rcpt_tos=("bob@example.com",))


def run(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test in its own event loop (the suite has no asyncio plugin)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


def message(n: int, extra: str = "") -> bytes:
    return (
        f"From: Alice <alice@partner.example.net>\r\nTo: bob@example.com\r\n"
        f"Subject: minutes {n}\r\nMessage-ID: <m{n}@partner.example.net>\r\n\r\n"
        f"Hi Bob, the minutes of meeting {n} are attached to the calendar entry.\r\n{extra}\r\n"
    ).encode()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as f:  # a zombie is gone too (only its parent may reap it)
        return f.read().split(")")[-1].split()[0] == "Z"
