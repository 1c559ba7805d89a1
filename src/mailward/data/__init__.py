"""Reviewed data files shipped with the package, and their typed loaders.

- ``brands.toml`` / ``esps.toml``: the brand registry (brands, the names they are written as,
  the domains that are theirs) and the email platforms many senders share; see
  :mod:`mailward.data.brands` and docs/brands.md.
"""
