"""bench/bombs.py --quick: every bomb family through the full engine, in forked children.

Outcomes and memory are asserted (each input's expected verdict, no error, peak RSS growth
within the bench's bound); time is only reported by the bench, except for its hang guard
(a child is killed after CHILD_TIMEOUT and that is an error row).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "bombs.py"
RSS_BOUND_MIB = 512  # bench/bombs.py's RSS_BOUND_MIB

pytestmark = pytest.mark.slow  # starts processes: about 30 s


@pytest.fixture(scope="module")
def rows() -> list[dict[str, object]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--no-trace", "--json"],
        capture_output=True, text=True, timeout=280, env=env, check=False,
    )
    found = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert found, proc.stderr[-2000:]
    return found


def test_every_catalogue_input_ran(rows: list[dict[str, object]]) -> None:
    listed = subprocess.run(
        [sys.executable, str(BENCH), "--list"], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    names = {line.split()[0] for line in listed if line.strip()}
    assert {str(r["name"]) for r in rows} == names
    assert len(names) >= 30


def test_no_input_raises_or_breaks_its_expected_outcome(rows: list[dict[str, object]]) -> None:
    bad = {
        r["name"]: [p for p in r["problems"] if not str(p).startswith(("cpu ", "wall "))]  # type: ignore[attr-defined]
        for r in rows
    }
    assert {name: p for name, p in bad.items() if p} == {}


def test_outcomes_by_family(rows: list[dict[str, object]]) -> None:
    by_name = {str(r["name"]): r for r in rows}
    for name in ("deep_multipart", "nested_comments", "param_semicolons", "many_headers"):
        assert "MIME_TOO_COMPLEX" in by_name[name]["symbols"], name  # type: ignore[operator]
        assert by_name[name]["action"] == "quarantine", name
    for name in ("gzip_1gib", "zip_overlap", "zip_42_like", "zip_10k_entries"):
        assert "ATT_ARCHIVE_TOO_COMPLEX" in by_name[name]["symbols"], name  # type: ignore[operator]
    assert by_name["ok_long_to"]["action"] == "deliver"
    assert not [s for s in by_name["ok_long_to"]["symbols"] if s.startswith(("MIME_", "ENGINE_"))]  # type: ignore[attr-defined]


def test_memory_within_bound(rows: list[dict[str, object]]) -> None:
    over = {r["name"]: r["rss_growth_mib"] for r in rows
            if float(r["rss_growth_mib"]) > RSS_BOUND_MIB}  # type: ignore[arg-type]
    assert over == {}
