"""LureDetector: social-engineering cues per category and language, misses on ordinary mail."""

from __future__ import annotations

import pytest
from helpers_detectors import by_symbol, make_message, run

from mailward.config.settings import Settings
from mailward.detectors import lures
from mailward.detectors._lure_phrases import fold, parse_lines
from mailward.detectors.lures import LureDetector, LureSettings
from mailward.engine.isolation import IsolatedEngine, _child
from mailward.engine.isolation._child import ChildConfig
from mailward.engine.pipeline import Engine
from mailward.response.lockdown import Level

DETECTOR = LureDetector(LureSettings())

# (symbol, language, sentence written for this test)
HITS = [
    ("LURE_URGENCY", "en", "Please complete the form within 24 hours or lose access."),
    ("LURE_URGENCY", "fr", "Merci de répondre immédiatement à ce message."),
    ("LURE_URGENCY", "de", "Bitte handeln Sie dringend, die Frist läuft."),
    ("LURE_URGENCY", "pt", "Resposta urgente necessária sobre o seu cadastro."),
    ("LURE_URGENCY", "es", "Debe actuar en las próximas 48 horas."),
    ("LURE_URGENCY", "nl", "Reageer binnen 24 uur op deze melding."),
    ("LURE_ACCOUNT", "en", "Your account will be suspended unless you act."),
    ("LURE_ACCOUNT", "en", "Click here to verify your account today."),
    ("LURE_ACCOUNT", "fr", "Votre compte suspendu peut être réactivé ici."),
    ("LURE_ACCOUNT", "de", "Ihr Konto wurde gesperrt, bitte melden Sie sich an."),
    ("LURE_ACCOUNT", "pt", "Sua conta bloqueada precisa de atenção."),
    ("LURE_ACCOUNT", "es", "Su cuenta suspendida será eliminada."),
    ("LURE_ACCOUNT", "nl", "Uw account is geblokkeerd door ons systeem."),
    ("LURE_CREDENTIALS", "en", "Kindly confirm your password on the secure page."),
    ("LURE_CREDENTIALS", "en", "Please enter the code we sent by SMS."),
    ("LURE_CREDENTIALS", "fr", "Veuillez confirmer votre mot de passe."),
    ("LURE_CREDENTIALS", "de", "Bitte Passwort bestätigen, um fortzufahren."),
    ("LURE_CREDENTIALS", "pt", "Confirme sua senha para continuar."),
    ("LURE_CREDENTIALS", "es", "Introduzca su contraseña en el formulario."),
    ("LURE_PAYMENT_CHANGE", "en", "Please note our new bank details for all payments."),
    ("LURE_PAYMENT_CHANGE", "en", "Attached is our updated banking information."),
    ("LURE_PAYMENT_CHANGE", "de", "Bitte beachten Sie unsere neue Bankverbindung."),
    ("LURE_PAYMENT_CHANGE", "fr", "Voici nos nouvelles coordonnées bancaires."),
    ("LURE_PAYMENT_CHANGE", "es", "Le enviamos los nuevos datos bancarios."),
    ("LURE_PAYMENT_CHANGE", "pt", "Segue a alteração dos dados bancários da empresa."),
    ("LURE_GIFT_CARD", "en", "Can you buy gift cards for the team this afternoon?"),
    ("LURE_GIFT_CARD", "en", "I need five Google Play cards, scratch the back."),
    ("LURE_GIFT_CARD", "en", "Get me some iTunes cards please."),
    ("LURE_GIFT_CARD", "fr", "Achetez des cartes cadeaux pour le client."),
    ("LURE_GIFT_CARD", "de", "Kaufen Sie bitte drei Geschenkkarten."),
    ("LURE_GIFT_CARD", "es", "Necesito tarjetas de regalo hoy."),
    ("LURE_WIRE", "en", "I need you to process a wire transfer before noon."),
    ("LURE_WIRE", "de", "Bitte veranlassen Sie eine Überweisung an den Lieferanten."),
    ("LURE_WIRE", "fr", "Pouvez-vous effectuer un virement aujourd'hui ?"),
    ("LURE_WIRE", "es", "Necesito una transferencia bancaria urgente."),
    ("LURE_WIRE", "pt", "Preciso de uma transferência bancária hoje."),
    ("LURE_PRIZE", "en", "Congratulations, you have won a brand new car!"),
    ("LURE_ADVANCE_FEE", "en", "You are the sole beneficiary of the late client's estate."),
    ("LURE_PRIZE", "de", "Sie haben gewonnen! Holen Sie Ihren Preis ab."),
    ("LURE_PRIZE", "fr", "Félicitations, vous avez gagné un voyage."),
    ("LURE_PRIZE", "pt", "Você ganhou um prêmio exclusivo."),
    ("LURE_PRIZE", "es", "Usted ha ganado la lotería nacional."),
    ("LURE_DELIVERY", "en", "Your package could not be delivered to the address."),
    ("LURE_DELIVERY", "fr", "Votre colis n'a pas pu être livré ce matin."),
    ("LURE_DELIVERY", "de", "Ihr Paket konnte nicht zugestellt werden."),
    ("LURE_DELIVERY", "pt", "Sua encomenda não pode ser entregue, pague a taxa."),
    ("LURE_DELIVERY", "es", "Su paquete no pudo ser entregado."),
    ("LURE_QUOTA", "en", "Warning: your mailbox is full and mail is bouncing."),
    ("LURE_QUOTA", "en", "You have used 99% of your storage quota."),
    ("LURE_QUOTA", "de", "Ihr Postfach ist voll."),
    ("LURE_QUOTA", "fr", "Votre boîte aux lettres est pleine."),
    ("LURE_QUOTA", "es", "Su buzón está lleno."),
]

