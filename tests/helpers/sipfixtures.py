"""pytest fixtures for tests that need a real SIP registrar/proxy (Kamailio) and sipp.

Import them into a conftest or test module::

    from tests.helpers.sipfixtures import kamailio, kamailio_factory  # noqa

* ``kamailio`` (session scope): one running Kamailio with users
  alice/alicepass, bob/bobpass, carol/carolpass on domain ``sip.test``.
* ``kamailio_factory`` (function scope): ``kamailio_factory(users=None,
  domain="sip.test") -> Kamailio``, started; every instance is stopped at the
  end of the test.

If kamailio or sipp is not installed the test is skipped -- unless the
environment has ``CI=true``, then it fails (CI must not silently skip SIP tests).
"""

from __future__ import annotations

import pytest

from tests.helpers.kamailio import Kamailio, kamailio_binary
from tests.helpers.procs import missing_tool
from tests.helpers.sipp import sipp_binary

DEFAULT_USERS: dict[str, str] = {
    "alice": "alicepass",
    "bob": "bobpass",
    "carol": "carolpass",
}


def require_sip_tools() -> None:
    """Skip (or fail when CI=true) unless kamailio and sipp are installed."""
    missing = []
    if kamailio_binary() is None:
        missing.append("kamailio (apt: kamailio)")
    if sipp_binary() is None:
        missing.append("sipp (apt: sip-tester)")
    if not missing:
        return
    missing_tool("SIP test tools missing: " + ", ".join(missing))


@pytest.fixture(scope="session")
def kamailio(tmp_path_factory):
    """A running Kamailio (session-wide) with alice, bob and carol."""
    require_sip_tools()
    k = Kamailio(tmp_path_factory.mktemp("kamailio"), DEFAULT_USERS)
    k.start()
    try:
        yield k
    finally:
        k.stop()


@pytest.fixture
def kamailio_factory(tmp_path_factory):
    """Start extra Kamailio instances: ``kamailio_factory(users=None, domain="sip.test")``."""
    require_sip_tools()
    started: list[Kamailio] = []

    def make(users: dict[str, str] | None = None, domain: str = "sip.test") -> Kamailio:
        k = Kamailio(tmp_path_factory.mktemp("kamailio"), DEFAULT_USERS if users is None else users, domain=domain)
        started.append(k)
        k.start()
        return k

    try:
        yield make
    finally:
        for k in started:
            k.stop()
