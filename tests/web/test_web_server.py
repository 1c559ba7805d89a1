"""The console server as `mailward serve` runs it: uvicorn in the event loop, HTTPS when
``console.tls_cert``/``tls_key`` are set (the session cookie is then Secure), a clear error when
the port is taken."""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from pathlib import Path

import httpx2
import pytest
from web_helpers import PASSWORD

from mailward.config.settings import Settings
from mailward.web._accounts import Accounts
from mailward.web.server import ConsoleServer

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from tls_certs import make_self_signed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_https_console_with_a_secure_cookie(tmp_path: Path) -> None:
    cert, key = make_self_signed(tmp_path)
    port = _free_port()
    settings = Settings.model_validate({
        "data_dir": str(tmp_path / "data"),
        "console": {"listen_port": port, "tls_cert": str(cert), "tls_key": str(key)},
    })
    accounts = Accounts(settings.store_url)
    accounts.add_user("admin", PASSWORD, "admin")
    accounts.close()

    async def scenario() -> None:
        server = ConsoleServer(settings)
        await server.start()
        try:
            context = ssl.create_default_context(cafile=str(cert))
            context.check_hostname = False
            async with httpx2.AsyncClient(base_url=f"https://127.0.0.1:{port}",
                                          verify=context) as client:
                assert (await client.get("/health")).json() == {"status": "ok"}
                r = await client.post("/api/login",
                                      json={"username": "admin", "password": PASSWORD})
                assert r.status_code == 200
                assert "secure" in r.headers["set-cookie"].lower()
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = Settings.model_validate({"data_dir": str(tmp_path / "data"),
                                            "console": {"listen_port": port}})

        async def scenario() -> None:
            with pytest.raises(OSError, match="cannot listen"):
                await ConsoleServer(settings).start()

        asyncio.run(scenario())


def test_tls_cert_and_key_go_together() -> None:
    with pytest.raises(ValueError, match="together"):
        Settings.model_validate({"console": {"tls_cert": "/x.pem"}})