MISSES = [
    ("LURE_URGENCY", "We will meet in 24 days to plan the budget."),
    ("LURE_ACCOUNT", "Your account manager will call you about the contract."),
    ("LURE_CREDENTIALS", "The password policy document is attached for review."),
    ("LURE_PAYMENT_CHANGE", "Our bank holiday schedule is on the intranet."),
    ("LURE_GIFT_CARD", "Thanks for the birthday card, it was lovely."),
    ("LURE_WIRE", "The wire for the new printer arrived broken."),
    ("LURE_PRIZE", "Our team won the football match on Sunday."),
    ("LURE_DELIVERY", "The package manager update broke the build."),
    ("LURE_QUOTA", "The meeting room is full on Tuesdays."),
    ("LURE_URGENCY", "Die Sitzung beginnt um zehn Uhr."),
    ("LURE_ACCOUNT", "El informe de cuentas anuales está listo."),
    ("LURE_WIRE", "Le transfert de la réunion à jeudi est confirmé."),
]

BUSINESS_MAIL = (
    "Hi team,\n\nAttached are the minutes of Tuesday's planning meeting. The Q3 report is due on "
    "the 15th; Maria will circulate a draft next week. Please add your comments to the shared "
    "document and let me know if the timeline works for your group.\n\nThanks,\nJonas"
)


@pytest.mark.parametrize(("symbol", "lang", "sentence"), HITS)
def test_lure_phrase_hits(symbol: str, lang: str, sentence: str) -> None:
    found = by_symbol(run(DETECTOR, make_message(subject="Notice", text=sentence)))
    assert symbol in found, (lang, sentence, list(found))
    assert found[symbol].explanation.startswith("The message ")
    assert found[symbol].evidence


@pytest.mark.parametrize(("symbol", "sentence"), MISSES)
def test_lure_phrase_misses(symbol: str, sentence: str) -> None:
    found = by_symbol(run(DETECTOR, make_message(subject="Update", text=sentence)))
    assert symbol not in found


def test_ordinary_business_mail_has_no_lure() -> None:
    msg = make_message(subject="Minutes of the planning meeting", text=BUSINESS_MAIL)
    assert run(DETECTOR, msg) == []


def test_subject_is_read_too() -> None:
    found = by_symbol(run(DETECTOR, make_message(subject="Konto gesperrt", text="Hallo")))
    assert set(found) == {"LURE_ACCOUNT"}


