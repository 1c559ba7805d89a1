"""Scan the public "MIME is broken" corpus through the engine and print the pass rate per family.

    python bench/mime_is_broken.py PATH [--json] [--fails] [--only hide-content|hide-filename]

PATH is a checked-out copy of https://github.com/noxxi/mime-is-broken (Steffen Ullrich,
GPL-3.0; not copied into this repository), e.g.::

    git clone https://github.com/noxxi/mime-is-broken /tmp/mib
    # or, from a bare mirror (e.g. one fetched for review):
    mkdir /tmp/mib && git --git-dir=MIRROR archive HEAD | tar -x -C /tmp/mib

It holds two maildirs, each message marked by its ``X-Payload-Id`` header
(``<id> valid(<level>) md5(...) <payload> <date>``; the level is 3 for plainly valid MIME down
to 0 for clearly broken):

- ``hide-content.d``: 372 messages that pack eicar.zip (a ZIP holding the EICAR test file as
  eicar.com) into MIME that parsers read differently. **Pass**: the message is blocked
  (quarantine or reject) or its hidden content is found (the engine's reading holds the ZIP
  whose member is eicar.com, i.e. ATT_ARCHIVE_EXECUTABLE or MIME_HIDDEN_CONTENT fired).
- ``hide-filename.d``: 176 messages that carry a file named test.zip (its content is text)
  under a name spelled so that filters miss the ".zip". Scanned with the operator policy
  ``[detectors.attachments] blocked_extensions = [".zip"]``. **Pass**: blocked. The two
  ``fname-ctype.png`` / ``fname-cdisp.png`` messages are the corpus's own controls (the file
  is plainly named file.png, no .zip anywhere): **pass** for them is that the name policy does
  not block them (no ATT_BLOCKED_TYPE; other checks may still hold them: their "file.png" is
  text, which ATT_TYPE_MISMATCH reports).

Four hide-content messages (the BinHex ones: ``binhex``, ``binhex40``, ``mac-binhex``,
``mac-binhex40``) carry no payload at all: the generator wrote a Perl array reference
("ARRAY(0x...)") where the BinHex of eicar.zip should be, so there is nothing to find. They
are listed as ``no payload`` and left out of the rate (the script checks this by decoding the
BinHex; a fixed corpus would be counted normally).

The family of a message is its id without the payload encoding variant (the first two
dash-separated words of the id: "multipart-hidekey", "multipart-basic-singlepart-b64h", ...),
so the table shows which trick is caught and which is not. The engine is built as ``mailward
eval`` builds it: default settings, DNS offline. Exit status 1 when the overall pass rate is
below TARGET (98%) or a control is blocked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mailward.config.settings import Settings
from mailward.engine.pipeline import Engine
from mailward.mime._salvage import _binhex  # the BinHex reading the engine itself makes
from mailward.runtime.clients import build_clients

TARGET = 0.98
BLOCKED = frozenset({"quarantine", "reject"})
FOUND = frozenset({"ATT_ARCHIVE_EXECUTABLE", "MIME_HIDDEN_CONTENT", "ATT_BLOCKED_TYPE"})
CONTROLS = frozenset({"fname-ctype.png", "fname-cdisp.png"})
_PAYLOAD_ID = re.compile(rb"^X-Payload-Id:[ \t]*(\S+)[ \t]+valid\((\d)\)", re.MULTILINE)


@dataclass
class Row:
    family: str
    messages: int = 0
    blocked: int = 0
    found: int = 0
    passed: int = 0
    controls: int = 0
    fails: list[str] = field(default_factory=list)


def family_of(corpus: str, payload_id: str) -> str:
    if corpus == "hide-filename":
        ident = payload_id.removeprefix("fname-")
        return "fname-" + re.split(r"[.]", ident, maxsplit=1)[0] + (
            "-rfc2231" if "rfc2231" in ident else "-rfc2047" if "rfc2047" in ident else ""
        )
    words = payload_id.split("-")
    if words[:2] == ["multipart", "basic"]:
        return "-".join(words[:4]) if len(words) > 3 else payload_id
    return "-".join(words[:2])


def _no_payload(raw: bytes) -> bool:
    """The corpus's BinHex messages hold the BinHex of "ARRAY(0x...)", not of eicar.zip."""
    if b"This file must be converted with BinHex" not in raw:
        return False
    tail = raw[raw.find(b"eicar.zip") :]
    return _binhex(tail).startswith(b"ARRAY(0x")


