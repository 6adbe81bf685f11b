__all__ = ["__version__"]

__version__ = "0.1.0"
"""The installed version of voipano-async, e.g. ``"0.1.0"``."""
