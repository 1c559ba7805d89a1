"""The gateway's campaign observation alone, on the SMTP load's stream (run by hand).

    python bench/campaign_replay.py [--messages 3000] [--batch 8] [--profile]

``bench/smtp_load.py``'s six synthetic messages (one campaign), rotating, each with the
signature its scan process would send, received one every 20 ms from 127.0.0.10-14, go
through :meth:`Campaigns.observe_many` in batches of ``--batch`` (the observer thread takes
what the spool workers started meanwhile), on a throw-away SQLite store. Printed: CPU ms per
message of the whole observation (index and store). Made for callgrind
(``valgrind --tool=callgrind python3 bench/campaign_replay.py``) and pinned pairs.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from smtp_load import RCPT, synthetic_messages

from mailward.activity.campaign_index import text_signature
from mailward.activity.campaigns import Campaigns, Observed
from mailward.config.settings import LimitSettings, Settings
from mailward.mime import parse_message
from mailward.model import Action, Envelope, Verdict
from mailward.store import open_store

T0 = 1_800_000_000.0
CLEAN = Verdict(Action.DELIVER, 0.0, "clean")


def observations(settings: Settings, count: int) -> list[Observed]:
    raws = synthetic_messages()
    parsed = [parse_message(raw, LimitSettings()) for raw in raws]
    out = []
    for n in range(count):
        k = n % len(raws)
        env = Envelope(mail_from=f"sender{k}@partner.example.net", rcpt_tos=(RCPT,),
                       peer_ip=f"127.0.0.{10 + n % 5}", received_at=T0 + n * 0.02)
        out.append(Observed(f"r{n}", env, parsed[k], CLEAN,
                            text_signature(settings, env, parsed[k])))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--setup-only", action="store_true",
                    help="make the observations but observe none (callgrind's fixed cost)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/m.db"
        settings = Settings.model_validate({"data_dir": tmp, "store": {"url": url}})
        store = open_store(url)
        found = Campaigns(settings, store, now=T0)
        found.ready()
        batch = observations(settings, args.messages)
        profile = cProfile.Profile() if args.profile else None
        started = time.process_time()
        if profile is not None:
            profile.enable()
        for start in range(0, 0 if args.setup_only else len(batch), args.batch):
            found.observe_many(batch[start:start + args.batch], T0)
        if profile is not None:
            profile.disable()
        cpu = time.process_time() - started
        print(f"{args.messages} observations, batches of {args.batch}: "
              f"{cpu * 1000 / args.messages:.3f} CPU ms/msg; clusters {len(found.index.sizes)}, "
              f"largest {max(found.index.sizes.values(), default=0)}")
        found.close()
        store.close()
        if profile is not None:
            pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
