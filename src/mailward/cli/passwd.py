"""`mailward passwd`: print a password hash for ``smtp.auth_users``."""

from __future__ import annotations

import argparse
import getpass

from mailward.config.settings import Settings
from mailward.frontends.smtp.auth import hash_password


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("passwd", help="hash a password for smtp.auth_users")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    password = getpass.getpass("password: ")
    if password != getpass.getpass("again: "):
        print("the passwords differ")
        return 1
    print(hash_password(password))
    return 0
