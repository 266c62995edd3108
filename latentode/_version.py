"""The installed version, from the package metadata (no import of the package itself)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("latentode")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
