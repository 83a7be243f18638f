"""Today's calls and their draft entries, newest first: a row per entry (the
pieces of a split call in their places in time), a row per call without one."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from softclock.events import Direction
from softclock.formatting import as_local, bare_address, fmt_duration
from softclock.states import Disposition
from softclock.textsafe import printable

if TYPE_CHECKING:
    from softclock.facades import CallRow, EntryRow

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
        items: list[tuple[datetime, int, QTreeWidgetItem]] = []
        for call in rows:
            entries = call.entries
            bare = bare_address(call.remote_uri)
            who = printable(call.display_name or pretty(call.remote_number) or self._names.get(bare) or _demo(bare))
            arrow = "→ " if call.direction == Direction.OUTGOING.value else "← "
            status = _DISPOSITIONS.get(call.disposition, call.disposition)
            if call.recovered:
                status = (status + " · recovered").strip(" ·")
            if call.merged_away:
                for item in self._merged_items(call, arrow + who):
                    items.append((call.answered_utc or call.invited_utc, len(items), item))
                continue
            if not entries:
                item = QTreeWidgetItem([_hhmm(call.invited_utc), arrow + who, "—", "no billable time", status])
                items.append((call.invited_utc, len(items), item))
                continue
            for entry in entries:
                matter = printable(entry.matter.label) if entry.matter else "Unassigned"
                item = QTreeWidgetItem(
                    [
                        _hhmm(entry.started_utc),
                        arrow + who,
                        matter,
                        fmt_duration(entry.raw_seconds),
                        entry.status.capitalize() if not status else status,
                    ]
                )
                items.append((entry.started_utc or call.invited_utc, len(items), item))
        # Newest first, each row by its own start: a split call's pieces follow each other in time.
        items.sort(key=lambda row: (row[0], -row[1]), reverse=True)
        self.addTopLevelItems([item for _start, _order, item in items])
        if not self._sized and self.topLevelItemCount():  # once: afterwards the widths are the person's
            self._sized = True
            for col in (0, 1, 3, 4):
                self.resizeColumnToContents(col)

    def _merged_items(self, call: CallRow, who: str) -> list[QTreeWidgetItem]:
        """A merged-away call: where its time went (the entry it was merged into)."""
        started = _hhmm(call.answered_utc or call.invited_utc)
        duration = fmt_duration(call.talk_seconds)
        if not call.merged_into:  # merged before the trail named the call
            item = QTreeWidgetItem([started, who, "—", duration, "Merged into another entry"])
            return [item]
        items = []
        for into in call.merged_into:
            matter = printable(into.matter.label) if into.matter else "Unassigned"
            item = QTreeWidgetItem([started, who, matter, duration, f"Merged into {_into(into)}"])
            item.setToolTip(
                4, f"Its time is in the entry of {_into(into)} on {matter} ({fmt_duration(into.raw_seconds)} in all)"
            )
            items.append(item)
        return items


def _hhmm(utc: datetime | None) -> str:
    local = as_local(utc)
    return local.strftime("%H:%M") if local else ""


def _into(entry: EntryRow) -> str:
    """The surviving entry as a person knows it: its start (a merge keeps to one day)."""
    return _hhmm(entry.started_utc) or "another entry"


def _demo(bare: str) -> str:
    """ "Demo line" for the demo peer at any port (it takes a new one each start), else ``bare``."""
    return "Demo line" if bare.startswith("demo@127.0.0.1:") else bare
