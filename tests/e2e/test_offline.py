"""Unknown hosts, for real: pjsip's own name lookup fails inside a network
namespace that has only loopback, so the test sends nothing off the machine."""

from __future__ import annotations

from tests.helpers.netns import require_namespace, run_probe


def test_unknown_server_and_unknown_host_are_named() -> None:
    require_namespace()
    lines, output = run_probe("tests.helpers.offline_probe")
    assert lines[0] == {
        "kind": "registration",
        "state": "failed",
        "message": "Unknown server host pbx.unknown-host.test (DNS lookup failed), retrying in 30 s",
    }
    assert lines[1] == {
        "kind": "call",
        "message": "Unknown host: other.unknown-host.test could not be found (DNS lookup failed).",
    }
    assert "pw-offline" not in output
