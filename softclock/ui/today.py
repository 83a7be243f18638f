"""Today's calls and their draft entries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from softclock.events import Direction
from softclock.formatting import as_local, bare_address, fmt_duration
from softclock.states import Disposition
from softclock.textsafe import printable

if TYPE_CHECKING:
    from softclock.facades import CallRow

_DISPOSITIONS: dict[str, str] = {
    Disposition.ANSWERED: "",
    Disposition.MISSED: "Missed",
    Disposition.DECLINED: "Declined",
    Disposition.CANCELLED: "Cancelled",
    Disposition.BUSY: "Busy",
    Disposition.FAILED: "Failed",
    Disposition.IN_PROGRESS: "In progress",
}

COLUMNS = ("Start", "Who", "Matter", "Duration", "Status")


class TodayList(QTreeWidget):
    """A row per call today; answered calls show their draft entry."""

    def __init__(self, known_names: dict[str, str] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._names = known_names if known_names is not None else {}
        self._sized = False
        self.setObjectName("todayList")
        self.setColumnCount(len(COLUMNS))
        self.setHeaderLabels(list(COLUMNS))
        self.setRootIsDecorated(False)
        self.setAlternatingRowColors(True)
        self.header().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)

    def show_rows(self, rows: list[CallRow]) -> None:
        from softclock.matching import pretty

        self.clear()
        for call in rows:
            entries = call.entries
            bare = bare_address(call.remote_uri)
            who = printable(call.display_name or pretty(call.remote_number) or self._names.get(bare, bare))
            arrow = "→ " if call.direction == Direction.OUTGOING.value else "← "
            status = _DISPOSITIONS.get(call.disposition, call.disposition)
            if call.recovered:
                status = (status + " · recovered").strip(" ·")
            if not entries:
                started = as_local(call.invited_utc)
                item = QTreeWidgetItem(
                    [started.strftime("%H:%M") if started else "", arrow + who, "—", "no billable time", status]
                )
                self.addTopLevelItem(item)
                continue
            for entry in entries:
                started = as_local(entry.started_utc)
                matter = printable(entry.matter.label) if entry.matter else "Unassigned"
                item = QTreeWidgetItem(
                    [
                        started.strftime("%H:%M") if started else "",
                        arrow + who,
                        matter,
                        fmt_duration(entry.raw_seconds),
                        entry.status.capitalize() if not status else status,
                    ]
                )
                self.addTopLevelItem(item)
        if not self._sized and self.topLevelItemCount():  # once: afterwards the widths are the person's
            self._sized = True
            for col in (0, 1, 3, 4):
                self.resizeColumnToContents(col)
