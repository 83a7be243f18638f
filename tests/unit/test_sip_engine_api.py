"""The Engine protocol the app and the UI type against is the SIP engine's whole public API."""

from __future__ import annotations

import inspect

from softclock.phone import Engine
from softclock.sip.engine import SipEngine

# Public on the engine for tests and tools, not for the app: not in the protocol.
TOOLS = {"tcp_transport_config", "tls_transport_config"}


def _public(cls: type) -> set[str]:
    return {name for name in vars(cls) if not name.startswith("_")}


def test_the_protocol_names_every_public_method_of_the_engine() -> None:
    assert _public(SipEngine) - TOOLS == _public(Engine)


def test_signatures_match() -> None:
    for name in _public(Engine):
        ours, theirs = getattr(Engine, name), getattr(SipEngine, name)
        if isinstance(ours, property):
            assert isinstance(theirs, property), name
            continue
        assert inspect.signature(ours) == inspect.signature(theirs), name
