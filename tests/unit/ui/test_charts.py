"""The bar chart painter: bars' heights in pixels follow their values, on one baseline, in the series' colours."""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPalette

from softclock.reports.model import BarChart, Series
from softclock.ui.charts import BarChartView, nice_ticks, paint_bar_chart, series_colour
from tests.helpers.reports import hours_chart


def _render(chart: BarChart, width: int = 640, height: int = 360, dark: bool = False) -> QImage:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.WindowText, QColor("white" if dark else "black"))
    image.fill(QColor("#202020" if dark else "white"))
    painter = QPainter(image)
    paint_bar_chart(painter, QRectF(10, 10, width - 20, height - 20), chart, palette)
    painter.end()
    return image


def _bars(image: QImage, colour: QColor) -> list[int]:
    """Heights (px) of the bars of ``colour``, left to right: runs of columns of that colour
    whose lowest pixel sits on the common baseline (legend swatches do not)."""
    rgb = colour.rgb()
    columns: dict[int, tuple[int, int]] = {}  # x -> (top, bottom)
    for x in range(image.width()):
        ys = [y for y in range(image.height()) if image.pixel(x, y) == rgb]
        if ys:
            columns[x] = (min(ys), max(ys))
    baseline = max(bottom for _, bottom in columns.values())
    bars: list[int] = []
    previous = -2
    for x in sorted(columns):
        top, bottom = columns[x]
        if bottom != baseline:
            continue
        if x != previous + 1:
            bars.append(bottom - top + 1)
        previous = x
    return bars


def test_bar_heights_are_in_proportion_to_the_values(qapp) -> None:  # type: ignore[no-untyped-def]
    chart = hours_chart(((8.0, 4.0, 2.0), (6.0, 3.0, 0.5)))
    image = _render(chart)
    captured = _bars(image, series_colour(0))
    approved = _bars(image, series_colour(1))
    assert len(captured) == 3 and len(approved) == 3
    unit = captured[0] / 8.0  # pixels an hour
    assert unit > 15
    for heights, values in ((captured, (8.0, 4.0, 2.0)), (approved, (6.0, 3.0, 0.5))):
        for height, value in zip(heights, values, strict=True):
            assert abs(height - value * unit) <= 1.5, (heights, values)
    # The third colour belongs to no series here: neither a bar nor a swatch of it.
    assert not any(image.pixel(x, y) == series_colour(2).rgb() for x in range(0, 640, 3) for y in range(0, 360, 3))


def test_a_zero_draws_no_bar_and_the_axis_starts_at_zero(qapp) -> None:  # type: ignore[no-untyped-def]
    image = _render(BarChart("t", ("a", "b"), (Series("Captured", (5.0, 0.0)),)))
    assert len(_bars(image, series_colour(0))) == 1


def test_many_long_categories_still_draw_every_bar(qapp) -> None:  # type: ignore[no-untyped-def]
    categories = tuple(f"Timekeeper with a long name {i}, week of 2026-11-{i % 28 + 1:02d}" for i in range(40))
    chart = BarChart("Hours", categories, (Series("Captured", tuple(float(i + 1) for i in range(40))),))
    heights = _bars(_render(chart, width=900), series_colour(0))
    assert len(heights) == 40
    assert heights == sorted(heights) and heights[-1] > heights[0] * 20


def test_the_axis_ticks_are_round_hours() -> None:
    assert nice_ticks(7.3) == [0, 2, 4, 6, 8]
    assert nice_ticks(12.6) == [0, 5, 10, 15]  # whole hours, no 2.5 h steps
    assert nice_ticks(41) == [0, 10, 20, 30, 40, 50]
    assert nice_ticks(0) == [0.0, 1.0]


def test_the_text_reads_on_a_dark_window(qapp) -> None:  # type: ignore[no-untyped-def]
    image = _render(hours_chart(), dark=True)
    white = QColor("white").rgb()
    assert any(image.pixel(x, y) == white for x in range(640) for y in range(0, 40))  # title and legend in window text


def test_the_view_draws_its_chart(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = BarChartView()
    qtbot.addWidget(view)
    view.resize(500, 300)
    view.set_chart(hours_chart())
    assert view.accessibleName() == "Captured, approved and unlogged hours"
    image = view.grab().toImage()
    assert _bars(image.convertToFormat(QImage.Format.Format_RGB32), series_colour(0))
