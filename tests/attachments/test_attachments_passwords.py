"""find_passwords(): candidate archive passwords in a message's own words."""

from __future__ import annotations

import pytest

from mailward.attachments import find_passwords


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Please find the invoice attached. Password: Qx7-221.", "Qx7-221"),
        ("The password for the archive is 8812", "8812"),
        ("Das Passwort lautet: kiwi42", "kiwi42"),
        ("Segue o arquivo, senha: 5511", "5511"),
        ("La contraseña es Mango2024", "Mango2024"),
        ("Le mot de passe est  «zz9q»", "zz9q"),
        ("pwd=hello123", "hello123"),
        ("PASS - 0000", "0000"),
    ],
)
def test_word_after_a_password_keyword_is_a_candidate(text: str, expected: str) -> None:
    assert find_passwords(text)[0] == expected


def test_short_quoted_tokens_are_candidates_after_keyword_ones() -> None:
    found = find_passwords('Open it with "r4nd0m" - or try the password: first1')
    assert found == ["first1", "r4nd0m"]


def test_text_without_keywords_or_quotes_gives_none() -> None:
    assert find_passwords("Hi Bob, the report is attached. Passports are due Friday.") == []


def test_long_quoted_phrases_are_not_candidates() -> None:
    assert find_passwords('She said "see you tomorrow at the usual place"') == []


def test_at_most_the_limit_distinct_candidates() -> None:
    text = " ".join(f"password: p{i}" for i in range(30)) + " password: p1"
    found = find_passwords(text)
    assert found == [f"p{i}" for i in range(10)]
    assert find_passwords(text, limit=3) == ["p0", "p1", "p2"]
