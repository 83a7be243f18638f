"""Who the windows belong to, for the desktop shell: the .desktop entry and the icon."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication, QIcon

# The installed entry is installers/linux/org.softclock.Softclock.desktop: on Wayland the
# shell finds the window's entry (name, icon, pinned launcher) by this id.
DESKTOP_ID = "org.softclock.Softclock"
# PNG, not the SVG: decoded without the SVG plugin, and only when a window shows.
_SIZES = (16, 32, 48, 64, 128)


def app_icon() -> QIcon:
    """The packaged icon at the sizes window managers ask for (empty if it is missing)."""
    from importlib.resources import files

    icon = QIcon()
    folder = files("softclock.resources").joinpath("icons")
    for size in _SIZES:
        png = folder.joinpath(f"softclock-{size}.png")
        if png.is_file():
            icon.addFile(str(png))
    return icon


def brand(app: QGuiApplication) -> None:
    """Link the app's windows to the desktop entry and give them its icon."""
    app.setDesktopFileName(DESKTOP_ID)
    app.setWindowIcon(app_icon())
