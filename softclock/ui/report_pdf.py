"""A report as an A4 PDF, drawn with Qt's own QPdfWriter and QPainter (no PySide6-Addons).

The page: the title, the period and the filters, the table (numbers right-aligned,
hours and money with two places, a totals row), its notes and, when the report has
one, its bar chart (:func:`softclock.ui.charts.paint_bar_chart`). A table longer than
a page goes on over the next, with its header row again at the top of each; every page
says "Page N of M". Text stays text, so ``pdftotext`` reads it back.

Works without a display: :func:`write_pdf` makes an offscreen QGuiApplication when the
process has no Qt application (the command line).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QMarginsF, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QPageLayout,
    QPageSize,
    QPainter,
    QPalette,
    QPdfWriter,
    QPen,
)

from softclock.errors import UserError
from softclock.reports.cells import NUMERIC, cell_text, filters_text, period_text, totals_cells
from softclock.reports.model import Kind, Report
from softclock.ui.charts import paint_bar_chart

DPI = 300
MARGIN_MM = 15.0
BODY_PT = 8.5
TITLE_PT = 15.0
_MEASURED_ROWS = 2000  # rows measured for column widths (the rest are elided if wider)
_ZEBRA = QColor("#f0f0f0")
_RULE = QColor("#555555")

_app: QGuiApplication | None = None


def ensure_gui_application() -> None:
    """Qt paints text only inside a QGuiApplication: make an offscreen one if this process has none."""
    global _app
    if QGuiApplication.instance() is not None:
        return
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # a PDF needs no screen, and a server has none
    _app = QGuiApplication(["softclock"])


def light_palette() -> QPalette:
    """Black on white, whatever the desktop's theme: paper is white."""
    palette = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Window, QColor("white")),
        (QPalette.ColorRole.Base, QColor("white")),
        (QPalette.ColorRole.WindowText, QColor("black")),
        (QPalette.ColorRole.Text, QColor("black")),
    ):
        palette.setColor(role, colour)
    return palette


@dataclass
class _Table:
    widths: list[float]
    right: list[bool]
    row_h: float


