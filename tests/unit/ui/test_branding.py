"""The desktop shell links Softclock's windows to its .desktop entry and shows its icon."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

from softclock.ui.branding import DESKTOP_ID, brand

ROOT = Path(__file__).resolve().parents[3]


def test_the_desktop_file_name_is_the_installed_entry_and_windows_get_the_icon(qtbot) -> None:  # type: ignore[no-untyped-def]
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.desktopFileName(), app.windowIcon()
    try:
        brand(app)
        assert app.desktopFileName() == DESKTOP_ID
        assert (ROOT / "installers" / "linux" / f"{DESKTOP_ID}.desktop").is_file()
        sizes = {(s.width(), s.height()) for s in app.windowIcon().availableSizes()}
        assert {(16, 16), (32, 32), (48, 48), (128, 128)} <= sizes
        window = QWidget()
        qtbot.addWidget(window)
        assert not window.windowIcon().isNull()  # a window without its own icon takes the app's
    finally:
        app.setDesktopFileName(before[0])
        app.setWindowIcon(before[1])
