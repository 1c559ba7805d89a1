"""mailward: an email security gateway."""

__version__ = "0.1.0"
