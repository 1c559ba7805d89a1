"""runtime.warm.freeze_loaded: what the gateway loaded is moved out of the collector's reach
(in a child process: freezing this test process would keep its garbage for ever)."""

from __future__ import annotations

from tests.helpers_subprocess import last_line_printed

PROGRAM = """
import gc
from mailward.runtime.warm import freeze_loaded
assert gc.get_freeze_count() == 0
kept = [[i] for i in range(5000)]  # long-lived objects loaded before the freeze
frozen = freeze_loaded()
made_after = [[i] for i in range(5000)]
print(frozen, gc.get_freeze_count())
"""


def test_freeze_loaded_freezes_what_is_alive_and_not_what_comes_after() -> None:
    frozen, count_at_end = map(int, last_line_printed(PROGRAM).split())
    assert frozen >= 5000  # the loaded lists (and the interpreter's own objects)
    assert count_at_end == frozen  # the lists made afterwards are collected as usual
