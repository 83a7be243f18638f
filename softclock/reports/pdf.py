"""A report as a PDF: :func:`write_pdf`, for the command line and the Reports window.

The drawing is Qt's (QPdfWriter, QPainter), so it lives with the other Qt code in
:mod:`softclock.ui.report_pdf`; this module is the entry point that keeps Qt out of
the command line's imports until a PDF is asked for.
"""

from __future__ import annotations

from pathlib import Path

from softclock.reports.model import Report


def write_pdf(report: Report, path: str | Path) -> None:
    """Write ``report`` to an A4 PDF at ``path``: title, period, table with totals, notes and
    its chart, page numbers, the table's header again on every page it runs onto.
    Works without a display (an offscreen QGuiApplication is made when there is none).
    A path that cannot be written raises :class:`softclock.errors.UserError`."""
    from softclock.ui.report_pdf import write_pdf as draw

    draw(report, path)
