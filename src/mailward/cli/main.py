"""The `mailward` command: global options, then one sub-command per module in this package."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mailward import __version__
from mailward.cli import (
    alerts,
    campaigns,
    clawback,
    db,
    hunt,
    lockdown,
    passwd,
    quarantine,
    reload,
    scan,
    serve,
    train,
    user,
)
from mailward.cli import eval as eval_cmd
from mailward.config import load_settings
from mailward.errors import ConfigError, MailwardError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailward", description="Email security gateway.")
    parser.add_argument("--version", action="version", version=f"mailward {__version__}")
    parser.add_argument(
        "-c", "--config", type=Path, default=os.environ.get("MAILWARD_CONFIG") or None,
        help="TOML configuration file (default: /etc/mailward/mailward.toml if present)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (
        serve, scan, eval_cmd, quarantine, lockdown, hunt, clawback, train, passwd, reload, user,
        alerts, campaigns, db,
    ):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
        code: int = args.run(args, settings)
    except ConfigError as exc:
        print(f"mailward: configuration error: {exc}", file=sys.stderr)
        return 2
    except MailwardError as exc:
        print(f"mailward: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
