"""Rate limits in a running gateway (`mailward serve`) on the local Redis: the third message
from one client over a burst of two gets 450 while another sender's mail still flows."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import pytest
import redis

sys.path.insert(0, str(Path(__file__).parent))

from gateway_harness import RawSMTP

pytestmark = pytest.mark.slow


def test_serve_enforces_sender_limits_in_redis(make_gateway) -> None:
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis on 127.0.0.1:6379 ({exc})")
    prefix = f"mailward-test:{secrets.token_hex(6)}:"
    gw = make_gateway(start=False, extra=f"""
[ratelimit]
enabled = true
redis_url = "redis://127.0.0.1:6379/0"
key_prefix = "{prefix}"
exempt_internal = false
[ratelimit.sender]
per_minute = 1
burst = 2
""")
    gw.start_timeout = 120  # a busy machine takes a while to warm the scan processes
    gw.start()
    try:
        with RawSMTP(gw.port) as smtp:
            smtp.ehlo()
            codes = []
            for _ in range(3):
                codes.append(smtp.cmd(b"MAIL FROM:<bob@partner.example.net>"))
                smtp.cmd(b"RSET")
            assert codes == [250, 250, 450]
            assert smtp.cmd(b"MAIL FROM:<carol@partner.example.net>") == 250
        assert client.exists(f"{prefix}sender:bob@partner.example.net")
    finally:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()
