"""`mailward reload`: check the configuration, then ask the running gateway to reload it.

The configuration is loaded and an engine built from it first (as the gateway will), so a
broken file is reported here (exit 2) and the gateway is not disturbed. Then SIGHUP goes to the
pid in ``<data_dir>/mailward.pid`` (what ``kill -HUP $(cat <data_dir>/mailward.pid)`` does).
The gateway logs and audits the reload (``mailward-reload (SIGHUP)``); settings that need a
restart (listen address and the rest of [smtp], data_dir, the store) keep their old values.
Exit 1 when no gateway runs on this data_dir.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from mailward.config.settings import Settings
from mailward.engine.pipeline import Engine
from mailward.errors import ConfigError
from mailward.runtime.gateway import PID_FILE


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("reload", help="check the configuration and make the gateway reload it")
    p.add_argument("--check-only", action="store_true",
                   help="only check the configuration; signal nothing")
    p.set_defaults(run=run)


def gateway_pid(data_dir: Path) -> int | None:
    """The pid of the gateway serving ``data_dir``, or None when none runs."""
    try:
        pid = int((data_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # a stale pid file may name some other process now
        try:
            if b"mailward" not in cmdline.read_bytes():
                return None
        except OSError:
            return None
    return pid


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        Engine(settings)  # detector settings are checked when detectors are built
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"the engine cannot be built from it: {exc}") from exc
    print("configuration ok")
    if args.check_only:
        return 0
    pid = gateway_pid(settings.data_dir)
    if pid is None:
        print(f"mailward: no gateway runs on {settings.data_dir} "
              f"(no live pid in {settings.data_dir / PID_FILE})", file=sys.stderr)
        return 1
    os.kill(pid, signal.SIGHUP)
    print(f"sent SIGHUP to the gateway (pid {pid}); it logs and audits the reload")
    return 0
