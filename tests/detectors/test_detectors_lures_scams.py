"""LureDetector: scam categories added for issue 3, text-obfuscation signals, anchors, speed."""

from __future__ import annotations

import time

import pytest
from helpers_detectors import address, by_symbol, make_message, run

from mailward.detectors._lure_phrases import PhraseMatcher, _parser, anchors, compiled, fold
from mailward.detectors._lure_tricks import mixed_script_words, money_bait, subject_tricks
from mailward.detectors.lures import LureDetector, LureSettings

DETECTOR = LureDetector(LureSettings())

# (symbol, language, sentence written for this test)
HITS = [
    ("LURE_ADVANCE_FEE", "en", "My husband and I have decided to donate the sum of two million."),
    ("LURE_ADVANCE_FEE", "en", "FINAL FUND RELEASE NOTICE for the pending payment."),
    ("LURE_ADVANCE_FEE", "en", "You were listed as next of kin to our deceased customer."),
    ("LURE_ADVANCE_FEE", "en", "Your ATM card worth five hundred thousand is ready."),
    ("LURE_ADVANCE_FEE", "en", "Dear Beneficiary, the compensation fund has been approved."),
    ("LURE_ADVANCE_FEE", "pt", "Preciso da sua ajuda para a liberação dos fundos."),
    ("LURE_ADVANCE_FEE", "es", "Usted es el único beneficiario de la herencia."),
    ("LURE_ADVANCE_FEE", "fr", "Je souhaite faire un don de la somme à une personne honnête."),
    ("LURE_ADVANCE_FEE", "de", "Die Freigabe der Gelder erfolgt nach Ihrer Antwort."),
    ("LURE_ADVANCE_FEE", "nl", "Na de vrijgave van de fondsen neem ik contact op."),
    ("LURE_CRYPTO", "en", "Join the biggest token airdrop of the season."),
    ("LURE_CRYPTO", "en", "Please verify your wallet before Friday."),
    ("LURE_CRYPTO", "en", "Never lose access: type your seed phrase on our page."),
    ("LURE_CRYPTO", "en", "Double your bitcoin in one week with our program."),
    ("LURE_CRYPTO", "en", "The coins will be transferred to your Bitcoin address today."),
    ("LURE_CRYPTO", "pt", "Verifique sua carteira para evitar o bloqueio."),
    ("LURE_CRYPTO", "es", "Conozca nuestra plataforma de inversión segura."),
    ("LURE_CRYPTO", "fr", "Veuillez vérifier votre portefeuille maintenant."),
    ("LURE_CRYPTO", "de", "Geben Sie Ihre Wiederherstellungsphrase nie weiter."),
    ("LURE_CRYPTO", "nl", "Verifieer uw wallet binnen een week."),
    (
        "LURE_REFUND_CALLBACK",
        "en",
        "Your subscription was renewed and $399 charged. To cancel, call us at 1-800-555-0100.",
    ),
    ("LURE_REFUND_CALLBACK", "en", "Thank you for your Norton 360 renewal, order 5512."),
    ("LURE_REFUND_CALLBACK", "en", "If you did not authorize this purchase, please call our desk."),
    ("LURE_REFUND_CALLBACK", "pt", "Para cancelar a compra, ligue para a central agora."),
    ("LURE_REFUND_CALLBACK", "fr", "Pour annuler ce prélèvement, appelez le service client."),
    ("LURE_REFUND_CALLBACK", "de", "Um zu stornieren, rufen Sie unsere Hotline an."),
    ("LURE_REWARD_POINTS", "en", "Your loyalty points will expire at the end of the month."),
    ("LURE_REWARD_POINTS", "pt", "Você tem pontos acumulados: os pontos expiram amanhã."),
    ("LURE_REWARD_POINTS", "pt", "Faça o resgate agora mesmo pelo aplicativo."),
    ("LURE_REWARD_POINTS", "es", "Sus puntos caducan pronto."),
    ("LURE_REWARD_POINTS", "de", "Ihre Punkte verfallen am Freitag."),
    ("LURE_REWARD_POINTS", "nl", "Je punten verlopen binnenkort."),
    ("LURE_AUTHORITY", "pt", "Existem valores a receber vinculados ao seu nome."),
    ("LURE_AUTHORITY", "pt", "A Receita Federal encontrou uma pendência no seu CPF."),
    ("LURE_AUTHORITY", "fr", "Le service des impôts vous doit un remboursement."),
    ("LURE_AUTHORITY", "de", "Das Finanzamt hat eine Steuererstattung für Sie bereit."),
    ("LURE_AUTHORITY", "nl", "De Belastingdienst heeft een teruggave voor u klaarstaan."),
    ("LURE_AUTHORITY", "en", "You are eligible for a tax refund this quarter."),
    ("LURE_ROMANCE", "en", "Hello dear, I hope this letter finds you well."),
    ("LURE_ROMANCE", "en", "I am looking for a serious relationship with a kind man."),
    ("LURE_ROMANCE", "nl", "Ontmoet singles bij jou in de buurt vanavond."),
    ("LURE_PRIZE", "en", "Great news: you are today's winner!"),
    ("LURE_PRIZE", "en", "Congratulations! Your email was selected in our draw."),
    ("LURE_PRIZE", "en", "Claim your reward before it is gone."),
    ("LURE_PRIZE", "de", "Sie sind unser glücklicher Gewinner."),
    ("LURE_PRIZE", "fr", "Vous êtes notre heureux gagnant du mois."),
    ("LURE_PRIZE", "pt", "Parabéns, você foi sorteado na promoção."),
    ("LURE_PRIZE", "es", "Reclama tu premio ahora."),
    ("LURE_PRIZE", "nl", "Gefeliciteerd, u bent geselecteerd."),
    ("LURE_ACCOUNT", "de", "Ihre Sparkasse: das pushTAN-Verfahren muss aktualisiert werden."),
    ("LURE_ACCOUNT", "pt", "Detectamos um novo acesso à sua conta."),
    ("LURE_DELIVERY", "fr", "Votre colis est bloqué au centre de tri."),
    ("LURE_PAYMENT_CHANGE", "nl", "Uw betaalverzoek verloopt vandaag om middernacht."),
]

