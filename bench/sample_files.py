"""Verdicts on other projects' test sample files, each attached to a plain message (run by hand).

    git clone https://github.com/decalage2/oletools /tmp/oletools     # or: fetch + git archive
    python bench/sample_files.py /tmp/oletools/tests/test-data [--json] [--show deliver,tag]

Every file under the folders becomes the attachment of one message from an outside sender (the
file's own name; ``.zip`` files of the oletools suite, which it keeps zipped with the password
"infected", are opened first when they hold one file), scanned offline on the shipped defaults.
Printed: one line per file (action, score, the symbols that scored) for the actions asked with
``--show`` (default: deliver and tag), then the count of each action per top folder. Which
verdict a sample must get is for the reader to judge: the suites mix attacks and clean controls
(oletools' ``harmless-clean.*`` and ``embedded-simple-*`` hold nothing that runs).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import zipfile
from collections import Counter, defaultdict
from email.message import EmailMessage
from pathlib import Path

from mailward.config import load_settings
from mailward.engine.pipeline import Engine
from mailward.model import Envelope
from mailward.runtime.clients import build_clients

ENVELOPE = Envelope(mail_from="bob@partner.example.net", rcpt_tos=("alice@example.com",))


def unpacked(path: Path) -> tuple[str, bytes]:
    """(name, bytes) to attach: a one-file zip with the suites' password is opened first."""
    data = path.read_bytes()
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
                if len(names) == 1:
                    return names[0], archive.read(names[0], pwd=b"infected")
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError):
            pass  # AES or not a zip: attached as it is
    return path.name, data


def message(name: str, data: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Bob <bob@partner.example.net>"
    msg["To"] = "alice@example.com"
    msg["Subject"] = f"File {name}"
    msg.set_content("The file is attached.")
    msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return bytes(msg)


async def scan_all(folders: list[Path]) -> list[dict[str, object]]:
    settings = load_settings(None)
    engine = Engine(settings, clients=build_clients(settings, offline=True))
    rows: list[dict[str, object]] = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name, data = unpacked(path)
            verdict = (await engine.scan(message(name, data), ENVELOPE)).verdict
            rel = path.relative_to(folder)
            rows.append({
                "file": str(rel), "group": rel.parts[0] if len(rel.parts) > 1 else ".",
                "action": str(verdict.action), "score": round(verdict.score, 1),
                "symbols": sorted({f.symbol for f in verdict.findings if f.score > 0}),
            })
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--show", default="deliver,tag", help="actions to list file by file")
    args = ap.parse_args()
    rows = asyncio.run(scan_all(args.folders))
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    show = set(args.show.split(","))
    for row in rows:
        if row["action"] in show:
            print(f"{row['action']:10} {row['score']:6} {row['file']:60} "
                  f"{','.join(row['symbols'])}")  # type: ignore[arg-type]
    per: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        per[str(row["group"])][str(row["action"])] += 1
    print(f"\n{'folder':24} {'files':>5}  actions")
    for group, counts in sorted(per.items()):
        print(f"{group:24} {sum(counts.values()):5}  "
              + ", ".join(f"{a} {n}" for a, n in counts.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
