"""The package version, in a module of its own so that subpackages (the client) can read it
without importing :mod:`editserve` itself."""

__version__ = "0.1.0"
