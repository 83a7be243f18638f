"""The phone facade the UI and CLI use: dial, answer, decline, hang up.

It knows nothing of pjsua2: it drives any object with the :class:`Engine`
methods (:class:`softclock.sip.engine.SipEngine`), handed in by ``app.py``.
"""

from __future__ import annotations

import logging
from typing import Protocol

from softclock.dialing import DialError, to_sip_uri
from softclock.sip.config import AccountConfig  # plain dataclasses: no pjsua2

log = logging.getLogger("softclock.phone")


class Engine(Protocol):
    """Everything the app and the UI ask of the SIP engine (:class:`softclock.sip.engine.SipEngine`).

    Every method returns at once and is safe from any thread; outcomes arrive as
    events (:mod:`softclock.events`) at the sink the engine was built with.
    """

    # life cycle
    def start(self, timeout: float = 10.0) -> None: ...
    def shutdown(self, timeout: float = 5.0) -> None: ...
    @property
    def local_port(self) -> int: ...

    # the account
    def set_account(self, config: AccountConfig) -> None: ...
    def network_changed(self, reason: str = "the network changed") -> None: ...

    # calls
    def make_call(self, uri: str) -> int: ...
    def answer(self, handle: int, hold_others: bool = True) -> None: ...
    def decline(self, handle: int, code: int = 486) -> None: ...
    def hangup(self, handle: int) -> None: ...
    def hold(self, handle: int) -> None: ...
    def resume(self, handle: int) -> None: ...
    def mute(self, handle: int, muted: bool) -> None: ...
    def send_dtmf(self, handle: int, digits: str, method: str = "rfc2833") -> None: ...
    def transfer(self, handle: int, uri: str) -> None: ...
    def transfer_to_call(self, handle: int, target_handle: int) -> None: ...

    # recording and sound
    def start_recording(self, handle: int, path: str, announce: str = "beep") -> None: ...
    def stop_recording(self, handle: int) -> None: ...
    def set_sound_devices(self, playback: str | None = None, capture: str | None = None) -> None: ...


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
        self.last_dialled = ""

    def dial(self, text: str) -> tuple[int, str]:
        """Call what the user typed; returns the call handle and the URI.

        Raises:
            DialError: the text is not a number or SIP address, or no account is set up.
        """
        if not self.ready:
            raise DialError("No account is set up yet: set up an account or start the demo line.")
        uri = to_sip_uri(text, self.domain)
        log.info("dialling %s", uri)
        self.last_dialled = text
        return self._engine.make_call(uri), uri

    def answer(self, handle: int) -> None:
        self._engine.answer(handle)

    def decline(self, handle: int, busy: bool = True) -> None:
        self._engine.decline(handle, 486 if busy else 603)

    def hangup(self, handle: int) -> None:
        self._engine.hangup(handle)

    def hold(self, handle: int) -> None:
        self._engine.hold(handle)

    def resume(self, handle: int) -> None:
        self._engine.resume(handle)

    def mute(self, handle: int, muted: bool) -> None:
        self._engine.mute(handle, muted)

    def send_dtmf(self, handle: int, digits: str, method: str = "rfc2833") -> None:
        self._engine.send_dtmf(handle, digits, method)

    def transfer(self, handle: int, text: str) -> str:
        """Blind-transfer the call to what the user typed; returns the URI.

        Raises:
            DialError: the target is not a number or SIP address.
        """
        uri = to_sip_uri(text, self.domain)
        self._engine.transfer(handle, uri)
        return uri
