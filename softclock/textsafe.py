"""Text from the network (display names, user parts, reason phrases, errors of
other servers) is stored as received and shown inert.

* :func:`printable` for terminals and widgets: control characters and the
  invisible bidirectional controls become visible escapes (``\\x1b``,
  ``\\u202e``), so a caller cannot move columns, repaint a terminal, break a
  line of a label or reverse the text around it. JSON needs none of this: it
  escapes itself.
* :func:`csv_cell` / :func:`csv_row` for every CSV the app writes: a cell a
  spreadsheet would run as a formula gets a leading ``'`` (OWASP, "CSV
  Injection").

Dependency-free: the CLI and the UI both use it.
"""

from __future__ import annotations

from collections.abc import Iterable

# C0 controls, DEL and C1 controls (ESC, BEL, NUL, tab, CR, LF, CSI ...).
_CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0)]
# Bidirectional marks, embeddings, overrides and isolates; line and paragraph separators.
_INVISIBLE = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029]
_NAMED = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def _escape(code: int) -> str:
    if code in _NAMED:
        return _NAMED[code]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_TABLE = {code: _escape(code) for code in _CONTROLS + _INVISIBLE}


def printable(text: str | None) -> str:
    """``text`` with every control and bidi-control character escaped; ``None`` -> ``""``.

    Backslashes are left as they are, so applying it twice changes nothing
    (the UI and the CLI may both pass a string through it).
    """
    if not text:
        return ""
    return text.translate(_TABLE)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A string a spreadsheet would read as a formula, with ``'`` in front; anything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(values: Iterable[object]) -> list[object]:
    """:func:`csv_cell` of each value: ``writer.writerow(csv_row(row))``."""
    return [csv_cell(value) for value in values]
