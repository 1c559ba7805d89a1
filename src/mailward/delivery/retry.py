"""Retry schedule of deliveries that failed for now: exponential back-off with a ceiling."""

from __future__ import annotations

__all__ = ["next_retry_delay"]

# 2**62 times any sane initial delay is beyond every ceiling; stops float overflow.
_MAX_EXPONENT = 62


def next_retry_delay(attempt: int, initial: float, maximum: float) -> float:
    """Return the seconds to wait before retry number ``attempt`` (1 for the first retry).

    ``initial * 2 ** (attempt - 1)``, capped at ``maximum``: with 60 and 3600 that gives
    60, 120, 240, 480, 960, 1920, 3600, 3600, ...
    """
    if attempt < 1:
        raise ValueError(f"attempt must be 1 or more, not {attempt}")
    if initial <= 0 or maximum <= 0:
        raise ValueError("initial and maximum delays must be positive")
    exponent = min(attempt - 1, _MAX_EXPONENT)
    return float(min(initial * 2.0**exponent, maximum))
