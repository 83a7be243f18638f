"""Unknown hosts, for real: pjsip's own name lookup fails inside a network
namespace that has only loopback, so the test sends nothing off the machine."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers.app_process import ROOT
from tests.helpers.netns import require_namespace


def test_unknown_server_and_unknown_host_are_named() -> None:
    require_namespace()
    script = f"ip link set lo up && exec {sys.executable} -m tests.helpers.offline_probe"
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", script], capture_output=True, text=True, timeout=90, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines[0] == {
        "kind": "registration",
        "state": "failed",
        "message": "Unknown server host pbx.unknown-host.test (DNS lookup failed), retrying in 30 s",
    }
    assert lines[1] == {"kind": "call", "message": "Unknown host: other.unknown-host.test could not be found (DNS lookup failed)."}
    assert "pw-offline" not in result.stdout + result.stderr
