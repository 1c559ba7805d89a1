"""The analyst web console and its JSON API, served by `mailward serve` on ``[console]``'s port.

Public surface: :func:`build_app` (the Starlette application) and :class:`ConsoleServer` (run it
inside the gateway's event loop, HTTPS when ``console.tls_cert``/``tls_key`` are set).
Accounts are managed with `mailward user add|passwd|role|remove`.
"""

from mailward.web.app import build_app
from mailward.web.server import ConsoleServer

__all__ = ["ConsoleServer", "build_app"]
