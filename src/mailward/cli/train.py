"""`mailward train DIR` and `mailward report ID --as LABEL`: the content classifier's training loop.

``train`` reads DIR/{ham,spam,phish}, holds out 25 % by content hash (see
:mod:`mailward.classifier.split`; ``--holdout-fraction`` changes the share, 0 trains on all),
adds the analyst feedback recorded in the store (weighed 3x), fits the model, writes it
(``--out``, default ``<data_dir>/content_model``: a .json and a .npz; point
``[detectors.content] model_path`` at it) and prints per-class counts and held-out metrics.

``report`` labels a quarantined message (by its store id) as ham, spam or phish for the next
training run.
"""

from __future__ import annotations

import argparse
import getpass
import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from mailward.classifier import FeatureSpec, training
from mailward.classifier.split import DEFAULT_HOLDOUT_FRACTION
from mailward.config.settings import Settings
from mailward.errors import MailwardError
from mailward.store import open_store
from mailward.store.feedback import LABELS, FeedbackStore


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("train", help="train the content classifier on a labelled corpus")
    p.add_argument("corpus", type=Path, metavar="DIR", help="folder with ham/, spam/, phish/")
    p.add_argument("--out", type=Path, default=None, help="model path (.json + .npz written)")
    p.add_argument(
        "--holdout-fraction", type=float, default=DEFAULT_HOLDOUT_FRACTION, metavar="F",
        help="share held out for testing by content hash (default 0.25: sha256 %% 4 == 0)",
    )  # fmt: skip
    p.add_argument("--no-feedback", action="store_true", help="ignore analyst feedback")
    p.add_argument(
        "--attachment-features", action="store_true",
        help="also learn from attachment types (only if the ham kept its attachments)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run, train_command="train")
    r = sub.add_parser("report", help="label a quarantined message for classifier training")
    r.add_argument("id", help="quarantine id of the message")
    r.add_argument("--as", dest="label", required=True, choices=LABELS)
    r.add_argument("--reason", required=True, help="why (kept with the sample)")
    r.add_argument("--actor", default=None, help="who (default: the login name)")
    r.set_defaults(run=run, train_command="report")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.train_command == "report":
        return report(settings, args.id, args.label, args.actor or getpass.getuser(), args.reason)
    return train(args, settings)


def report(settings: Settings, entry_id: str, label: str, actor: str, reason: str) -> int:
    """Record the quarantined message ``entry_id`` as a ``label`` sample."""
    store = open_store(settings.store_url)
    try:
        raw = store.quarantine_raw(entry_id)
    finally:
        store.close()
    if raw is None:
        raise MailwardError(
            f"no stored message {entry_id!r} (only quarantined mail keeps its bytes)"
        )
    feedback = FeedbackStore(settings.store_url)
    try:
        sample_id = feedback.add(label, raw, actor, reason)
    finally:
        feedback.close()
    Console().print(f"recorded {entry_id} as {label} (feedback sample {sample_id})")
    return 0


def _feedback(settings: Settings) -> list[tuple[str, bytes]]:
    store = FeedbackStore(settings.store_url)
    try:
        return [(s.label, s.raw) for s in store.iter_samples()]
    finally:
        store.close()


def train(args: argparse.Namespace, settings: Settings) -> int:
    if not 0.0 <= args.holdout_fraction < 1.0:
        raise MailwardError("--holdout-fraction must be at least 0 and below 1")
    started = time.monotonic()
    corpus = training.load_corpus(args.corpus, args.holdout_fraction)
    feedback = 0 if args.no_feedback else training.add_feedback(corpus, _feedback(settings))
    spec = FeatureSpec(attachment_features=args.attachment_features)
    model = training.fit(corpus.train, spec)
    metrics = training.evaluate(model, corpus.test)
    model.info.update(
        {
            "trained_on": {"corpus": args.corpus.name, "counts": corpus.counts(),
                           "feedback_samples": feedback, "holdout_fraction": args.holdout_fraction},
            "holdout_metrics": metrics,
            "thresholds": training.recommended_thresholds(metrics),
        }
    )  # fmt: skip
    out = args.out or settings.data_dir / "content_model"
    json_path, npz_path = model.save(out)
    summary = {
        "model": str(json_path), "weights": str(npz_path), "counts": corpus.counts(),
        "unparsed": corpus.unparsed, "feedback_samples": feedback, "holdout": metrics,
        "thresholds": model.info["thresholds"], "seconds": round(time.monotonic() - started, 1),
    }  # fmt: skip
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    return 0


def _print_summary(summary: dict[str, Any]) -> None:
    console = Console()
    counts = Table("class", "train", "held out")
    for label, part in summary["counts"].items():
        counts.add_row(label, str(part["train"]), str(part["test"]))
    console.print(counts)
    console.print(
        f"feedback samples: {summary['feedback_samples']}; unparsed: {summary['unparsed']}"
    )
    holdout = summary["holdout"]
    if not holdout:
        console.print("no held-out messages: no metrics")
    else:
        console.print(f"held-out accuracy {holdout['accuracy']:.4f} on {holdout['n']} messages")
        console.print(f"held-out recall per class: {holdout['per_class_recall']}")
        for target in ("phish", "spam"):
            if f"{target}_recall_at_ham_fpr" in holdout:
                points = holdout[f"{target}_recall_at_ham_fpr"]
                shown = ", ".join(f"{v:.3f} at ham FPR {k}" for k, v in points.items())
                console.print(f"{target} recall: {shown}")
    console.print(f"thresholds: {summary['thresholds']}")
    console.print(f"model written to {summary['model']} and {summary['weights']}")
