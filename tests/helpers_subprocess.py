"""Run a short Python program in a fresh interpreter (what it imports, what a freeze does, stay
out of the test process) and give back the last line it printed."""

from __future__ import annotations

import subprocess
import sys


def last_line_printed(program: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]
