"""The `mailward` command: global options, then one sub-command per module in this package.

Only the module of the sub-command given is imported (a command such as ``quarantine list``
starts without the engine and its libraries); the others are in the parser as their name and
one line of help (:data:`COMMANDS`), which is all ``mailward --help`` shows of them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Collection, Sequence
from pathlib import Path

from mailward import __version__
from mailward.config import load_settings
from mailward.errors import ConfigError, MailwardError

#: Each sub-command in the order ``mailward --help`` lists them: the module of this package
#: that defines it (its ``add_parser``) and its line in ``mailward --help`` (the same text as
#: the module's; tests/cli/test_cli_help.py compares them).
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("serve", "run the gateway"),
    "scan": ("scan", "scan .eml files, folders of them or mbox files"),
    "eval": ("eval", "measure detection on folders labelled by class"),
    "quarantine": ("quarantine", "list, show, release or delete quarantined mail"),
    "lockdown": ("lockdown", "show or change the lockdown level, or release held mail"),
    "hunt": ("hunt", "find delivered mail by indicator, or re-scan it"),
    "clawback": ("clawback", "take delivered mail back out of mailboxes (audited)"),
    "train": ("train", "train the content classifier on a labelled corpus"),
    "report": ("train", "label a quarantined message for classifier training"),
    "passwd": ("passwd", "hash a password for smtp.auth_users"),
    "reload": ("reload", "check the configuration and make the gateway reload it"),
    "user": ("user", "manage web console accounts"),
    "alerts": ("alerts", "list, show, acknowledge or close activity alerts"),
    "campaigns": ("campaigns", "list or show campaigns; report one as bad"),
    "db": ("db", "upgrade the database schema, or show its revision"),
}
_CONFIG = "--config"


def build_parser(modules: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``modules``, only those modules' sub-commands are built (and
    their modules imported), every other one is its name and help line alone."""
    parser = argparse.ArgumentParser(prog="mailward", description="Email security gateway.")
    parser.add_argument("--version", action="version", version=f"mailward {__version__}")
    parser.add_argument(
        "-c", _CONFIG, type=Path, default=os.environ.get("MAILWARD_CONFIG") or None,
        help="TOML configuration file (default: /etc/mailward/mailward.toml if present)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    built: set[str] = set()
    for name, (module, help_line) in COMMANDS.items():
        if modules is not None and module not in modules:
            sub.add_parser(name, help=help_line, add_help=False)
        elif module not in built:  # one module may define several (train and report)
            built.add(module)
            importlib.import_module(f"mailward.cli.{module}").add_parser(sub)
    return parser


def command_in(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv``: its first word that is neither an option nor the
    value of ``-c``/``--config``; None when there is none or it is no sub-command."""
    words = iter(argv)
    for word in words:
        if word == "-c" or (len(word) > 2 and _CONFIG.startswith(word)):
            next(words, None)  # the configuration file
        elif word == "--" or not word.startswith("-"):
            name = next(words, "") if word == "--" else word
            return name if name in COMMANDS else None
    return None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``build_parser().parse_args(argv)``, importing only the module of the sub-command."""
    words = sys.argv[1:] if argv is None else list(argv)
    name = command_in(words)
    modules = {COMMANDS[name][0]} if name is not None else set()
    parser = build_parser(modules)
    args, extra = parser.parse_known_args(words)
    if getattr(args, "run", None) is None:  # not the sub-command found above: every parser
        return build_parser().parse_args(words)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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
