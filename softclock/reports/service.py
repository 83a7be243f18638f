"""The Reports window's way to the central store: :class:`ReportsService`.

The window (``softclock/ui``) imports neither SQLAlchemy nor the store; it is
handed one of these and calls it off the UI thread. The service connects with
the person's own central-store login (the password from the keyring), so what a
report holds is what the database lets that login read (row-level security: a
timekeeper their own calls and entries, billing and admin everyone's).

A failure the person can do something about (no central store set up, a wrong
password, a server that does not answer) is a :class:`ReportsUnavailable`
whose text is the sentence to show.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from softclock.errors import UserError
from softclock.reports.model import Report, ReportRequest

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from softclock.settings import CentralSettings
    from softclock.sync.connect import Target


@dataclass(frozen=True)
class ReportChoice:
    """A report the window offers: its name, what a person calls it, the groupings it takes."""

    name: str
    title: str
    description: str
    by: tuple[str, ...]
    default_by: tuple[str, ...]


def report_choices() -> tuple[ReportChoice, ...]:
    """Every report of :mod:`softclock.reports.central_reports`, in its order."""
    from softclock.reports.central_reports import REPORTS

    return tuple(ReportChoice(name, i.title, i.description, i.by, i.default_by) for name, i in REPORTS.items())


NOT_SET_UP = (
    "No central store is set up, and reports come from it: set [central] url in the settings "
    "and the login's password with `softclock sync login`."
)


class ReportsUnavailable(UserError):
    """The report cannot be had now; ``str()`` says why in a sentence."""


class ReportsService:
    """Runs reports on the central store with this person's login; writes them as PDF or CSV.

    Every method may block on the network or the disk: call them off the UI thread.
    One engine is kept (made on first use) and closed by :meth:`close`.
    """

    def __init__(
        self,
        central: CentralSettings,
        run: Callable[[Engine, ReportRequest], Report] | None = None,
    ) -> None:
        self._central = central
        self._run = run
        self._engine: Engine | None = None
        self._target: Target | None = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self._central.url)

    def _connect(self) -> tuple[Engine, Target]:
        from softclock.sync.connect import Target, parse_url

        with self._lock:
            if self._engine is None or self._target is None:
                if not self._central.url:
                    raise ReportsUnavailable(NOT_SET_UP)
                target = Target(parse_url(self._central.url), self._central.sslmode, self._central.sslrootcert)
                self._engine, self._target = target.engine(), target
            return self._engine, self._target

    def run(self, request: ReportRequest) -> Report:
        """The report, as the database lets this login see it."""
        from sqlalchemy.exc import SQLAlchemyError

        from softclock.sync.connect import describe

        engine, target = self._connect()
        run = self._run or _run_report
        try:
            return run(engine, request)
        except SQLAlchemyError as exc:
            raise ReportsUnavailable(describe(exc, target)) from exc

    def save_pdf(self, report: Report, path: str | Path) -> None:
        from softclock.reports.pdf import write_pdf

        write_pdf(report, path)

    def save_csv(self, report: Report, path: str | Path) -> int:
        from softclock.reports.cells import save_csv

        try:
            return save_csv(report, path)
        except OSError as exc:
            raise ReportsUnavailable(f"The CSV could not be written at {path}: {exc.strerror or exc}.") from exc

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = None


def _run_report(engine: Engine, request: ReportRequest) -> Report:
    from softclock.reports.central_reports import run_report

    return run_report(engine, request)
