"""The phone facade the UI and CLI use: dial, answer, decline, hang up.

It knows nothing of pjsua2: it drives any object with the
:class:`softclock.sip.engine.SipEngine` methods, handed in by ``app.py``.
"""

from __future__ import annotations

import logging
from typing import Protocol

from softclock.dialing import DialError, to_sip_uri

log = logging.getLogger("softclock.phone")


class Engine(Protocol):
    def make_call(self, uri: str) -> int: ...
    def answer(self, handle: int) -> None: ...
    def decline(self, handle: int, code: int = 486) -> None: ...
    def hangup(self, handle: int) -> None: ...


class Phone:
    """Call control in the app's terms.

    Args:
        engine: the SIP engine.
        domain: completes numbers and user names typed without ``@host``.
    """

    def __init__(self, engine: Engine, domain: str = "") -> None:
        self._engine = engine
        self.domain = domain
        self.ready = False  # an account is configured (registered or local)

    def dial(self, text: str) -> tuple[int, str]:
        """Call what the user typed; returns the call handle and the URI.

        Raises:
            DialError: the text is not a number or SIP address, or no account is set up.
        """
        if not self.ready:
            raise DialError("No account is set up yet: set up an account or start the demo line.")
        uri = to_sip_uri(text, self.domain)
        log.info("dialling %s", uri)
        return self._engine.make_call(uri), uri

    def answer(self, handle: int) -> None:
        self._engine.answer(handle)

    def decline(self, handle: int, busy: bool = True) -> None:
        self._engine.decline(handle, 486 if busy else 603)

    def hangup(self, handle: int) -> None:
        self._engine.hangup(handle)
