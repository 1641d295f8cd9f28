"""DK Sentinel: responsible-gaming risk analytics for a US sportsbook.

The library is the product; the ``sentinel`` CLI is a thin layer over it. Library
functions take a :class:`~dk_sentinel.warehouse.Warehouse`, return pydantic models and
raise :class:`~dk_sentinel.errors.SentinelError`; they never print or exit.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
