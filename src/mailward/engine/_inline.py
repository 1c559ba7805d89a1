"""Run a coroutine inline until it first suspends, without an asyncio task.

Most detectors never wait for anything (no I/O, no thread): their ``check`` coroutine runs to
the end in its first step. Wrapping each of them in a task under ``asyncio.wait_for`` (two tasks
per detector, a timer, callbacks) costs more CPU than many of the checks themselves, and the
timeout cannot interrupt such a coroutine anyway (it never yields to the loop). So the engine
first steps a detector's coroutine by hand (:func:`step`): when it finishes, its result is used
directly; when it suspends (DNS, a thread, a socket), :class:`Suspended` hands the rest of it to
an asyncio task exactly where it stopped, and the engine waits for that under its timeout.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    """The coroutine finished in its first step with ``value``."""

    value: T


class Suspended(Generic[T]):
    """A coroutine stopped at its first suspension, awaitable for the rest of its run.

    ``pending`` is what the coroutine yielded (the future it waits for, or None for a bare
    yield to the loop); awaiting this object yields it to the task driving the await, then
    resumes the coroutine with whatever that task sends or throws in (a cancellation too), as
    ``await`` of the coroutine itself would have.
    """

    def __init__(self, coro: Coroutine[Any, Any, T], pending: Any) -> None:
        self._coro = coro
        self._pending = pending

    def __await__(self) -> Generator[Any, None, T]:
        coro, pending = self._coro, self._pending
        while True:
            try:
                yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # thrown in by the task: cancellation, mostly
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
            else:
                try:
                    pending = coro.send(None)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]

    def close(self) -> None:
        """Drop the coroutine without running the rest of it."""
        self._coro.close()


def step(coro: Coroutine[Any, Any, T]) -> Done[T] | Suspended[T]:
    """Run ``coro`` until it finishes or first suspends; an exception it raises propagates."""
    try:
        pending = coro.send(None)
    except StopIteration as stop:
        return Done(stop.value)
    return Suspended(coro, pending)
