"""The analyst web console and its JSON API, served by `mailward serve` on ``[console]``'s port.

Public surface: :func:`build_app` (the Starlette application) and :class:`ConsoleServer` (run it
inside the gateway's event loop, HTTPS when ``console.tls_cert``/``tls_key`` are set).
Accounts are managed with `mailward user add|passwd|role|remove`.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailward.web.app import build_app
    from mailward.web.server import ConsoleServer

__all__ = ["ConsoleServer", "build_app"]


def __getattr__(name: str) -> Any:
    """The two names, imported on first use: `mailward user` reads the accounts module of this
    package without the application (its web framework and templates)."""
    if name == "build_app":
        from mailward.web.app import build_app  # noqa: PLC0415 (see above)

        return build_app
    if name == "ConsoleServer":
        from mailward.web.server import ConsoleServer  # noqa: PLC0415 (see above)

        return ConsoleServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