def test_two_categories_combine_and_explain_both() -> None:
    text = "Act within 24 hours and verify your account, or it will be closed."
    found = by_symbol(run(DETECTOR, make_message(subject="Security", text=text)))
    assert {"LURE_URGENCY", "LURE_ACCOUNT", "LURE_COMBINED"} <= set(found)
    explanation = found["LURE_COMBINED"].explanation
    assert '"within 24 hours"' in explanation and '"verify your account"' in explanation
    assert found["LURE_COMBINED"].evidence == ("LURE_URGENCY", "LURE_ACCOUNT")


def test_one_category_does_not_combine() -> None:
    text = "Respond immediately. Respond urgently."
    found = by_symbol(run(DETECTOR, make_message(subject="Hi", text=text)))
    assert set(found) == {"LURE_URGENCY"}
    assert found["LURE_URGENCY"].evidence == ("respond immediately", "respond urgently")


def test_fold_removes_accents_case_and_extra_space() -> None:
    assert fold("Immédiatement  DRINGEND\nStraße") == "immediatement dringend strasse"


def test_language_selection_limits_the_patterns() -> None:
    english_only = LureDetector(LureSettings(languages=("en",)))
    msg = make_message(subject="Hinweis", text="Ihr Konto wurde gesperrt.")
    assert run(english_only, msg) == []
    assert run(DETECTOR, msg)


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="xx"):
        LureDetector(LureSettings(languages=("xx",)))


def test_bad_pattern_lines_are_refused() -> None:
    with pytest.raises(ValueError, match="CATEGORY REGEX"):
        parse_lines("nonsense within 24 hours\n", "test.txt")
    assert parse_lines("# comment\n\nurgency act now\n", "t") == {"urgency": ["act now"]}


def test_recipient_address_in_the_subject_is_a_mail_merge() -> None:
    from helpers_detectors import address

    hit = by_symbol(run(DETECTOR, make_message(
        subject="bob@example.org, your mailbox is almost full",
        to=(address("bob@example.org", "Bob"),),
    )))
    assert hit["LURE_ADDRESS_IN_SUBJECT"].evidence == ("bob@example.org",)


@pytest.mark.parametrize("subject", [
    "Your mailbox is almost full",  # no address at all
    "Question about carol@example.net",  # an address, not the recipient's
])
def test_other_subjects_are_no_mail_merge(subject: str) -> None:
    from helpers_detectors import address

    msg = make_message(subject=subject, to=(address("bob@example.org", "Bob"),))
    assert "LURE_ADDRESS_IN_SUBJECT" not in by_symbol(run(DETECTOR, msg))


def test_the_phrases_are_compiled_on_first_use_or_prepare(monkeypatch: pytest.MonkeyPatch) -> None:
    # the gateway builds its detectors only to check their settings: no compile (a second)
    calls: list[tuple[str, ...]] = []
    real = lures.compiled
    monkeypatch.setattr(lures, "compiled", lambda langs: calls.append(langs) or real(langs))
    detector = LureDetector(LureSettings(languages=["en"]))
    assert calls == []
    detector.prepare()
    assert calls == [("en",)]
    assert detector.cues(make_message(subject="verify your account now")) is not None
    assert calls == [("en",)]  # once per detector


def test_an_engine_prepares_its_detectors_unless_they_never_scan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prepared: list[str] = []
    monkeypatch.setattr(LureDetector, "prepare", lambda self: prepared.append("lures"))
    Engine(Settings())  # the CLI's, an inline gateway's, a scan process's: no first scan pays
    assert prepared == ["lures"]
    monkeypatch.setattr("mailward.engine.isolation._engine.start_fork_server", lambda: None)
    IsolatedEngine(Settings()).close()  # the gateway's: its scan processes build their own
    assert prepared == ["lures"]
    config = ChildConfig(Settings(), 0, history=False, offline=True, memory_mb=0, test_hook=None)
    _child._engine(config, {}, lambda: Level.NORMAL)  # a scan process's
    assert prepared == ["lures", "lures"]
