"""Grouped bar charts drawn with QPainter, one painter for the Reports window and the PDF.

:func:`paint_bar_chart` draws a :class:`softclock.reports.model.BarChart` into any
rectangle of any paint device (a widget, a QImage, a QPdfWriter page);
:class:`BarChartView` is the widget that shows one.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from softclock.reports.model import BarChart

# Okabe & Ito's colour-blind-safe set, in an order whose neighbours differ in lightness too;
# each keeps at least 3:1 against white or against a dark window (#2b2b2b), so bars read in
# light and dark themes alike (WCAG's non-text contrast asks 3:1 of one of the two).
SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
_GROUP_FILL = 0.8  # share of a category's width its bars take; the rest is the gap between groups
_ROTATE_DEGREES = -45.0


def series_colour(index: int) -> QColor:
    return QColor(SERIES_COLOURS[index % len(SERIES_COLOURS)])


def nice_ticks(top: float, most: int = 6) -> list[float]:
    """Tick values from 0 to at least ``top``: steps of 1, 2 or 5 times a power of ten (whole hours from 1 h up),
    at most ``most`` of them after zero (``top`` <= 0 gives 0 and 1)."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    rough = top / most
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    count = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def _tick_text(value: float, unit: str) -> str:
    number = f"{value:g}"
    return f"{number} h" if unit == "hours" else number


def paint_bar_chart(painter: QPainter, rect: QRectF, chart: BarChart, palette: QPalette) -> None:
    """Draw ``chart`` inside ``rect``: its title, a legend, a value axis with ticks (hours),
    one group of bars per category and the categories' names under them (elided, and slanted
    when they do not fit side by side; only every n-th when even that is too tight).

    Text and lines take ``palette``'s window text; the bars take :data:`SERIES_COLOURS`.
    The painter's state is restored afterwards.
    """
    painter.save()
    try:
        _paint(painter, rect, chart, palette)
    finally:
        painter.restore()


