"""The optional C helper of the content classifier (everything else is in pyproject.toml).

``mailward.classifier._cfeat`` is built when a C compiler and the Python headers are at hand;
``optional=True`` lets the install go on without it (the Python/numpy path is then used:
``mailward.classifier._native``). Built in place for development with
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
        )
    ]
)
