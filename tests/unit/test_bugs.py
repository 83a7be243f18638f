"""A bug is logged with its traceback, written to a report without secrets, and shown once."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import pytest

from softclock.bugs import BugReporter
from softclock.logs import RedactingFilter, register_secret


def _raise(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_a_bug_is_logged_reported_and_shown_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    shown: list[str] = []
    reporter = BugReporter(tmp_path, shown.append)
    first = reporter.report("the review tab", _raise(AttributeError("'NoneType' object has no attribute 'x'")))
    second = reporter.report("sync", _raise(KeyError("k")))
    assert first is not None and second is not None and first != second
    assert "AttributeError" in first.read_text() and "Traceback" in first.read_text()
    assert len(shown) == 1 and "Something went wrong" in shown[0] and str(first) in shown[0]
    assert [r for r in caplog.records if r.name == "softclock.bug" and "AttributeError" in r.getMessage()]


def test_a_report_never_carries_a_secret(tmp_path: Path) -> None:
    register_secret("hunter2-secret")
    path = BugReporter(tmp_path).report("x", _raise(RuntimeError("login hunter2-secret refused")))
    assert path is not None
    assert "hunter2-secret" not in path.read_text()
    assert "********" in path.read_text()


def test_a_logged_traceback_is_redacted_too() -> None:
    register_secret("s3cr3t-pass")
    record = logging.LogRecord(
        "t", logging.ERROR, __file__, 1, "failed", None, (ValueError, ValueError("bad s3cr3t-pass"), None)
    )
    RedactingFilter().filter(record)
    assert record.exc_info is None and "s3cr3t-pass" not in (record.exc_text or "")
    assert "ValueError" in (record.exc_text or "")


def test_uncaught_exceptions_of_the_main_thread_and_other_threads_are_reported(tmp_path: Path) -> None:
    shown: list[str] = []
    reporter = BugReporter(tmp_path, shown.append)
    saved = sys.excepthook, threading.excepthook
    try:
        reporter.install()
        exc = _raise(ZeroDivisionError("division by zero"))
        sys.excepthook(type(exc), exc, exc.__traceback__)
        worker = threading.Thread(target=lambda: 1 / 0, name="worker-under-test")
        worker.start()
        worker.join()
    finally:
        sys.excepthook, threading.excepthook = saved
    assert len(reporter.reports) == 2
    assert "thread worker-under-test" in reporter.reports[1].read_text()
    assert len(shown) == 1
