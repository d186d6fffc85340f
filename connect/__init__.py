"""Connect: a self-hosted community platform for member associations."""

__version__ = "0.1.0"
