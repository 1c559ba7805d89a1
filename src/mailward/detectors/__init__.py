"""The built-in detectors, one module per family.

``BUILTIN_DETECTORS`` (in :mod:`mailward.detectors.builtin`) lists the detector classes the
registry builds by default. They are imported on first use, not with this package, so that
the helpers here (``_domains``, ...) can be used by modules the detectors themselves import
(the content model's features read the identity check, which reads ``_domains``).
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    # only public names: "from mailward.detectors import _linkchecks" must fall through to
    # the submodule import, not start importing every detector
    if name.startswith("_"):
        raise AttributeError(f"module 'mailward.detectors' has no attribute {name!r}")
    builtin = importlib.import_module("mailward.detectors.builtin")
    if name == "BUILTIN_DETECTORS" or name in builtin.__all__:
        return getattr(builtin, name)
    raise AttributeError(f"module 'mailward.detectors' has no attribute {name!r}")
