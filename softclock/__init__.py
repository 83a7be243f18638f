"""Softclock: a desktop softphone that turns calls into time entries."""

from __future__ import annotations

# ``__version__`` is read from the package metadata on first use only: importlib.metadata
# costs ~34 ms at every start, and only ``--version`` and Help > About ask for it.


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module 'softclock' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("softclock")
    except PackageNotFoundError:  # run from a source tree that was never installed
        found = "0.1.0"
    globals()["__version__"] = found
    return found
