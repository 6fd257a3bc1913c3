"""The daily commit digest: collect → analyse → compose → render → deliver → archive."""

# The one place the version is written: pyproject.toml reads it from here (setuptools' dynamic version), so the
# package never asks importlib.metadata at start-up.
__version__ = "0.1.0"
