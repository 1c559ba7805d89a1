"""`mailward serve` starts the scan processes' fork server before it imports the gateway, so
the fork server's imports and warm-up run beside the gateway's own (not after them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import sys
import mailward.cli.serve as serve

def fork_server():
    print("fork server started; gateway imported:", "mailward.runtime.gateway" in sys.modules)

async def no_gateway(settings, demo, config):
    print("serve")

serve.start_fork_server = fork_server
serve._serve = no_gateway
from mailward.cli.main import main
sys.exit(main(["-c", sys.argv[1], "serve"]))
"""


@pytest.mark.parametrize(
    ("isolation", "expected"),
    [
        ("process", ["fork server started; gateway imported: False", "serve"]),
        ("inline", ["serve"]),
    ],
)
def test_the_fork_server_starts_first_when_scans_run_in_processes(
    tmp_path: Path, isolation: str, expected: list[str]
) -> None:
    config = tmp_path / "mailward.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[engine]\nisolation = "{isolation}"\n')
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(config)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == expected