MISSES = [
    ("LURE_ADVANCE_FEE", "The museum received a donation from a local family."),
    ("LURE_ADVANCE_FEE", "The inheritance tax debate continues in parliament."),
    ("LURE_CRYPTO", "We reviewed the wallet design for the leather goods line."),
    ("LURE_CRYPTO", "The investment committee meets on Thursday."),
    ("LURE_REFUND_CALLBACK", "Your subscription to the newsletter is confirmed."),
    ("LURE_REFUND_CALLBACK", "Call me when you land and we will cancel the taxi."),
    ("LURE_REWARD_POINTS", "The main points of the proposal are listed below."),
    ("LURE_REWARD_POINTS", "Os pontos principais da reunião estão na ata."),
    ("LURE_AUTHORITY", "The Banco Central published its annual inflation report."),
    ("LURE_AUTHORITY", "Das Finanzamt hat heute geschlossen."),
    ("LURE_ROMANCE", "Dear colleagues, the lab is closed on Monday."),
    ("LURE_ROMANCE", "We want to meet women founders at the conference."),
    ("LURE_PRIZE", "Our winner of the chess tournament gave a speech."),
]


@pytest.mark.parametrize(("symbol", "lang", "sentence"), HITS)
def test_scam_phrase_hits(symbol: str, lang: str, sentence: str) -> None:
    found = by_symbol(run(DETECTOR, make_message(subject="Notice", text=sentence)))
    assert symbol in found, (lang, sentence, list(found))
    assert found[symbol].evidence


@pytest.mark.parametrize(("symbol", "sentence"), MISSES)
def test_scam_phrase_misses(symbol: str, sentence: str) -> None:
    found = by_symbol(run(DETECTOR, make_message(subject="Update", text=sentence)))
    assert symbol not in found, list(found)


def test_mixed_script_in_subject_hits() -> None:
    subject = "Your account h\u0430s been limited"  # Cyrillic a inside a Latin word
    found = by_symbol(run(DETECTOR, make_message(subject=subject, text="Hello")))
    assert found["LURE_MIXED_SCRIPT"].evidence == ("h\u0430s",)


def test_mixed_script_in_display_name_hits() -> None:
    sender = address("info@example.net", "P\u0430yPal Service")
    found = by_symbol(run(DETECTOR, make_message(from_=(sender,), text="Hello")))
    assert "LURE_MIXED_SCRIPT" in found


