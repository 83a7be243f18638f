"""Time entries as CSV for billing systems: one header line, then one row per entry.

RFC 4180 (comma-separated, CRLF line ends, a field quoted when it holds a
comma, a quote or a line break, quotes doubled), UTF-8 (optionally with a
byte-order mark, which Excel needs to see UTF-8), ISO dates (``2026-01-15``)
and UTC times (``2026-01-15T14:00:00Z``), amounts as decimals with a point
(``1.20`` hours, ``350.00`` rate, ``420.00`` value), never floats. Every text
cell passes :func:`softclock.textsafe.csv_cell`, so one a spreadsheet would
run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR first) starts with
``'``; numbers are written as numbers and are left alone.

Hours and value follow the LEDES export's rule (:mod:`softclock.reports.ledes`):
hours = billed units x increment / 60, to 2 decimals or 4 where the increment
needs them; value = hours as written x rate, rounded half-up to cents. The
rate is the matter's when it has one, else the timekeeper's: the caller puts
the rate that applies in :class:`EntryRow`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from softclock.reports.ledes import INCREMENTS_MIN, hours, money
from softclock.textsafe import csv_row

COLUMNS = (
    "entry_id",
    "date",
    "started_utc",
    "timekeeper_id",
    "timekeeper_name",
    "client_id",
    "client_name",
    "matter_id",
    "matter_name",
    "raw_seconds",
    "billed_units",
    "increment_min",
    "hours",
    "rate",
    "value",
    "task_code",
    "activity_code",
    "billable",
    "status",
    "narrative",
)


@dataclass(frozen=True)
class EntryRow:
    """One time entry as the export sees it (plain values, from whatever store)."""

    entry_id: str
    date: date  # the day the work was done, in the firm's time
    started_utc: datetime | None
    timekeeper_id: str
    timekeeper_name: str
    client_id: str
    client_name: str
    matter_id: str
    matter_name: str
    raw_seconds: int
    units: int  # billed units
    increment_min: int
    rate: Decimal  # the hourly rate that applies (the matter's, else the timekeeper's)
    narrative: str = ""
    task_code: str = ""
    activity_code: str = ""
    billable: bool = True
    status: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.rate, float) or not isinstance(self.rate, (Decimal, int)):
            raise TypeError(f"rate must be a Decimal or an int, not {type(self.rate).__name__} ({self.rate!r})")
        if self.increment_min not in INCREMENTS_MIN:
            raise ValueError(f"increment_min must be one of {INCREMENTS_MIN}, not {self.increment_min!r}")
        if self.started_utc is not None and self.started_utc.utcoffset() is None:
            raise ValueError("started_utc must be an aware datetime")

    @property
    def hours(self) -> Decimal:
        return hours(self.units, self.increment_min)

    @property
    def value(self) -> Decimal:
        """Hours x rate, to the cent; a non-billable entry is worth nothing."""
        return money(self.hours * money(self.rate)) if self.billable else Decimal("0.00")


def _utc(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def rows(entries: Iterable[EntryRow]) -> Iterator[list[object]]:
    """The header, then each entry's cells (text neutralised, numbers as Decimal or int)."""
    yield list(COLUMNS)
    for entry in entries:
        yield csv_row(
            [
                entry.entry_id,
                entry.date.isoformat(),
                _utc(entry.started_utc),
                entry.timekeeper_id,
                entry.timekeeper_name,
                entry.client_id,
                entry.client_name,
                entry.matter_id,
                entry.matter_name,
                int(entry.raw_seconds),
                int(entry.units),
                entry.increment_min,
                entry.hours,
                money(entry.rate),
                entry.value,
                entry.task_code,
                entry.activity_code,
                "yes" if entry.billable else "no",
                entry.status,
                entry.narrative,
            ]
        )


def write_csv(entries: Iterable[EntryRow], out: TextIO) -> int:
    """Write the CSV to ``out`` (opened with ``newline=""``); the number of entries written."""
    writer = csv.writer(out, lineterminator="\r\n")
    count = -1
    for count, row in enumerate(rows(entries)):  # noqa: B007
        writer.writerow(row)
    return count


def to_csv(entries: Iterable[EntryRow]) -> str:
    buffer = io.StringIO(newline="")
    write_csv(entries, buffer)
    return buffer.getvalue()


def save_csv(path: str | Path, entries: Iterable[EntryRow], *, bom: bool = False) -> int:
    """Write the CSV file at ``path`` in UTF-8 (with a byte-order mark if ``bom``); the number of entries."""
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        return write_csv(entries, fh)
