"""The content classifier: split, features (sender content only), training, pickle-free save/load."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from classifier_corpus import message, write_corpus

from mailward.classifier import (
    FeatureSpec,
    Featurizer,
    ModelError,
    in_holdout,
    load_model,
    load_shipped,
    training,
)
from mailward.classifier.split import split_key
from mailward.config.settings import LimitSettings
from mailward.mime import parse_message

SMALL = FeatureSpec(word_features=2**12, char_features=2**12, meta_features=2**8)


def parsed(raw: bytes):  # type: ignore[no-untyped-def]
    return parse_message(raw, LimitSettings())


def test_in_holdout_follows_the_documented_rule() -> None:
    raws = [f"message {i}".encode() for i in range(400)]
    for raw in raws:
        expected = int(hashlib.sha256(raw).hexdigest()[:8], 16) % 4 == 0
        assert in_holdout(raw) is expected
        assert in_holdout(raw) is in_holdout(bytes(raw))  # deterministic
    share = sum(map(in_holdout, raws)) / len(raws)
    assert 0.18 < share < 0.32
    assert not any(in_holdout(raw, 0.0) for raw in raws)
    assert all(in_holdout(raw, 1.0) for raw in raws)
    tenth = [raw for raw in raws if in_holdout(raw, 0.1)]
    assert tenth == [raw for raw in raws if split_key(raw) % 10 == 0]
    with pytest.raises(ValueError):
        in_holdout(b"x", 1.5)


def test_features_ignore_headers_and_addresses() -> None:
    body = "Please verify your account at the link below."
    link = "http://login.example-verify.top/verify"
    a = message("Verify now", body, link, 1)
    b = message(
        "Verify now",
        body,
        link,
        2,
        From="Other Person <other@elsewhere.example>",
        Date="Tue, 05 Mar 2002 08:00:00 -0800",
        Message_ID="<zzz@old.example>",
        X_Mailer="Some Mailer 5.0",
    )
    assert a != b
    rows = Featurizer(SMALL).transform([parsed(a), parsed(b)])
    assert (rows[0] != rows[1]).nnz == 0


def test_features_change_with_the_body_and_links() -> None:
    a = message("Hello", "Lunch at noon?", None, 1)
    b = message("Hello", "Lunch at noon?", "http://192.0.2.7/menu", 1)
    c = message("Hello", "Dinner at eight?", None, 1)
    rows = Featurizer(SMALL).transform([parsed(a), parsed(b), parsed(c)])
    assert (rows[0] != rows[1]).nnz > 0
    assert (rows[0] != rows[2]).nnz > 0
    assert rows.shape == (3, SMALL.n_features)


def test_train_save_load_and_predict(tmp_path: Path) -> None:
    corpus = training.load_corpus(write_corpus(tmp_path / "corpus"), holdout_fraction=0.0)
    assert not corpus.test and len(corpus.train) == 64
    model = training.fit(corpus.train, SMALL)
    json_path, npz_path = model.save(tmp_path / "m" / "model")
    with np.load(npz_path, allow_pickle=False) as npz:
        assert npz["coef_values"].dtype == np.float32
    loaded = load_model(tmp_path / "m" / "model")
    assert loaded.classes == ("ham", "spam", "phish")
    phishy = parsed(
        message(
            "Action needed",
            "Confirm your password to keep your account active.",
            "http://secure-login.example-verify.top/account",
            99,
        )
    )
    plain = parsed(message("Minutes", "Attached are the minutes of the budget meeting.", None, 98))
    p_phish, p_plain = loaded.predict([phishy, plain])
    assert p_phish["phish"] > 0.5 > p_plain["phish"]
    assert p_phish["phish"] > p_plain["phish"] + 0.3
    assert loaded.predict([phishy]) == model.predict([phishy])
    assert json.loads(json_path.read_text())["format"] == "mailward-linear-v1"


def test_pickled_arrays_are_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(
        json.dumps(
            {
                "format": "mailward-linear-v1",
                "classes": ["ham", "phish"],
                "features": SMALL.to_json(),
            }
        )
    )
    np.savez(
        tmp_path / "bad.npz",
        coef_rows=np.array([object()], dtype=object),
        coef_cols=np.array([0]),
        coef_values=np.array([1.0]),
        intercept=np.zeros(2),
    )
    with pytest.raises(ModelError):
        load_model(tmp_path / "bad")
    with pytest.raises(ModelError, match="cannot read"):
        load_model(tmp_path / "missing")


def test_wrong_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps({"format": "other"}))
    np.savez(tmp_path / "m.npz", intercept=np.zeros(2))
    with pytest.raises(ModelError, match="not a mailward-linear-v1"):
        load_model(tmp_path / "m")


def test_pruning_keeps_the_largest_weights() -> None:
    coef = np.array([[0.1, -3.0, 0.0], [2.0, 0.01, -0.5]], dtype=np.float32)
    pruned = training.prune(coef, keep=2)
    assert pruned.tolist() == [[0.0, -3.0, 0.0], [2.0, 0.0, 0.0]]
    assert training.prune(coef, keep=10) is coef


def test_training_needs_two_classes(tmp_path: Path) -> None:
    corpus = training.load_corpus(write_corpus(tmp_path / "c", copies=1), holdout_fraction=0.0)
    only_ham = [s for s in corpus.train if s.label == "ham"]
    with pytest.raises(Exception, match="two classes"):
        training.fit(only_ham, SMALL)
    with pytest.raises(Exception, match="no class folders"):
        training.load_corpus(tmp_path / "nowhere")


def test_the_shipped_model_loads_without_pickle() -> None:
    from importlib import resources

    folder = resources.files("mailward.classifier") / "model"
    with (folder / "content_model.npz").open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["coef_cols", "coef_rows", "coef_values", "intercept"]
        assert all(npz[name].dtype != object for name in npz.files)
    model = load_shipped()
    assert model.classes == ("ham", "spam", "phish")
    for target in ("phish", "spam"):
        points = model.thresholds_at_ham_fpr(target)
        assert list(points) == ["0.1%", "0.3%", "0.5%", "1%", "2%"]
        assert all(0.0 <= t < 1.0 for t in points.values())
        assert list(points.values()) == sorted(points.values(), reverse=True)
    assert model.info["holdout_metrics"]["report_only"] is True
    assert "thresholds" not in model.info  # the old held-out-tuned thresholds are gone


def test_fallback_hashing_gives_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    from mailward.classifier import features

    msgs = [
        parsed(message("Invoice", "Please find the invoice attached, café déjà vu.", None, 1)),
        parsed(message("Verify", "Verify your account now", "http://198.51.100.4/a/login", 2)),
    ]
    fast = Featurizer(SMALL).transform(msgs)
    monkeypatch.setattr(features, "_hash_fast", None)
    slow = Featurizer(SMALL).transform(msgs)
    assert fast.shape == slow.shape
    assert abs(fast - slow).max() < 1e-6
    assert fast.nnz > 0


def test_attachment_features_only_when_the_spec_asks() -> None:
    from email.message import EmailMessage

    def with_pdf(attach: bool) -> bytes:
        msg = EmailMessage()
        msg["From"] = "a@example.net"
        msg["Subject"] = "Report"
        msg.set_content("The report is attached.")
        if attach:
            msg.add_attachment(
                b"%PDF-1.4\n%%EOF\n", maintype="application", subtype="pdf", filename="report.pdf"
            )
        return msg.as_bytes()

    plain, attached = parsed(with_pdf(False)), parsed(with_pdf(True))
    off = Featurizer(SMALL).transform([plain, attached])
    assert (off[0] != off[1]).nnz == 0
    spec_on = FeatureSpec(2**12, 2**12, 2**8, attachment_features=True)
    on = Featurizer(spec_on).transform([plain, attached])
    assert (on[0] != on[1]).nnz > 0
    assert FeatureSpec.from_json(spec_on.to_json()) == spec_on


def test_identity_features_carry_the_outcome_not_the_sender() -> None:
    from mailward.classifier.features import DENSE_NAMES
    from mailward.identity import FEATURE_NAMES

    body = "Your parcel was delivered. Track it below."
    own = message("Delivered", body, "https://www.shop-example.com/track", 1,
                  From="Shop Example <orders@shop-example.com>")
    other_own = message("Delivered", body, "https://www.store-example.com/track", 1,
                        From="Store Example <orders@store-example.com>")
    foreign = message("Delivered", body, "https://www.shop-example.com/track", 1,
                      From="Shop Example <orders@elsewhere-example.com>")
    spec = FeatureSpec(word_features=2**12, char_features=2**12, meta_features=2**8)
    rows = Featurizer(spec).transform([parsed(own), parsed(other_own), parsed(foreign)]).toarray()
    at = spec.n_features - len(FEATURE_NAMES)
    consistent = FEATURE_NAMES.index("idv_consistent")
    assert spec.n_features == 2**12 + 2**12 + 2**8 + len(DENSE_NAMES) + len(FEATURE_NAMES)
    # two senders that each link to themselves: the same identity outcome
    assert (rows[0][at:] == rows[1][at:]).all() and rows[0][at + consistent] == 1.0
    # the same text from a sender its links do not belong to: a different outcome
    assert rows[2][at + consistent] == 0.0
