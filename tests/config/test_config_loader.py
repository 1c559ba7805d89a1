"""Settings loading: shipped defaults < TOML file < MAILWARD__ environment, and the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailward.config import load_settings, loader, settings_from_mapping
from mailward.config.settings import Settings
from mailward.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_system_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never read a real /etc/mailward/mailward.toml from the machine running the tests."""
    monkeypatch.setattr(loader, "DEFAULT_CONFIG_PATHS", (tmp_path / "absent.toml",))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mailward.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults, file, environment ---------------------------------------------------------


def test_defaults_load_without_a_file() -> None:
    settings = load_settings(environ={})
    assert settings == Settings()
    assert settings.smtp.listen_port == 2525
    assert settings.policy.tag_at == 5.0


def test_default_path_is_used_when_present(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = _write(tmp_path, "[smtp]\nlisten_port = 2700\n")
    monkeypatch.setattr(loader, "DEFAULT_CONFIG_PATHS", (path,))
    assert load_settings(environ={}).smtp.listen_port == 2700


def test_toml_file_overrides_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, '[smtp]\nlisten_port = 2626\nhostname = "mx.example.org"\n')
    settings = load_settings(path, environ={})
    assert settings.smtp.listen_port == 2626
    assert settings.smtp.hostname == "mx.example.org"
    # keys the file does not name keep their defaults
    assert settings.smtp.listen_host == "127.0.0.1"
    assert settings.policy == Settings().policy


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[smtp]\nlisten_port = 2626\nmax_recipients = 7\n")
    env = {"MAILWARD__SMTP__LISTEN_PORT": "2600"}
    settings = load_settings(path, environ=env)
    assert settings.smtp.listen_port == 2600
    assert settings.smtp.max_recipients == 7  # not named by the environment: file value kept


def test_environment_without_prefix_is_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path, "[smtp]\nlisten_port = 2626\n")
    env = {"SMTP__LISTEN_PORT": "2600", "MAILWARDX__SMTP__LISTEN_PORT": "2601"}
    assert load_settings(path, environ=env).smtp.listen_port == 2626


def test_environment_string_and_bool_values() -> None:
    env = {"MAILWARD__SMTP__HOSTNAME": "mx.example.net", "MAILWARD__ENGINE__WORKERS": "3"}
    settings = load_settings(environ=env)
    assert settings.smtp.hostname == "mx.example.net"
    assert settings.engine.workers == 3


def test_explicit_overrides_win_over_environment() -> None:
    env = {"MAILWARD__SMTP__LISTEN_PORT": "2600"}
    settings = load_settings(environ=env, overrides={"smtp": {"listen_port": 2601}})
    assert settings.smtp.listen_port == 2601


# --- errors ----------------------------------------------------------------------------


def test_unknown_key_names_section_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "[smtp]\nlistne_port = 2600\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert "smtp.listne_port" in message
    assert "unknown key" in message
    assert str(path) in message


def test_unknown_key_from_environment_fails() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'smtp\.listne_port'"):
        load_settings(environ={"MAILWARD__SMTP__LISTNE_PORT": "2600"})


def test_known_key_is_not_reported_unknown(tmp_path: Path) -> None:
    path = _write(tmp_path, "[smtp]\nlisten_port = 2600\n")
    assert load_settings(path, environ={}).smtp.listen_port == 2600


def test_unknown_section_fails() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'smpt'"):
        settings_from_mapping({"smpt": {"listen_port": 1}})


def test_bad_value_type_names_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path, '[smtp]\nlisten_port = "many"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert "smtp.listen_port" in message
    assert "'many'" in message
    assert "unknown key" not in message


def test_out_of_range_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"smtp\.listen_port"):
        settings_from_mapping({"smtp": {"listen_port": 70000}})


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[smtp\nlisten_port = 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(path) in str(info.value)
    assert "invalid TOML" in str(info.value)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(path, environ={})


def test_non_utf8_file_fails(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[smtp]\nhostname = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(path, environ={})


# --- validators ------------------------------------------------------------------------


def test_tls_cert_without_key_fails() -> None:
    with pytest.raises(ConfigError, match="tls_cert and tls_key must be set together"):
        settings_from_mapping({"smtp": {"tls_cert": "/etc/ssl/cert.pem"}})


def test_tls_key_without_cert_fails() -> None:
    with pytest.raises(ConfigError, match="tls_cert and tls_key must be set together"):
        settings_from_mapping({"smtp": {"tls_key": "/etc/ssl/key.pem"}})


def test_tls_cert_and_key_together_load() -> None:
    settings = settings_from_mapping(
        {"smtp": {"tls_cert": "/etc/ssl/cert.pem", "tls_key": "/etc/ssl/key.pem"}}
    )
    assert settings.smtp.tls_cert == Path("/etc/ssl/cert.pem")


def test_require_tls_without_cert_fails() -> None:
    with pytest.raises(ConfigError, match="require_tls"):
        settings_from_mapping({"smtp": {"require_tls": True}})


@pytest.mark.parametrize(
    "policy",
    [
        {"tag_at": 12.0, "quarantine_at": 10.0},
        {"quarantine_at": 25.0, "reject_at": 20.0},
        {"tag_at": 30.0},
    ],
)
def test_thresholds_out_of_order_fail(policy: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="tag_at <= quarantine_at <= reject_at"):
        settings_from_mapping({"policy": policy})


def test_thresholds_in_order_and_equal_load() -> None:
    settings = settings_from_mapping(
        {"policy": {"tag_at": 3.0, "quarantine_at": 3.0, "reject_at": 9.0}}
    )
    assert settings.policy.quarantine_at == 3.0


def test_bad_internal_network_fails() -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_mapping({"organisation": {"internal_networks": ["10.0.0.0/8", "10.0.0/33"]}})
    assert "organisation.internal_networks" in str(info.value)
    assert "'10.0.0/33' is not an IP network" in str(info.value)


def test_good_internal_networks_load() -> None:
    settings = settings_from_mapping(
        {"organisation": {"internal_networks": ["10.0.0.0/8", "192.168.1.7/24", "fd00::/8"]}}
    )
    assert settings.organisation.internal_networks == ("10.0.0.0/8", "192.168.1.7/24", "fd00::/8")


def test_accepted_domains_are_lower_cased() -> None:
    settings = settings_from_mapping(
        {"organisation": {"accepted_domains": ["Example.ORG", " Mail.Example.NET. ", "  "]}}
    )
    assert settings.organisation.accepted_domains == ("example.org", "mail.example.net")


def test_store_url_defaults_to_sqlite_in_data_dir() -> None:
    settings = settings_from_mapping({"data_dir": "/var/lib/mw"})
    assert settings.store_url == "sqlite:////var/lib/mw/mailward.db"
    assert settings_from_mapping({"store": {"url": "sqlite://"}}).store_url == "sqlite://"
