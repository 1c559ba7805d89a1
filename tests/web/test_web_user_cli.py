"""`mailward user add|passwd|role|remove|list`: console accounts from the shell, audited."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mailward.cli.main import main
from mailward.store import open_store
from mailward.web._accounts import Accounts


def _run(config: Path, monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["-c", str(config), "user", *args])


def test_user_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("MAILWARD_CONFIG", raising=False)
    config = tmp_path / "mailward.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[dns]\nenabled = false\n')
    url = f"sqlite:///{tmp_path / 'data' / 'mailward.db'}"
    assert _run(config, monkeypatch, "add", "ann", "--role", "analyst", "--password-stdin",
                stdin="first password\n") == 0
    assert _run(config, monkeypatch, "add", "ann", "--password-stdin", stdin="x" * 9) == 1
    assert _run(config, monkeypatch, "add", "short", "--password-stdin", stdin="abc\n") == 1
    accounts = Accounts(url)
    try:
        user = accounts.authenticate("ann", "first password")
        assert user is not None and user.role == "analyst"
        assert _run(config, monkeypatch, "passwd", "ann", "--password-stdin",
                    stdin="second password\n") == 0
        assert accounts.authenticate("ann", "first password") is None
        assert accounts.authenticate("ann", "second password") is not None
        assert _run(config, monkeypatch, "role", "ann", "admin") == 0
        capsys.readouterr()
        assert _run(config, monkeypatch, "list", "--json") == 0
        assert capsys.readouterr().out.strip() == '{"name": "ann", "role": "admin"}'
        assert _run(config, monkeypatch, "remove", "ann") == 0
        assert _run(config, monkeypatch, "remove", "ann") == 1
        assert accounts.users() == []
    finally:
        accounts.close()
    store = open_store(url)
    try:
        actions = [a.action for a in store.audit_log("user:ann")]
    finally:
        store.close()
    assert actions == ["user-remove", "user-role", "user-passwd", "user-add"]
