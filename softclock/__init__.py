"""Softclock: a desktop softphone that turns calls into time entries."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("softclock")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.1.0"
