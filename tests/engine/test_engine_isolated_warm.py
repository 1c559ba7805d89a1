"""The fork server's warm-up leaves its long-lived objects out of the collector's reach."""

from __future__ import annotations

import subprocess
import sys


def test_warming_freezes_what_it_loaded() -> None:
    code = (
        "import gc; assert gc.get_freeze_count() == 0\n"
        "import mailward.engine.isolation._warm\n"
        "print(gc.get_freeze_count())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=True)
    assert int(done.stdout.strip()) > 100_000  # the detectors' data, loaded and scanned once
