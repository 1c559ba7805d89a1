"""README's first command: `mailward serve --demo` on the embedded defaults shows where each
demo message went (regression: a relative data_dir made the demo crash)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from gateway_harness import free_port

pytestmark = pytest.mark.slow


def test_serve_demo_shows_verdicts_deliveries_and_quarantine(tmp_path) -> None:
    port = free_port()
    cfg = tmp_path / "demo.toml"
    cfg.write_text(f'data_dir = "mailward-data"\n[smtp]\nlisten_port = {port}\n'
                   "[dns]\nenabled = false\n")
    out = tmp_path / "demo.out"
    env = {k: v for k, v in os.environ.items() if k != "MAILWARD_CONFIG"}
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailward.cli.main", "-c", str(cfg), "serve", "--demo"],
            cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT, env=env,
        )
        try:
            deadline = time.time() + 90
            while "mailward quarantine list" not in out.read_text() and time.time() < deadline:
                assert proc.poll() is None, out.read_text()
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(15)
    text = out.read_text()
    assert "mailward demo" in text, text
    assert "│ quarantine " in text and "│ deliver " in text and "│ tag " in text
    assert "maildir/example.com/alice/new/" in text
    assert (tmp_path / "mailward-data" / "maildir" / "example.com" / "alice" / "new").is_dir()
