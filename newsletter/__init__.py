"""The daily commit digest: collect → analyse → compose → render → deliver → archive."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("daily-commit-digest")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
