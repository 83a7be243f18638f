"""The test peers and servers as child processes: finding their binaries, stopping
them (each runs in its own session), and skipping (or failing under CI) without them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn


def stop_group(proc: subprocess.Popen, timeout: float = 5.0) -> bool:  # type: ignore[type-arg]
    """SIGTERM ``proc``, SIGKILL its process group if it lingers, and make sure
    nothing of the group is left. Returns True when it was still running."""
    was_running = proc.poll() is None
    if was_running:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)
        except ProcessLookupError:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # children left in the group, if any
    except (ProcessLookupError, PermissionError):
        pass
    return was_running


def missing_tool(msg: str) -> NoReturn:
    """A tool a test needs is not installed: skip the test, or fail it when CI=true
    (CI must not silently skip tests of the real components)."""
    import pytest  # here: the helpers also serve bench/, which runs without pytest

    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(msg + " -- required when CI=true", pytrace=False)
    pytest.skip(msg)


def find_binary(name: str, *fallbacks: str) -> str | None:
    """Path of the executable ``name`` on PATH, else the first executable of ``fallbacks``."""
    found = shutil.which(name)
    if found:
        return found
    for cand in fallbacks:
        if os.access(cand, os.X_OK):
            return cand
    return None


def dir_containing(dirs: Iterable[str], filename: str) -> str | None:
    """The first of ``dirs`` that holds ``filename`` (a module directory), or None."""
    for d in dirs:
        if os.path.exists(os.path.join(d, filename)):
            return d
    return None


class ChildProcess:
    """What the helpers that run one server or peer process share: ``_proc`` is
    its Popen (None before start), ``log_path`` the file it logs to; ``with`` runs
    the subclass's ``start()`` (which returns the instance) and ``stop()``."""

    _proc: subprocess.Popen | None  # type: ignore[type-arg]
    log_path: Path

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self.start()  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        self.stop()  # type: ignore[attr-defined]


class LoopbackServer(ChildProcess):
    """A :class:`ChildProcess` that listens on 127.0.0.1, ``_port`` once started."""

    _port: int | None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} not started")
        return self._port
