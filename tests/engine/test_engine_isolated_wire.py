"""A scan process pickles its answer's dataclasses by their field values (``_wire``): the gateway
gets the same outcome back as with the default pickling."""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import pickletools
from dataclasses import dataclass, field
from multiprocessing.reduction import ForkingPickler

from test_engine_isolated_reply import ENVELOPE, message_with_attachments

from mailward.config import settings_from_mapping
from mailward.engine.isolation._child import _with_signature, for_gateway
from mailward.engine.isolation._wire import OUTCOME_TYPES, by_fields, register
from mailward.engine.pipeline import Engine


class WirePickler(ForkingPickler):
    """A pickler of this test only (the registration is per pickler class)."""

    _extra_reducers: dict[type, object] = {}


def test_an_outcome_comes_back_the_same_and_by_its_fields() -> None:
    register(pickler=WirePickler)
    settings = settings_from_mapping({"dns": {"enabled": False}})
    raw = message_with_attachments() + b"\r\nSee https://login.example.org/verify now.\r\n"
    whole = asyncio.run(Engine(settings).scan(raw, ENVELOPE))
    sent = for_gateway(_with_signature(whole, settings, ENVELOPE))
    reply = ("ok", sent, None)
    fast = bytes(WirePickler.dumps(reply))
    plain = bytes(ForkingPickler.dumps(reply))
    assert pickle.loads(fast) == pickle.loads(plain) == reply
    assert sent.parsed is not None and sent.parsed.urls and sent.result.findings
    assert sent.text_signature is not None
    # by its fields, each dataclass is rebuilt by a call (REDUCE), no longer restored (BUILD)
    assert "BUILD" in _opcodes(plain) and "BUILD" not in _opcodes(fast)
    assert all(by_fields(cls) is not None for cls in OUTCOME_TYPES)


def test_dataclasses_the_class_call_would_not_restore_keep_the_default() -> None:
    @dataclass(frozen=True)
    class Derived:
        a: int
        b: int = field(init=False, default=0)

    @dataclass(frozen=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            pass

    assert by_fields(Derived) is None and by_fields(Checked) is None
    assert by_fields(int) is None
    reduce = by_fields(dataclasses.make_dataclass("Pair", ["x", "y"]))
    assert reduce is not None


def _opcodes(data: bytes) -> set[str]:
    return {op.name for op, _arg, _pos in pickletools.genops(data)}
