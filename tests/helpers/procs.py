"""Stopping the test peers and servers (each runs in its own session)."""

from __future__ import annotations

import os
import signal
import subprocess


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
