"""SMTP AUTH: PBKDF2 hashes and the aiosmtpd authenticator."""

from __future__ import annotations

import pytest
from aiosmtpd.smtp import LoginPassword

from mailward.frontends.smtp.auth import PasswordAuthenticator, hash_password, verify_password

FAST = 1000  # iterations: keep the tests quick


def test_hash_verify_round_trip() -> None:
    encoded = hash_password("correct horse", iterations=FAST)
    assert encoded.startswith(f"pbkdf2_sha256${FAST}$")
    assert verify_password("correct horse", encoded)


def test_wrong_password_fails() -> None:
    encoded = hash_password("correct horse", iterations=FAST)
    assert not verify_password("correct horsE", encoded)
    assert not verify_password("", encoded)


def test_hashes_are_salted() -> None:
    assert hash_password("pw", iterations=FAST) != hash_password("pw", iterations=FAST)


def test_default_iterations_used() -> None:
    encoded = hash_password("pw")
    assert encoded.split("$")[1] == "200000"
    assert verify_password("pw", encoded)


def test_unicode_password_round_trip() -> None:
    encoded = hash_password("pässwörd ✓", iterations=FAST)
    assert verify_password("pässwörd ✓", encoded)
    assert not verify_password("passwort", encoded)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plaintext",
        "md5$1000$00$00",
        "pbkdf2_sha256$1000$00",
        "pbkdf2_sha256$1000$00$00$00",
        "pbkdf2_sha256$many$00$00",
        "pbkdf2_sha256$1000$zz$00",
        "pbkdf2_sha256$0$00$00",
        "pbkdf2_sha256$-5$00$00",
        "pbkdf2_sha256$99999999999999999999$00$00",
        "pbkdf2_sha256$1000$00$é",
        "pbkdf2_sha256$1000$00$not-hex",
    ],
)
def test_malformed_hash_fails(encoded: str) -> None:
    assert verify_password("pw", encoded) is False


def test_other_scheme_with_valid_digest_fails() -> None:
    encoded = hash_password("pw", iterations=FAST)
    assert not verify_password("pw", encoded.replace("pbkdf2_sha256", "pbkdf2_sha512"))


USERS = {"alice": hash_password("s3cret", iterations=FAST)}


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_authenticator_accepts_right_password(mechanism: str) -> None:
    auth = PasswordAuthenticator(USERS)
    result = auth(None, None, None, mechanism, LoginPassword(b"alice", b"s3cret"))
    assert result.success
    assert result.auth_data == "alice"


@pytest.mark.parametrize(
    ("login", "password"), [(b"alice", b"wrong"), (b"mallory", b"s3cret"), (b"ALICE", b"s3cret")]
)
def test_authenticator_refuses_wrong_user_or_password(login: bytes, password: bytes) -> None:
    result = PasswordAuthenticator(USERS)(None, None, None, "PLAIN", LoginPassword(login, password))
    assert not result.success


def test_authenticator_refuses_other_mechanisms_and_data() -> None:
    auth = PasswordAuthenticator(USERS)
    assert not auth(None, None, None, "CRAM-MD5", LoginPassword(b"alice", b"s3cret")).success
    assert not auth(None, None, None, "PLAIN", (b"alice", b"s3cret")).success


def test_authenticator_with_malformed_stored_hash_refuses() -> None:
    auth = PasswordAuthenticator({"bob": "pbkdf2_sha256$1000$00$é"})
    assert not auth(None, None, None, "LOGIN", LoginPassword(b"bob", b"x")).success


def test_authenticator_with_no_users_refuses() -> None:
    assert not PasswordAuthenticator({})(
        None, None, None, "LOGIN", LoginPassword(b"a", b"b")
    ).success


class _Session:
    peer = ("203.0.113.9", 40000)


def test_observer_is_told_of_every_attempt() -> None:
    seen: list[tuple[str, str, bool]] = []
    auth = PasswordAuthenticator({"alice": hash_password("pw", iterations=FAST)},
                                 lambda login, ip, ok: seen.append((login, ip, ok)))
    good = auth(None, _Session(), None, "PLAIN", LoginPassword(b"alice", b"pw"))
    bad = auth(None, _Session(), None, "LOGIN", LoginPassword(b"alice", b"nope"))
    unknown = auth(None, _Session(), None, "PLAIN", LoginPassword(b"mallory", b"pw"))
    assert good.success and not bad.success and not unknown.success
    assert seen == [("alice", "203.0.113.9", True), ("alice", "203.0.113.9", False),
                    ("mallory", "203.0.113.9", False)]
