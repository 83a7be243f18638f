"""Colours taken from the palette in force, so that light and dark themes both stay
readable: a flagged row is the palette's base tinted toward its highlight, with the
palette's text, and the style sheet's own colours have a dark-theme variant."""

from __future__ import annotations

from PySide6.QtGui import QColor, QGuiApplication, QPalette

# WCAG 2's contrast ratio for body text (AA).
READABLE = 4.5
_TINTS = (0.3, 0.2, 0.12, 0.0)  # how far toward the highlight a flagged row's background goes


def luminance(colour: QColor) -> float:
    """WCAG 2 relative luminance."""

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio, 1 to 21."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def mix(a: QColor, b: QColor, weight: float) -> QColor:
    """``a`` moved ``weight`` (0-1) of the way to ``b``."""
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * weight,
        a.greenF() + (b.greenF() - a.greenF()) * weight,
        a.blueF() + (b.blueF() - a.blueF()) * weight,
    )


def is_dark(palette: QPalette) -> bool:
    """Light text on a dark window."""
    return luminance(palette.color(QPalette.ColorRole.Window)) < luminance(palette.color(QPalette.ColorRole.WindowText))


def flagged(palette: QPalette) -> tuple[QColor, QColor]:
    """Background and text of a row that needs a look (unassigned, short, recovered):
    the base tinted toward the highlight as far as the text stays readable on it."""
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    accent = palette.color(QPalette.ColorRole.Highlight)
    for weight in _TINTS:
        background = mix(base, accent, weight)
        if contrast(background, text) >= READABLE:
            return background, text
    return base, text


def style_sheet(palette: QPalette | None = None) -> str:
    """The packaged style sheet, with its dark-theme colours when ``palette`` (the
    application's by default) is dark."""
    from importlib.resources import files

    folder = files("softclock.resources")
    sheet = folder.joinpath("style.qss").read_text(encoding="utf-8")
    if is_dark(palette if palette is not None else QGuiApplication.palette()):
        sheet += folder.joinpath("style-dark.qss").read_text(encoding="utf-8")
    return sheet
