from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gateway_harness import GatewayProcess, free_port, toml_config


@pytest.fixture
def make_gateway(tmp_path: Path) -> Iterator[Callable[..., GatewayProcess]]:
    started: list[GatewayProcess] = []

    def make(
        extra: str = "", start: bool = True, org: str = "", smtp: str = "",
        dns: str = "enabled = false", engine: str = "",
    ) -> GatewayProcess:
        port = free_port()
        data = tmp_path / f"data{len(started)}"
        cfg = tmp_path / f"mailward{len(started)}.toml"
        cfg.write_text(toml_config(data, port, extra, org=org, smtp=smtp, dns=dns, engine=engine))
        gw = GatewayProcess(cfg, port, data, tmp_path / f"gateway{len(started)}.log")
        started.append(gw)
        if start:
            gw.start()
        return gw

    yield make
    for gw in started:
        gw.stop()
