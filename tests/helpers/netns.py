"""Network namespaces with only loopback, for tests that change the network."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def namespace_available() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return probe.returncode == 0


def require_namespace() -> None:
    """Skip (or fail when CI=true) unless ``unshare -n`` and iproute2 work here."""
    if namespace_available():
        return
    message = "needs `unshare -n` (root or user namespaces) and iproute2"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
