"""The campaign signature a scan process sends back with its verdict: the same as the one the
gateway would make, used when it was made with the gateway's settings, made again otherwise."""

from __future__ import annotations

import dataclasses

from mailward.activity.campaign_index import message_signature, signature_of, text_signature
from mailward.activity.campaign_text import from_bytes, signature, to_bytes
from mailward.config.settings import LimitSettings, Settings
from mailward.mime import parse_message
from mailward.model import Envelope

RAW = (b"From: Desk <desk@help.example.net>\r\nTo: Jane Doe <jane.doe@example.com>\r\n"
       b"Subject: Storage 90% full\r\nMessage-ID: <s1@help.example.net>\r\n\r\n"
       b"Hello Jane, your storage is almost full. Archive your old files on the portal "
       b"https://portal.help.example.net/a?u=1 before Friday.\r\n")
ENVELOPE = Envelope("b@help.example.net", ("jane.doe@example.com",), "198.51.100.4")


def settings(**campaigns: object) -> Settings:
    return Settings.model_validate({"campaigns": campaigns})


def test_the_sent_signature_is_the_one_the_gateway_would_make() -> None:
    parsed = parse_message(RAW, LimitSettings())
    cfg = settings()
    sent = text_signature(cfg, ENVELOPE, parsed)
    made = message_signature(cfg, ENVELOPE, parsed)
    assert (sent.num_perm, sent.shingle_words) == (64, 3)
    assert sent.hashvalues == to_bytes(made)
    assert signature_of(cfg, ENVELOPE, parsed, sent) == made
    assert text_signature(cfg, ENVELOPE, None).hashvalues == to_bytes(signature("", 64, 3))


def test_a_sent_signature_is_used_as_sent() -> None:
    parsed = parse_message(RAW, LimitSettings())
    other = to_bytes(signature("nothing like the message at all, other words", 64, 3))
    sent = dataclasses.replace(text_signature(settings(), ENVELOPE, parsed), hashvalues=other)
    assert signature_of(settings(), ENVELOPE, parsed, sent) == from_bytes(other)


def test_a_signature_made_with_other_settings_is_made_again() -> None:
    parsed = parse_message(RAW, LimitSettings())
    sent = text_signature(settings(), ENVELOPE, parsed)  # 64 permutations, 3 words
    for cfg in (settings(num_perm=128), settings(shingle_words=2)):
        assert signature_of(cfg, ENVELOPE, parsed, sent) == message_signature(cfg, ENVELOPE,
                                                                             parsed)
    assert signature_of(settings(), ENVELOPE, parsed, None) == message_signature(
        settings(), ENVELOPE, parsed)
