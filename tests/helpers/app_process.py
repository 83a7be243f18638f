"""Run the real ``softclock`` command as a subprocess and follow its log."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PYTHON_KEYRING_BACKEND": "tests.helpers.keyring_backend.MemoryKeyring",
            "SOFTCLOCK_TEST_KEYRING": str(tmp_path / "keyring.json"),
            "SOFTCLOCK_DATA_DIR": str(tmp_path / "data"),
            "SOFTCLOCK_CONFIG": str(tmp_path / "settings.toml"),
            "QT_QPA_PLATFORM": "offscreen",
        }
    )
    env.update(extra)
    return env


def softclock(
    args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "softclock.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=ROOT,
    )


def add_alice(tmp_path: Path, env: dict[str, str], sip_port: int) -> None:
    """Settings for a headless app (loopback, no sound device) and the account
    alice@sip.test on the registrar at 127.0.0.1:``sip_port``, added with the
    ``softclock account add`` command (password on stdin)."""
    (tmp_path / "settings.toml").write_text('[sip]\nbind_address = "127.0.0.1"\nnull_audio = true\n')
    added = softclock(
        ["account", "add", "--server", f"127.0.0.1:{sip_port}", "--user", "alice", "--domain", "sip.test"],
        env,
        stdin="alicepass\n",
    )
    assert added.returncode == 0, added.stderr


class AppProcess:
    """The desktop app as a child process, its stderr log read line by line."""

    def __init__(self, env: dict[str, str], args: list[str] | None = None) -> None:
        env = dict(env, SOFTCLOCK_LOG_LEVEL="INFO")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "softclock.cli", *(args or [])],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))

    def wait_for_line(self, needle: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if needle in line:
                return line
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.lines.append(line)
            if needle in line:
                return line
        tail = "\n".join(self.lines[-30:])
        raise AssertionError(f"the app never logged {needle!r}; its log ends:\n{tail}")

    def drain(self, timeout: float = 10.0) -> list[str]:
        """Once the process has exited: read its log to the end into ``lines`` (which
        otherwise only holds what :meth:`wait_for_line` has read so far)."""
        assert self.proc.poll() is not None, "drain() is for a process that has exited"
        self._reader.join(timeout)
        while True:
            try:
                self.lines.append(self._queue.get_nowait())
            except queue.Empty:
                return self.lines

    def stop(self, timeout: float = 15.0) -> int:
        """Terminate the app (SIGTERM, SIGKILL if it lingers), read the rest of its log
        into ``lines``, and return its exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.drain()
        return int(self.proc.returncode)