def _paint(painter: QPainter, rect: QRectF, chart: BarChart, palette: QPalette) -> None:
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)  # bars on whole pixels: heights exact
    text_colour = palette.color(QPalette.ColorRole.WindowText)
    grid_colour = QColor(text_colour)
    grid_colour.setAlphaF(0.18)
    base = QFont(painter.font())
    fm = QFontMetricsF(base, painter.device())
    line = fm.height()
    pen_width = max(1.0, line / 16)
    pad = line * 0.5

    # Title.
    title_font = QFont(base)
    title_font.setBold(True)
    painter.setFont(title_font)
    painter.setPen(text_colour)
    title_fm = QFontMetricsF(title_font, painter.device())
    top = rect.top()
    if chart.title:
        title_rect = QRectF(rect.left(), top, rect.width(), title_fm.height())
        painter.drawText(
            title_rect,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            title_fm.elidedText(chart.title, Qt.TextElideMode.ElideRight, rect.width()),
        )
        top += title_fm.height() + pad * 0.5
    painter.setFont(base)

    # Legend: a swatch and the series' name, left to right, wrapping.
    swatch = line * 0.7
    x, y = rect.left(), top
    for index, series in enumerate(chart.series):
        width = swatch + pad * 0.5 + fm.horizontalAdvance(series.name) + pad * 1.5
        if x > rect.left() and x + width > rect.right():
            x, y = rect.left(), y + line
        painter.fillRect(QRectF(x, y + (line - swatch) / 2, swatch, swatch), series_colour(index))
        painter.setPen(text_colour)
        painter.drawText(QPointF(x + swatch + pad * 0.5, y + fm.ascent()), series.name)
        x += width
    top = y + line + pad

    values = [v for s in chart.series for v in s.values if math.isfinite(v)]
    n = len(chart.categories)
    if n == 0 or not chart.series:
        painter.drawText(
            QRectF(rect.left(), top, rect.width(), rect.bottom() - top),
            Qt.AlignmentFlag.AlignCenter,
            "Nothing to draw for this period.",
        )
        return
    ticks = nice_ticks(max(values, default=0.0))
    axis_top = ticks[-1]

    # Room for the value labels on the left and the category labels under the plot.
    label_w = max(fm.horizontalAdvance(_tick_text(t, chart.unit)) for t in ticks) + pad
    slant = math.radians(-_ROTATE_DEGREES)
    widest = max(fm.horizontalAdvance(c) for c in chart.categories)
    max_label = min(widest, rect.height() * 0.35 / math.sin(slant))
    plot_left = rect.left() + label_w
    group_w = max(1.0, rect.right() - plot_left - pad) / n
    slanted = widest > group_w * 0.9 - pad
    if slanted:  # the first label reaches left of its bar by its width along the slant: keep it inside
        first = fm.horizontalAdvance(fm.elidedText(chart.categories[0], Qt.TextElideMode.ElideMiddle, max_label))
        plot_left = max(plot_left, rect.left() + first * math.cos(slant) - group_w / 2)
    plot_w = max(1.0, rect.right() - plot_left - pad)
    group_w = plot_w / n
    below = (max_label * math.sin(slant) + line) if slanted else line * 1.2
    plot_top = top + line * 0.5  # half a line above the top tick, for its label
    plot_bottom = rect.bottom() - below
    plot_h = max(1.0, plot_bottom - plot_top)

    # Grid lines and tick labels.
    painter.setPen(QPen(grid_colour, pen_width))
    for tick in ticks:
        ty = plot_bottom - tick / axis_top * plot_h
        painter.drawLine(QPointF(plot_left, ty), QPointF(plot_left + plot_w, ty))
    painter.setPen(text_colour)
    for tick in ticks:
        ty = plot_bottom - tick / axis_top * plot_h
        painter.drawText(
            QRectF(rect.left(), ty - line / 2, label_w - pad * 0.5, line),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            _tick_text(tick, chart.unit),
        )

    # Bars: whole device pixels, so a bar's height in pixels is its value's share of the axis.
    bar_w = group_w * _GROUP_FILL / len(chart.series)
    base_y = round(plot_bottom)
    for ci in range(n):
        group_left = plot_left + ci * group_w + group_w * (1 - _GROUP_FILL) / 2
        for si, series in enumerate(chart.series):
            value = series.values[ci] if ci < len(series.values) else 0.0
            if not math.isfinite(value) or value <= 0:
                continue
            height = round(value / axis_top * plot_h)
            left = round(group_left + si * bar_w)
            right = max(left + 1, round(group_left + (si + 1) * bar_w) - (1 if bar_w >= 4 else 0))
            painter.fillRect(QRectF(left, base_y - height, right - left, height), series_colour(si))

    # The axis line over the bars' feet.
    painter.setPen(QPen(text_colour, pen_width))
    painter.drawLine(QPointF(plot_left, base_y), QPointF(plot_left + plot_w, base_y))

    # Category labels: under each group, elided; slanted when too wide; thinned when too many.
    every = max(1, math.ceil(line * 1.1 / group_w)) if slanted else 1
    for ci in range(0, n, every):
        centre = plot_left + (ci + 0.5) * group_w
        if not slanted:
            text = fm.elidedText(chart.categories[ci], Qt.TextElideMode.ElideRight, group_w - pad * 0.25)
            painter.drawText(
                QRectF(centre - group_w / 2, base_y + pad * 0.3, group_w, line),
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                text,
            )
            continue
        # Elided in the middle: "Alice Smith, w…2026-11-09" keeps the person and the week apart.
        text = fm.elidedText(chart.categories[ci], Qt.TextElideMode.ElideMiddle, max_label)
        painter.save()
        painter.translate(centre, base_y + pad * 0.3)
        painter.rotate(_ROTATE_DEGREES)
        painter.drawText(QPointF(-fm.horizontalAdvance(text), fm.ascent()), text)
        painter.restore()


class BarChartView(QWidget):
    """Shows one :class:`BarChart` (or nothing), redrawn at every size with :func:`paint_bar_chart`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("barChart")
        self._chart: BarChart | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    @property
    def chart(self) -> BarChart | None:
        return self._chart

    def set_chart(self, chart: BarChart | None) -> None:
        self._chart = chart
        self.setAccessibleName(chart.title if chart else "")
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(640, 320)

    def minimumSizeHint(self) -> QSize:
        return QSize(240, 160)

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._chart is None:
            return
        painter = QPainter(self)
        try:
            margin = self.fontMetrics().height() * 0.5
            paint_bar_chart(
                painter, QRectF(self.rect()).adjusted(margin, margin, -margin, -margin), self._chart, self.palette()
            )
        finally:
            painter.end()
