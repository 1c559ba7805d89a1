"""`mailward user add|passwd|role|remove|list`: console accounts (viewer, analyst, admin).

The password is read from the terminal twice, or from standard input (one line) with
``--password-stdin`` for scripts. Changing a password or a role, or removing a user, ends that
user's sessions. Every change is written to the audit log with who made it.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from mailward.config.settings import Settings
from mailward.store import open_store
from mailward.web._accounts import ROLES, Accounts


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("user", help="manage web console accounts")
    usub = p.add_subparsers(dest="ucommand", required=True)
    add = usub.add_parser("add", help="add a console user")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="viewer")
    pw = usub.add_parser("passwd", help="set a console user's password")
    pw.add_argument("name")
    for cmd in (add, pw):
        cmd.add_argument("--password-stdin", action="store_true",
                         help="read the password from one line of standard input")
    role = usub.add_parser("role", help="change a console user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    rm = usub.add_parser("remove", help="remove a console user")
    rm.add_argument("name")
    ls = usub.add_parser("list", help="list console users")
    ls.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def _password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("password: ")
    if password != getpass.getpass("again: "):
        print("the passwords differ", file=sys.stderr)
        return None
    return password


def run(args: argparse.Namespace, settings: Settings) -> int:
    accounts = Accounts(settings.store_url)
    try:
        if args.ucommand == "list":
            users = accounts.users()
            if args.json:
                for u in users:
                    print(json.dumps({"name": u.name, "role": u.role}))
            else:
                for u in users:
                    print(f"{u.name}\t{u.role}")
            return 0
        what = _change(accounts, args)
    except ValueError as exc:
        print(f"mailward: {exc}", file=sys.stderr)
        return 1
    finally:
        accounts.close()
    if what is None:
        return 1
    store = open_store(settings.store_url)
    try:
        store.audit(getpass.getuser(), f"user-{args.ucommand}", f"user:{args.name}", [], what)
    finally:
        store.close()
    print(what)
    return 0


def _change(accounts: Accounts, args: argparse.Namespace) -> str | None:
    """Make the change; a line saying what was done, or None when nothing was."""
    if args.ucommand in ("add", "passwd"):
        password = _password(args.password_stdin)
        if password is None:
            return None
        if args.ucommand == "add":
            accounts.add_user(args.name, password, args.role)
            return f"added {args.name} ({args.role})"
        accounts.set_password(args.name, password)
        return f"password of {args.name} changed; its sessions ended"
    if args.ucommand == "role":
        accounts.set_role(args.name, args.role)
        return f"{args.name} is now {args.role}; its sessions ended"
    accounts.remove_user(args.name)
    return f"removed {args.name}"
