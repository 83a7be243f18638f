"""Network namespaces with only loopback, for tests that change the network."""

from __future__ import annotations

import shutil
import subprocess

from tests.helpers.procs import missing_tool


def namespace_available() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return probe.returncode == 0


def require_namespace() -> None:
    """Skip (or fail when CI=true) unless ``unshare -n`` and iproute2 work here."""
    if namespace_available():
        return
    missing_tool("needs `unshare -n` (root or user namespaces) and iproute2")


def run_probe(module: str, *args: str, timeout: float = 90) -> tuple[list[dict[str, object]], str]:
    """Run ``python -m module args`` in a new network namespace with only
    loopback up; returns its JSON lines and all it printed (for leak checks)."""
    import json
    import shlex
    import sys

    from tests.helpers.app_process import ROOT

    command = " ".join(shlex.quote(part) for part in (sys.executable, "-m", module, *args))
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {command}"],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return lines, result.stdout + result.stderr
