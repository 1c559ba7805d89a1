"""A webhook receiver on 127.0.0.1 for tests: keeps each POST (headers and body), answers with
the statuses it is given (then 200), and lets a test wait for a request without fixed sleeps."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Received:
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give first
    cond: threading.Condition = field(default_factory=threading.Condition)

    def wait(self, count: int, timeout: float = 30.0) -> list[tuple[dict[str, str], bytes]]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.posts) >= count, timeout):
                raise AssertionError(f"{len(self.posts)} webhook posts, wanted {count}")
            return list(self.posts)


@contextlib.contextmanager
def webhook_receiver() -> Iterator[tuple[str, Received]]:
    """(URL, what it received) while the block runs."""
    received = Received()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with received.cond:
                status = received.statuses.pop(0) if received.statuses else 200
                received.posts.append(({k: v for k, v in self.headers.items()}, body))
                received.cond.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