def test_whole_words_in_other_scripts_miss() -> None:
    assert mixed_script_words("Привет team, Καλημέρα friends") == []
    msg = make_message(subject="Встреча tomorrow", text="ok")
    assert "LURE_MIXED_SCRIPT" not in by_symbol(run(DETECTOR, msg))


@pytest.mark.parametrize(
    "subject",
    [
        "Money.transfer.0.7495.Bitcoin",
        "_Claim_0ne_Year_0f_Streaming_",
        "Get y0ur free m0ney",
        "Notice wpsQzKfBnTr8LmXcV",
    ],
)
def test_obfuscated_subjects_hit(subject: str) -> None:
    found = by_symbol(run(DETECTOR, make_message(subject=subject, text="Hello")))
    assert "LURE_SUBJECT_OBFUSCATED" in found, subject


@pytest.mark.parametrize(
    "subject",
    [
        "Re: [PATCH] fix MSG_SPLICE_PAGES handling",
        "mail.example.com is down",
        "USRP_Sink_Block crashes on start",
        "1st draft of the mp3 player spec",
        "Order 4711 shipped, ref ABC123456789012",
        "0x1f register value",
    ],
)
def test_ordinary_subjects_miss(subject: str) -> None:
    assert subject_tricks(subject) == [], subject


def test_money_bait_needs_an_offer_to_the_reader() -> None:
    offer = "We will transfer the sum of $4.5 million to you once you reply."
    assert money_bait(fold(offer)) == ["$4.5 million"]
    assert money_bait(fold("Deposited 0.7495 BTC into your wallet.")) == ["0.7495 btc"]
    assert money_bait(fold("A donation of € 850,000.00 for you.")) == ["€ 850,000.00"]
    assert money_bait(fold("The firm reported revenue of $4.5 million last year.")) == []
    assert money_bait(fold("We will send $40 to you for the tickets.")) == []


def test_money_bait_raises_symbol_and_combines() -> None:
    text = "Congratulations, you have won! We have decided to donate 2M USD to you."
    found = by_symbol(run(DETECTOR, make_message(subject="Hi", text=text)))
    assert {"LURE_MONEY_BAIT", "LURE_PRIZE", "LURE_ADVANCE_FEE", "LURE_COMBINED"} <= set(found)
    assert "LURE_MONEY_BAIT" in found["LURE_COMBINED"].evidence


def test_fold_strips_invisible_and_maps_lookalikes() -> None:
    assert fold("Ve\u200cri\u200bfy y\u043eur \u1d00\u1d04\u1d04\u1d0f\u1d1c\u0274\u1d1b") == (
        "verify your account"
    )


def test_anchors_are_word_starting_literals() -> None:
    found = anchors(_parser.parse(r"(?:your )?account (?:is|was) (?:locked|closed)"))
    assert found is not None and all(not a.startswith(" ") for a in found)
    assert anchors(_parser.parse(r"\w+ing")) is None


def test_every_shipped_pattern_has_an_anchor() -> None:
    matcher = compiled(("en", "fr", "de", "pt", "es", "nl"))
    assert matcher.always == []


def test_unanchored_pattern_is_still_found() -> None:
    matcher = PhraseMatcher({"urgency": [r"\w+lich dringend"]})
    assert matcher.always == [0]
    assert matcher.find("es ist wirklich dringend") == {"urgency": ["wirklich dringend"]}
    assert matcher.find("nichts zu tun") == {}


def test_phrase_far_into_a_long_text_is_found() -> None:
    filler = "lorem ipsum dolor sit amet " * 500
    text = f"{filler} please verify your wallet {filler}"
    found = by_symbol(run(DETECTOR, make_message(subject="Hi", text=text)))
    assert "LURE_CRYPTO" in found


def test_text_past_max_chars_is_not_read() -> None:
    detector = LureDetector(LureSettings(max_chars=100))
    text = "x " * 100 + "please verify your wallet"
    assert run(detector, make_message(subject="Hi", text=text)) == []


def test_scan_is_fast_on_long_mail() -> None:
    text = ("Quarterly numbers are attached; see the notes on accounts and codes. " * 300)[:20_000]
    msg = make_message(subject="Quarterly numbers", text=text)
    run(DETECTOR, msg)
    started = time.perf_counter()
    for _ in range(20):
        run(DETECTOR, msg)
    assert (time.perf_counter() - started) / 20 < 0.05
