"""The coverage-guided harness fuzz/atheris_parse.py runs for a bounded time and finds nothing.

About 20 s of libFuzzer over parse_message and the scan path, in a subprocess (libFuzzer owns
the process). Skipped where atheris is not installed (it is in the ``test`` extra).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")

HARNESS = Path(__file__).parent.parent.parent / "fuzz" / "atheris_parse.py"


def test_atheris_harness_runs_bounded_without_a_crash(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    proc = subprocess.run(
        [sys.executable, str(HARNESS), "-max_total_time=20", "-rss_limit_mb=4096",
         "-timeout=30", str(corpus)],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
    )
    tail = proc.stderr[-3000:]
    assert proc.returncode == 0, tail
    assert "Done " in proc.stderr, tail
    assert not list(tmp_path.glob("crash-*")), tail
    assert list(corpus.iterdir()), "the fuzzer found no input worth keeping"
