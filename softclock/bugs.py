"""Bugs are not known errors.

A :class:`softclock.errors.UserError` is the environment's fault and is shown as
one sentence. Anything else is a bug: it is logged with its traceback, written
to a report file in the data directory (secrets redacted), and shown to the
person once as "Something went wrong" with where the report is. The app is kept
alive where it safely can be. This module knows nothing of Qt; the UI installs
it as ``sys.excepthook`` and ``threading.excepthook`` and gives it a way to
show the sentence.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from softclock.logs import redact

log = logging.getLogger("softclock.bug")

REPORTS = "crash-reports"


class BugReporter:
    """Logs a bug, writes its report and tells the person once per run.

    Args:
        data_dir: where ``crash-reports/`` goes (None: the log only).
        show: shows a sentence to the person (from any thread; the UI passes a
            function that hands it to the main thread). None: nothing is shown.
    """

    def __init__(self, data_dir: Path | None, show: Callable[[str], None] | None = None) -> None:
        self._dir = data_dir / REPORTS if data_dir is not None else None
        self._show = show
        self._shown = False
        self._lock = threading.Lock()
        self.reports: list[Path] = []

    def report(self, where: str, exc: BaseException) -> Path | None:
        """Record the bug ``exc`` raised in ``where``; returns the report file, if one was written."""
        text = redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        log.error("bug in %s:\n%s", where, text.rstrip())
        path = self._write(where, text)
        with self._lock:
            first, self._shown = not self._shown, True
        if first and self._show is not None:
            place = f" The report is in {path}." if path else " Details are in softclock.log."
            self._show(f"Something went wrong ({where}); Softclock carries on.{place}")
        return path

    def _write(self, where: str, text: str) -> Path | None:
        if self._dir is None:
            return None
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self._dir / f"bug-{stamp}.txt"
        try:
            self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.write_text(f"Softclock bug report\nwhere: {where}\nwhen: {stamp}\n\n{text}", encoding="utf-8")
        except OSError as exc:
            log.warning("cannot write the bug report %s: %s", path, exc.strerror)
            return None
        self.reports.append(path)
        return path

    def install(self) -> None:
        """Report uncaught exceptions of the main thread and of every other thread."""

        def on_main(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
            if issubclass(kind, KeyboardInterrupt):
                sys.__excepthook__(kind, exc, tb)
                return
            self.report("the main thread", exc.with_traceback(tb))

        def on_thread(args: threading.ExceptHookArgs) -> None:
            if args.exc_value is not None:
                name = args.thread.name if args.thread is not None else "a thread"
                self.report(f"thread {name}", args.exc_value)

        sys.excepthook = on_main
        threading.excepthook = on_thread
