"""A cheaper PySide6 check of each module imported after it (start-up CPU).

Once PySide6 is loaded, every module imported afterwards goes through its
``__feature__`` bookkeeping (``PySide6.support.feature.feature_imported``),
which asks ``_mod_uses_pyside(module)``: is the text "PySide6" in the module's
source? It reads the source with ``inspect.getsource`` (linecache, decoding,
splitting into lines), ~0.4 ms a module; Softclock imports ~350 modules after
PySide6 (SQLAlchemy, pjsua2, the store ...), 0.1-0.15 s of CPU at every start.

:func:`install` swaps in the same question asked of the file's bytes (one
read, one ``in``), and the original for anything that is not a plain ``.py``
file. The answer is the same (tests/e2e/test_startup.py compares them);
Softclock uses no ``__feature__`` switches, which are what the answer is for.
If PySide6 changes this private function, nothing is swapped.
"""

from __future__ import annotations

from types import ModuleType


def install() -> bool:
    """Swap in the cheaper check; False if PySide6 has no such function."""
    try:
        from PySide6.support import feature  # type: ignore[attr-defined]  # not in the stubs
    except ImportError:
        return False
    original = getattr(feature, "_mod_uses_pyside", None)
    if original is None or getattr(original, "_softclock", False):
        return False

    def mod_uses_pyside(module: ModuleType) -> bool:
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.endswith(".py"):
            try:
                with open(path, "rb") as fh:
                    return b"PySide6" in fh.read()
            except OSError:
                pass
        return bool(original(module))

    mod_uses_pyside._softclock = True  # type: ignore[attr-defined]
    mod_uses_pyside.original = original  # type: ignore[attr-defined]
    feature._mod_uses_pyside = mod_uses_pyside
    return True


install()
