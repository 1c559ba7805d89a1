"""Process isolation of scans: a pool of scan processes with a watchdog.

:class:`IsolatedEngine` has the Engine's interface (``scan``, ``settings``, ``clients``,
``detectors``, ``scorer``) and adds ``start`` and ``close``. Build one with
:func:`mailward.runtime.scanning.make_engine`.
"""

from mailward.engine.isolation._child import TEST_HOOK_ENV
from mailward.engine.isolation._engine import (
    SCAN_KILLED_SYMBOL,
    SCAN_UNAVAILABLE_SYMBOL,
    IsolatedEngine,
)

__all__ = ["SCAN_KILLED_SYMBOL", "SCAN_UNAVAILABLE_SYMBOL", "TEST_HOOK_ENV", "IsolatedEngine"]
