"""What the window looked like last time (geometry, column widths), kept apart from settings.

Settings are the person's choices (a TOML file they may edit); this is state the
app remembers for them, in ``ui-state.ini`` in the data directory. A missing or
unreadable file just means the defaults.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QHeaderView, QMainWindow

FILE = "ui-state.ini"


class UiState:
    """Saves and restores a main window's geometry and named table headers."""

    def __init__(self, data_dir: Path) -> None:
        self._settings = QSettings(str(data_dir / FILE), QSettings.Format.IniFormat)

    def restore(self, window: QMainWindow, headers: dict[str, QHeaderView]) -> None:
        geometry = self._settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            window.restoreGeometry(geometry)
        for name, header in headers.items():
            state = self._settings.value(f"headers/{name}")
            if isinstance(state, QByteArray) and not state.isEmpty():
                header.restoreState(state)

    def save(self, window: QMainWindow, headers: dict[str, QHeaderView]) -> None:
        self._settings.setValue("window/geometry", window.saveGeometry())
        for name, header in headers.items():
            self._settings.setValue(f"headers/{name}", header.saveState())
        self._settings.sync()  # a read-only or full data directory: QSettings gives up quietly
