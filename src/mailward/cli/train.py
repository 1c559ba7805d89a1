"""`mailward train DIR` and `mailward report ID --as LABEL`: the content classifier's training loop.

``train`` reads DIR/{ham,spam,phish}, holds out 25 % by content hash (see
:mod:`mailward.classifier.split`; ``--holdout-fraction`` changes the share, 0 trains on all),
adds the analyst feedback recorded in the store (weighed 3x) to the training part, chooses the
decision thresholds out-of-fold on the training part (``--folds``, default 4; see
:mod:`mailward.classifier.cv`), fits the final model on the whole training part, writes it
(``--out``, default ``<data_dir>/content_model``: a .json and a .npz; point
``[detectors.content] model_path`` at it) and prints per-class counts, the cross-validated
thresholds and the held-out numbers at those thresholds (report only: nothing is tuned on them).

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

from mailward.classifier import FeatureSpec, cv, training
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
    p.add_argument(
        "--folds", type=int, default=cv.FOLDS, metavar="K",
        help="cross-validation folds over the training part for the thresholds (default 4)",
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
    if args.folds < 2:
        raise MailwardError("--folds must be at least 2")
    started = time.monotonic()
    corpus = training.load_corpus(args.corpus, args.holdout_fraction)
    feedback = 0 if args.no_feedback else training.add_feedback(corpus, _feedback(settings))
    spec = FeatureSpec(attachment_features=args.attachment_features)
    model = cv.train(corpus, spec, folds=args.folds)
    model.info["trained_on"] = {
        "corpus": args.corpus.name, "counts": corpus.counts(), "feedback_samples": feedback,
        "holdout_fraction": args.holdout_fraction,
    }  # fmt: skip
    out = args.out or settings.data_dir / "content_model"
    json_path, npz_path = model.save(out)
    summary = {
        "model": str(json_path), "weights": str(npz_path), "counts": corpus.counts(),
        "unparsed": corpus.unparsed, "feedback_samples": feedback, "folds": args.folds,
        "thresholds_at_ham_fpr": model.info["thresholds_at_ham_fpr"],
        "holdout_report_only": model.info["holdout_metrics"],
        "seconds": round(time.monotonic() - started, 1),
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
    thresholds = summary["thresholds_at_ham_fpr"]
    title = f"thresholds at ham FPR ({summary['folds']}-fold CV, training part only)"
    table = Table("class", *(cv.fpr_label(f) for f in cv.FPR_POINTS), title=title)
    for target, points in thresholds.items():
        table.add_row(target, *(f"{t:.4f}" for t in points.values()))
    console.print(table if thresholds else "no training ham: no thresholds")
    _print_holdout(console, summary["holdout_report_only"])
    console.print(f"trained in {summary['seconds']} s")
    console.print(f"model written to {summary['model']} and {summary['weights']}")


def _print_holdout(console: Console, holdout: dict[str, Any]) -> None:
    if not holdout:
        console.print("no held-out messages: no report")
        return
    console.print(
        f"held-out (REPORT ONLY, not used for any choice): {holdout['n']} messages, "
        f"accuracy {holdout['accuracy']:.4f}, recall per class {holdout['per_class_recall']}"
    )
    table = Table("class", "band (CV ham FPR)", "threshold", "recall", "held-out ham FPR",
                  title="held-out at the CV thresholds (report only)")  # fmt: skip
    for target, points in holdout["at_cv_thresholds"].items():
        for label, row in points.items():
            table.add_row(target, label, f"{row['threshold']:.4f}",
                          _num(row["recall"]), _num(row["ham_fpr"], 5))  # fmt: skip
    console.print(table)


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
