"""Logging set-up: one logger per subsystem, secrets redacted everywhere."""

from __future__ import annotations

import logging
import logging.handlers
import os
import threading
from pathlib import Path

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Never let ``value`` reach a log record (defence in depth: we never log it)."""
    if value and len(value) >= 3:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by asterisks."""
    with _lock:
        secrets = list(_secrets)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "********")
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        text = record.getMessage()
        clean = redact(text)
        if clean != text:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None:
            # A traceback carries exception messages too: format it here, redacted.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def setup(data_dir: Path | None, level: int = logging.INFO, to_stderr: bool = True) -> None:
    root = logging.getLogger()
    if getattr(root, "_softclock", False):
        return
    root.setLevel(logging.DEBUG)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact = RedactingFilter()
    if to_stderr:
        err = logging.StreamHandler()
        wanted = os.environ.get("SOFTCLOCK_LOG_LEVEL", "")
        err.setLevel(logging.getLevelNamesMapping().get(wanted.upper(), level))
        err.setFormatter(fmt)
        err.addFilter(redact)
        root.addHandler(err)
    if data_dir is not None:
        path = data_dir / "softclock.log"
        try:
            handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
            if os.name == "posix" and path.stat().st_mode & 0o777 != 0o600:
                os.chmod(path, 0o600)
        except OSError as exc:
            # A read-only or full data directory must not stop the phone; the store says so in the window.
            logging.getLogger("softclock").warning("cannot write the log file %s: %s", path, exc.strerror)
        else:
            handler.setLevel(logging.DEBUG if os.environ.get("SOFTCLOCK_DEBUG") else logging.INFO)
            handler.setFormatter(fmt)
            handler.addFilter(redact)
            root.addHandler(handler)
    root._softclock = True  # type: ignore[attr-defined]
