"""The optional C helpers (everything else is in pyproject.toml).

``mailward.classifier._cfeat`` (the content classifier's hashed row) and
``mailward.detectors._lurescan`` (the lures detector's anchor search and text folding) and
``mailward.mime._rawlines`` (a message's lines that start with "--" and its bare CRs) are built
when a C compiler and the Python headers are at hand; ``optional=True`` lets the install go on
without them (the Python ways are then used: ``mailward.classifier._native``,
``mailward.detectors._lure_phrases``, ``mailward.mime._rawscan``). Built in place for development with
``python3 setup.py build_ext --inplace``.
"""

import sys

from setuptools import Extension, setup

# no fused multiply-add: row_sums must round each product before adding it, as numpy does
FLAGS = [] if sys.platform == "win32" else ["-ffp-contract=off"]

setup(
    ext_modules=[
        Extension(
            "mailward.classifier._cfeat",
            ["src/mailward/classifier/_cfeat.c"],
            extra_compile_args=FLAGS,
            optional=True,
        ),
        Extension(
            "mailward.detectors._lurescan",
            ["src/mailward/detectors/_lurescan.c"],
            optional=True,
        ),
        Extension(
            "mailward.mime._rawlines",
            ["src/mailward/mime/_rawlines.c"],
            optional=True,
        ),
    ]
)