class _Pages:
    """Lays the report out page by page; with ``draw`` False it only counts the pages."""

    def __init__(self, painter: QPainter, writer: QPdfWriter, report: Report, draw: bool, total: int) -> None:
        self.p = painter
        self.writer = writer
        self.report = report
        self.draw = draw
        self.total = total
        self.page = 1
        self.width = float(writer.width())
        self.body = QFont()
        self.body.setPointSizeF(BODY_PT)
        self.bold = QFont(self.body)
        self.bold.setBold(True)
        self.fm = QFontMetricsF(self.body, writer)
        self.bold_fm = QFontMetricsF(self.bold, writer)
        self.footer_h = self.fm.height() * 2
        self.bottom = float(writer.height()) - self.footer_h
        self.y = 0.0
        self._footer()

    # ----------------------------------------------------------- pages
    def _footer(self) -> None:
        if not self.draw:
            return
        self.p.setFont(self.body)
        self.p.setPen(QColor("black"))
        y = float(self.writer.height()) - self.fm.height()
        box = QRectF(0, y, self.width, self.fm.height())
        title = self.fm.elidedText(self.report.title, Qt.TextElideMode.ElideRight, self.width * 0.7)
        self.p.drawText(box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, title)
        self.p.drawText(
            box, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"Page {self.page} of {self.total}"
        )

    def new_page(self) -> None:
        if self.draw:
            self.writer.newPage()
        self.page += 1
        self.y = 0.0
        self._footer()

    def room(self) -> float:
        return self.bottom - self.y

    # ----------------------------------------------------------- text
    def paragraph(self, text: str, font: QFont, gap_after: float) -> None:
        fm = QFontMetricsF(font, self.writer)
        flags = int(Qt.AlignmentFlag.AlignLeft) | int(Qt.TextFlag.TextWordWrap)
        box = fm.boundingRect(QRectF(0, 0, self.width, 1e6), flags, text)
        if box.height() > self.room() and self.y > 0:
            self.new_page()
        if self.draw:
            self.p.setFont(font)
            self.p.setPen(QColor("black"))
            self.p.drawText(QRectF(0, self.y, self.width, box.height()), flags, text)
        self.y += box.height() + gap_after

    # ----------------------------------------------------------- table
    def measure(self) -> _Table:
        report = self.report
        pad = self.fm.averageCharWidth() * 1.2
        widths = [self.bold_fm.horizontalAdvance(c.title) for c in report.columns]
        sample = list(report.rows[:_MEASURED_ROWS])
        if report.totals is not None:
            sample.append(totals_cells(report))
        for row in sample:
            for index, column in enumerate(report.columns):
                if index < len(row):
                    text = cell_text(column.kind, row[index])
                    widths[index] = max(widths[index], self.bold_fm.horizontalAdvance(text))
        widths = [w + 2 * pad for w in widths]
        text_cols = [i for i, c in enumerate(report.columns) if c.kind not in NUMERIC]
        total = sum(widths)
        if total > self.width and text_cols:  # text columns give way first (elided), down to a third
            spare = total - self.width
            text_total = sum(widths[i] for i in text_cols)
            shrink = min(spare, text_total * 2 / 3)
            for i in text_cols:
                widths[i] -= shrink * widths[i] / text_total
            total = sum(widths)
        if total > self.width or text_cols:  # fill the line: scale down, or widen the text columns
            if total > self.width:
                widths = [w * self.width / total for w in widths]
            else:
                extra = self.width - total
                text_total = sum(widths[i] for i in text_cols)
                for i in text_cols:
                    widths[i] += extra * widths[i] / text_total
        right = [c.kind in NUMERIC for c in report.columns]
        return _Table(widths, right, self.fm.height() * 1.45)

    def _row(self, table: _Table, cells: list[str], font: QFont, fm: QFontMetricsF, shade: bool) -> None:
        if self.draw:
            if shade:
                self.p.fillRect(QRectF(0, self.y, sum(table.widths), table.row_h), _ZEBRA)
            self.p.setFont(font)
            self.p.setPen(QColor("black"))
            pad = self.fm.averageCharWidth() * 1.2
            x = 0.0
            for width, text, right in zip(table.widths, cells, table.right, strict=False):
                room = max(0.0, width - 2 * pad)
                shown = fm.elidedText(text, Qt.TextElideMode.ElideRight, room)
                align = Qt.AlignmentFlag.AlignRight if right else Qt.AlignmentFlag.AlignLeft
                self.p.drawText(
                    QRectF(x + pad, self.y, room, table.row_h), align | Qt.AlignmentFlag.AlignVCenter, shown
                )
                x += width
        self.y += table.row_h

    def _rule(self, table: _Table, weight: float) -> None:
        if self.draw:
            self.p.setPen(QPen(_RULE, max(1.0, DPI / 150 * weight)))
            self.p.drawLine(QPointF(0, self.y), QPointF(sum(table.widths), self.y))

    def _header(self, table: _Table) -> None:
        titles = [c.title for c in self.report.columns]
        self._row(table, titles, self.bold, self.bold_fm, shade=False)
        self._rule(table, 1.0)

    def table(self) -> None:
        report = self.report
        if not report.rows:
            self.paragraph("No rows for this period.", self.body, self.fm.height())
            return
        table = self.measure()
        if self.room() < table.row_h * 3:
            self.new_page()
        self._header(table)
        kinds = [c.kind for c in report.columns]
        for number, row in enumerate(report.rows):
            if self.room() < table.row_h:
                self.new_page()
                self._header(table)
            self._row(
                table, [cell_text(k, v) for k, v in zip(kinds, row, strict=False)], self.body, self.fm, number % 2 == 1
            )
        if report.totals is not None:
            if self.room() < table.row_h:
                self.new_page()
                self._header(table)
            self._rule(table, 1.0)
            totals = totals_cells(report)
            self._row(
                table,
                [cell_text(k if v != "Total" else Kind.TEXT, v) for k, v in zip(kinds, totals, strict=False)],
                self.bold,
                self.bold_fm,
                shade=False,
            )
        self.y += self.fm.height()

    # ----------------------------------------------------------- chart
    def chart(self) -> None:
        chart = self.report.chart
        if chart is None:
            return
        height = min(self.width * 0.6, self.bottom * 0.8)
        if self.room() < height:
            self.new_page()
        if self.draw:
            self.p.setFont(self.body)
            paint_bar_chart(self.p, QRectF(0, self.y, self.width, height), chart, light_palette())
        self.y += height + self.fm.height()


def _lay_out(pages: _Pages) -> int:
    report = pages.report
    title = QFont(pages.body)
    title.setPointSizeF(TITLE_PT)
    title.setBold(True)
    sub = QFont(pages.body)
    sub.setPointSizeF(BODY_PT * 1.2)
    pages.paragraph(report.title, title, pages.fm.height() * 0.3)
    pages.paragraph(period_text(report), sub, pages.fm.height() * 0.2)
    if filters_text(report):
        pages.paragraph(filters_text(report), pages.body, 0)
    pages.y += pages.fm.height()
    pages.table()
    notes = list(report.notes)
    if report.truncated:
        notes.append(f"Only the first {len(report.rows):,} rows are shown.")
    for note in notes:
        pages.paragraph(note, pages.body, pages.fm.height() * 0.3)
    if notes:
        pages.y += pages.fm.height()
    pages.chart()
    return pages.page


def write_pdf(report: Report, path: str | Path) -> None:
    """Write ``report`` to an A4 PDF at ``path`` (see the module's docstring)."""
    ensure_gui_application()
    try:  # Qt would only say "QPainter::begin(): Returned false"
        Path(path).open("wb").close()
    except OSError as exc:
        raise UserError(f"The PDF could not be written at {path}: {exc.strerror or exc}.") from exc
    writer = QPdfWriter(str(path))
    writer.setResolution(DPI)
    writer.setTitle(report.title)
    writer.setCreator("Softclock")
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM),
            QPageLayout.Unit.Millimeter,
        )
    )
    # First count the pages (for "Page N of M"), then draw them.
    counter = QPainter()
    total = _lay_out(_Pages(counter, writer, report, draw=False, total=0))
    painter = QPainter(writer)
    if not painter.isActive():
        raise UserError(f"The PDF could not be written at {path}.")
    try:
        _lay_out(_Pages(painter, writer, report, draw=True, total=total))
    finally:
        painter.end()
