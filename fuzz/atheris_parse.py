"""Coverage-guided fuzzing (atheris / libFuzzer) of the MIME parser and the scan path.

Run: ``python fuzz/atheris_parse.py -runs=100000`` (or ``-max_total_time=300``), optionally
with a corpus folder: ``python fuzz/atheris_parse.py corpus/ -max_total_time=600``.
libFuzzer options all work; a crash leaves ``crash-<sha1>`` with the input in the cwd.

Properties, as in tests/fuzz/test_fuzz_parser.py:
- parse_message raises nothing but ParseError (LimitExceeded included);
- an Engine scan (every ``SCAN_EVERY``-th input: it is much slower) never raises and gives a
  verdict; an unparseable message is quarantined, never delivered.
Every input that breaks one is a bug: add it to tests/fuzz as a regression test.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import atheris

with atheris.instrument_imports(include=["mailward"]):
    from mailward.config.settings import LimitSettings, Settings
    from mailward.engine.pipeline import Engine
    from mailward.errors import ParseError
    from mailward.mime import parse_message
    from mailward.model import Action

LIMITS = LimitSettings(max_depth=8, max_parts=50, max_decoded_bytes=2_000_000)
SCAN_EVERY = 20
_state = {"n": 0}
_engine: list[Engine] = []
_loop = asyncio.new_event_loop()


def engine() -> Engine:
    if not _engine:
        _engine.append(Engine(Settings(limits=LIMITS)))
    return _engine[0]


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_message(data, LIMITS)
    _state["n"] += 1
    if _state["n"] % SCAN_EVERY:
        return
    outcome = _loop.run_until_complete(engine().scan(data))
    if not isinstance(outcome.verdict.action, Action):
        raise AssertionError(f"no verdict: {outcome.verdict!r}")
    if outcome.parsed is None and outcome.verdict.action is not Action.QUARANTINE:
        raise AssertionError(f"unparsed message got {outcome.verdict.action}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
