"""`mailward train` and `mailward report`, and the analyst feedback store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "classifier"))
from classifier_corpus import message, write_corpus

from mailward.classifier import load_model, training
from mailward.cli import train as train_cmd
from mailward.config.settings import Settings
from mailward.errors import MailwardError
from mailward.model import Action
from mailward.store import MessageRecord, open_store
from mailward.store.feedback import FeedbackStore, record_release_feedback


def cli(argv: list[str], settings: Settings) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    train_cmd.add_parser(sub)
    args = parser.parse_args(argv)
    code: int = args.run(args, settings)
    return code


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def quarantine(settings: Settings, raw: bytes, entry_id: str = "q1") -> None:
    store = open_store(settings.store_url)
    rec = MessageRecord(
        id=entry_id,
        received_at=1.0,
        mail_from="a@example.net",
        rcpt_tos=("b@example.com",),
        peer_ip="127.0.0.1",
        message_id="<x@example.net>",
        subject="s",
        size=len(raw),
        sha256="0" * 64,
        score=12.0,
        action=Action.QUARANTINE,
        reason="test",
        findings=(),
    )
    store.quarantine(rec, raw)
    store.close()


def test_feedback_store_round_trip(settings: Settings) -> None:
    store = FeedbackStore(settings.store_url, clock=lambda: 42.0)
    first = store.add("phish", b"raw one", "ana", "credential lure")
    second = store.add("ham", b"raw two", "bo", "newsletter")
    samples = list(store.iter_samples(batch=1))
    store.close()
    assert [s.id for s in samples] == [first, second]
    assert samples[0].label == "phish" and samples[0].raw == b"raw one"
    assert samples[0].actor == "ana" and samples[0].reason == "credential lure"
    assert samples[0].at == 42.0
    reopened = FeedbackStore(settings.store_url)
    assert len(list(reopened.iter_samples())) == 2
    with pytest.raises(ValueError, match="label"):
        reopened.add("malware", b"x", "ana", "no")
    reopened.close()


def test_release_feedback_is_ham(settings: Settings) -> None:
    record_release_feedback(settings, b"released bytes", "ana", "false positive")
    store = FeedbackStore(settings.store_url)
    (sample,) = store.iter_samples()
    store.close()
    assert sample.label == "ham" and sample.raw == b"released bytes"
    assert "false positive" in sample.reason


def test_report_records_a_quarantined_message(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = message("Verify", "Confirm your password now.", None, 7)
    quarantine(settings, raw)
    assert (
        cli(["report", "q1", "--as", "phish", "--reason", "lure", "--actor", "ana"], settings) == 0
    )
    assert "recorded q1 as phish" in capsys.readouterr().out
    store = FeedbackStore(settings.store_url)
    (sample,) = store.iter_samples()
    store.close()
    assert (sample.label, sample.raw, sample.actor) == ("phish", raw, "ana")


def test_report_of_unknown_id_fails(settings: Settings) -> None:
    with pytest.raises(MailwardError, match="no stored message"):
        cli(["report", "nope", "--as", "ham", "--reason", "x"], settings)


def test_train_writes_a_model_and_prints_metrics(
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    corpus = write_corpus(tmp_path / "corpus", copies=6)
    out = tmp_path / "model" / "m"
    assert cli(["train", str(corpus), "--out", str(out), "--attachment-features"], settings) == 0
    printed = capsys.readouterr().out
    model = load_model(out)
    assert model.spec.attachment_features is True
    assert model.info["trained_on"]["counts"]["phish"]["test"] > 0
    assert "thresholds at ham FPR (4-fold CV, training part only)" in printed
    t01 = model.thresholds_at_ham_fpr("phish")["0.1%"]
    assert f"{t01:.4f}" in printed and "0.3%" in printed and "2%" in printed
    assert "held-out (REPORT ONLY, not used for any choice)" in printed
    assert "held-out at the CV thresholds (report only)" in printed
    report = model.info["holdout_metrics"]
    assert report["report_only"] is True
    assert set(report["at_cv_thresholds"]) == {"phish", "spam"}


def test_train_json_counts_feedback_and_holdout_zero(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = FeedbackStore(settings.store_url)
    store.add("phish", message("Verify", "Confirm your password now.", None, 5), "ana", "x")
    store.close()
    corpus = write_corpus(tmp_path / "corpus", copies=2)
    out = tmp_path / "m"
    argv = ["train", str(corpus), "--out", str(out), "--holdout-fraction", "0", "--json"]
    assert cli(argv, settings) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["feedback_samples"] == 1
    assert summary["holdout_report_only"] == {}
    assert summary["counts"]["ham"] == {"train": 12, "test": 0}
    assert summary["folds"] == 4
    assert set(summary["thresholds_at_ham_fpr"]["phish"]) == {"0.1%", "0.3%", "0.5%", "1%", "2%"}
    assert cli([*argv, "--no-feedback"], settings) == 0
    assert json.loads(capsys.readouterr().out)["feedback_samples"] == 0


def test_feedback_weighs_three_times(tmp_path: Path) -> None:
    corpus = training.Corpus()
    added = training.add_feedback(
        corpus, [("phish", message("a", "b", None, 1)), ("bogus", b"x"), ("ham", b"not a message")]
    )
    assert added == 1 and corpus.train[0].weight == training.FEEDBACK_WEIGHT == 3.0


def test_bad_holdout_fraction_is_refused(settings: Settings, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", copies=1)
    with pytest.raises(MailwardError, match="holdout"):
        cli(["train", str(corpus), "--holdout-fraction", "1.5"], settings)
    with pytest.raises(MailwardError, match="folds"):
        cli(["train", str(corpus), "--folds", "1"], settings)


def test_train_with_no_holdout_says_so(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = write_corpus(tmp_path / "corpus", copies=2)
    argv = ["train", str(corpus), "--out", str(tmp_path / "m"), "--holdout-fraction", "0"]
    assert cli([*argv, "--folds", "3", "--no-feedback"], settings) == 0
    printed = capsys.readouterr().out
    assert "no held-out messages: no report" in printed
    assert "(3-fold CV, training part only)" in printed