def settings_for(corpus: str) -> Settings:
    if corpus == "hide-filename":
        return Settings.model_validate(
            {"detectors": {"attachments": {"blocked_extensions": [".zip"]}}}
        )
    return Settings()


async def scan_corpus(root: Path, corpus: str) -> dict[str, Row]:
    folder = root / f"{corpus}.d"
    settings = settings_for(corpus)
    engine = Engine(settings, clients=build_clients(settings, offline=True))
    rows: dict[str, Row] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        match = _PAYLOAD_ID.search(raw)
        if match is None:
            continue
        payload_id = match[1].decode("ascii", "replace")
        if _no_payload(raw):
            rows.setdefault("(no payload: BinHex of a Perl reference)", Row("(no payload)"))
            rows["(no payload: BinHex of a Perl reference)"].controls += 1
            rows["(no payload: BinHex of a Perl reference)"].fails.append(payload_id)
            continue
        outcome = await engine.scan(raw)
        action = str(outcome.verdict.action)
        symbols = {f.symbol for f in outcome.verdict.findings}
        row = rows.setdefault(family_of(corpus, payload_id), Row(family_of(corpus, payload_id)))
        row.messages += 1
        blocked = action in BLOCKED
        found = bool(symbols & FOUND)
        row.blocked += blocked
        row.found += found
        if payload_id in CONTROLS:
            row.controls += 1
            ok = "ATT_BLOCKED_TYPE" not in symbols
        else:
            ok = blocked or found
        row.passed += ok
        if not ok:
            row.fails.append(f"{payload_id} valid({match[2].decode()}): {action} {sorted(symbols)}")
    return rows


def print_table(corpus: str, rows: dict[str, Row], fails: bool) -> tuple[int, int, int]:
    total = sum(r.messages for r in rows.values())
    passed = sum(r.passed for r in rows.values())
    lost = sum(1 for r in rows.values() for f in r.fails if f.split()[0] in CONTROLS)

    print(f"\n{corpus}: {passed} of {total} pass ({100 * passed / max(total, 1):.1f}%)")
    print(f"{'family':48} {'msgs':>5} {'blocked':>8} {'found':>6} {'pass':>5} {'rate':>7}")
    for row in sorted(rows.values(), key=lambda r: r.family):
        if not row.messages:
            print(f"{row.family:48} {row.controls:5} left out: {', '.join(row.fails)}")
            continue
        rate = 100 * row.passed / row.messages
        note = f"  ({row.controls} control)" if row.controls else ""
        print(
            f"{row.family:48} {row.messages:5} {row.blocked:8} {row.found:6} {row.passed:5} "
            f"{rate:6.1f}%{note}"
        )
        if fails:
            for fail in row.fails:
                print(f"    FAIL {fail}")
    return passed, total, lost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("path", type=Path, help="checked-out copy of noxxi/mime-is-broken")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--fails", action="store_true", help="list the failing messages")
    parser.add_argument("--only", choices=("hide-content", "hide-filename"), action="append")
    args = parser.parse_args(argv)
    corpora = args.only or ["hide-content", "hide-filename"]
    missing = [c for c in corpora if not (args.path / f"{c}.d").is_dir()]
    if missing:
        print(f"{args.path}: no {missing[0]}.d folder (see --help)", file=sys.stderr)
        return 2
    results = {c: asyncio.run(scan_corpus(args.path, c)) for c in corpora}
    if args.json:
        print(json.dumps({c: {f: vars(r) for f, r in rows.items()} for c, rows in results.items()}))
        return 0
    passed = total = lost = 0
    for corpus, rows in results.items():
        p, t, lo = print_table(corpus, rows, args.fails)
        passed, total, lost = passed + p, total + t, lost + lo
    rate = passed / max(total, 1)
    print(f"\nall: {passed} of {total} pass ({100 * rate:.1f}%), controls blocked: {lost}")
    return 0 if rate >= TARGET and lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
