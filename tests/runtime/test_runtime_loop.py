"""runtime.loop: uvloop when asked for and installed, asyncio's own loop otherwise."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from mailward.runtime import loop


async def _loop_type() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_asyncio_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(loop.EVENT_LOOP_ENV, raising=False)
    assert loop.loop_factory() is None
    assert loop.run(_loop_type()).startswith("asyncio")


def test_without_uvloop_asyncio_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loop.EVENT_LOOP_ENV, "uvloop")

    def missing(name: str) -> object:
        raise ImportError(name)

    monkeypatch.setattr(loop.importlib, "import_module", missing)
    assert loop.loop_factory() is None
    assert loop.run(_loop_type()).startswith("asyncio")


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop not installed")
def test_uvloop_runs_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loop.EVENT_LOOP_ENV, "uvloop")
    assert loop.loop_factory() is not None
    assert loop.run(_loop_type()).startswith("uvloop")
