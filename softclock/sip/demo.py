"""The built-in demo line: a local SIP peer the app starts itself.

It runs ``softclock.sip.demo_peer`` in a child process (its own pjsua2
endpoint) on loopback; the app's account talks to it without any registrar.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Callable

log = logging.getLogger("softclock.demo")


class DemoLine:
    """Starts, drives and stops the demo peer process.

    Args:
        on_ready: called (on a helper thread) with the peer's SIP URI.
        on_error: called (on a helper thread) with a sentence if it fails to start.
    """

    def __init__(
        self, on_ready: Callable[[str], None], on_error: Callable[[str], None], ring_ms: int = 1500, call_s: int = 30
    ) -> None:
        self._on_ready = on_ready
        self._on_error = on_error
        self._ring_ms = ring_ms
        self._call_s = call_s  # the demo client's calls end by themselves after this much talk (0 = never)
        self._proc: subprocess.Popen[str] | None = None
        self.uri = ""
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        threading.Thread(target=self._run, name="demo-line", daemon=True).start()

    def _run(self) -> None:
        cmd = [sys.executable, "-m", "softclock.sip.demo_peer", "--ring-ms", str(self._ring_ms)]
        cmd += ["--call-talk-s", str(self._call_s)]
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1
            )
        except OSError as exc:
            self._on_error(f"The demo line could not start: {exc.strerror}")
            return
        self._proc = proc
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("READY "):
                self.uri = line.split(None, 1)[1].strip()
                log.info("demo line ready at %s", self.uri)
                self._on_ready(self.uri)
                break
        else:
            self._on_error(f"The demo line stopped before it was ready (exit code {proc.wait()}).")
            return
        for line in proc.stdout:  # keep the pipe drained; the peer reports call states
            log.debug("demo peer: %s", line.rstrip())

    def _send(self, line: str) -> None:
        with self._lock:
            if self._proc is None or self._proc.stdin is None or self._proc.poll() is not None:
                return
            try:
                self._proc.stdin.write(line + "\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError):
                log.warning("the demo line is gone")

    def call_me(self, uri: str) -> None:
        self._send(f"call {uri} Demo Client")

    def stop(self, timeout: float = 5.0) -> None:
        proc = self._proc
        if proc is None:
            return
        with self._lock:
            if proc.stdin is not None:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._proc = None
