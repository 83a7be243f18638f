"""The SIP engine: its threads, its life cycle and the API the app drives.

The engine is split by concern (as baresip splits account/reg/call/ua):

* :mod:`.config` -- what the engine is told (no pjsua2: the core and the UI type against it);
* :mod:`.builders` -- pjsua2's configuration objects, from those (pure functions);
* :mod:`.pjwrap` -- pjsua2's callback classes, each handing over to a handler;
* :mod:`.registration` -- the account, registration, registrar failover, who may ring us;
* :mod:`.calls` -- call control and the calls' callbacks;
* :mod:`.media` -- a call's sound (the null clock, pjmedia's devices or the sound bridge);
* :mod:`.recording` -- consent announcement and call recording;
* :mod:`.runtime` -- the command queue, the event sink and the call table they share;
* this module -- the threads and the public API.

Threading (chosen by measurement on the 2-core test machine; ``bench/call_setup.py``):

* ``libCreate`` and every call into pjsua2 run on one *command thread* owned
  by the engine. Callers enqueue closures; nothing waits on the network on the
  caller's (the UI's) thread.
* pjsua2 runs with ``threadCnt=0`` and media on the SIP ioqueue
  (``hasIoqueue=False``, no media thread); an *event thread* of ours polls
  ``libHandleEvents``, which blocks in pjsip's own ioqueue (``select``) until
  a packet comes or pjsip's next timer is due (at most ``EVENT_WAIT_MS``).
  pjsip does not re-read its timers or sockets while blocked, so after each
  command (which may schedule a retransmission or open a socket) the command
  thread wakes the poll with a 2-byte datagram to our own SIP port, which
  pjsip drops unlogged (UDP packets under 32 bytes are ignored). An idle
  registered engine then wakes only for pjsip's keep-alives and refreshes
  (every 12-14 s) instead of twice a second.
* The sound device, even the null one, is open only while a call has media.
* Callbacks run on those two threads. They never block: they turn the
  callback into a frozen event (:mod:`softclock.events`) and hand it to the
  ``sink`` given at construction. The UI's sink is the Qt bridge.
"""

from __future__ import annotations

import gc
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable

import pjsua2 as pj

from softclock.sip import builders
from softclock.sip.calls import CallControl
from softclock.sip.config import DTMF_DIGITS, AccountConfig, EngineConfig, Sink
from softclock.sip.media import CallSound
from softclock.sip.netwatch import NetworkWatch
from softclock.sip.pjwrap import Endpoint, LogWriter
from softclock.sip.recording import Recording
from softclock.sip.registration import Registration
from softclock.sip.runtime import CallTable, Dispatcher
from softclock.sip.sipmsg import clean

log = logging.getLogger("softclock.sip")

# The longest the event thread blocks in pjsip's poll when no timer is due sooner
# (a safety net: commands wake it, see the module's doc).
EVENT_WAIT_MS = 30_000
_WAKE = b"\r\n"  # under pjsip's 32-byte minimum for a UDP packet: dropped unparsed and unlogged


class SipEngine:
    """Owns the pjsua2 Endpoint, one account and its calls.

    Every public method is safe to call from any thread and returns at once;
    outcomes arrive at the sink as events.
    """

    def __init__(self, sink: Sink, config: EngineConfig | None = None) -> None:
        self._config = config or EngineConfig()
        self._dispatcher = Dispatcher(sink)
        self._calls = CallTable()
        self._sound = CallSound(self._dispatcher, self._calls, self._config)
        self._recording = Recording(self._dispatcher, self._calls, self._sound.microphone)
        # Incoming INVITEs reach the account (registration) and go on to call control.
        self._registration = Registration(
            self._dispatcher, self._config, lambda account, prm: self._control.on_incoming_call(account, prm)
        )
        self._control = CallControl(
            self._dispatcher, self._calls, self._registration, self._sound, self._recording, self._verify_uri
        )
        self._net_watch: NetworkWatch | None = None
        self._ep: pj.Endpoint | None = None
        self._writer: LogWriter | None = None
        self._udp_port = 0
        self._running = threading.Event()
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._cmd_thread = threading.Thread(target=self._command_loop, name="sip-command", daemon=True)
        self._evt_thread: threading.Thread | None = None
        self._wake_sock: socket.socket | None = None
        self._wake_to: tuple[str, int] | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self, timeout: float = 10.0) -> None:
        """Create the endpoint and its transports; raises if pjsua2 fails to start."""
        self._cmd_thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError("The SIP engine did not start in time")
        if self._start_error is not None:
            raise RuntimeError(f"The SIP engine could not start: {self._start_error}")

    @property
    def local_port(self) -> int:
        """The UDP port SIP listens on (0 before :meth:`start`)."""
        return self._udp_port

    def shutdown(self, timeout: float = 5.0) -> None:
        """Hang up every call, unregister, destroy the endpoint. Idempotent."""
        if not self._cmd_thread.is_alive():
            return
        self._dispatcher.stop()
        self._cmd_thread.join(timeout + 5.0)

    def _command_loop(self) -> None:
        try:
            self._create_endpoint()
        except Exception as exc:  # pjsua2 raises pj.Error; reported to start()
            log.exception("SIP engine failed to start")
            self._start_error = exc
            self._started.set()
            return
        self._started.set()
        while True:
            job = self._dispatcher.next_job()
            if job is None:
                break
            try:
                job()
            except pj.Error as exc:
                log.error("SIP command failed: %s", clean(exc.info()) if hasattr(exc, "info") else exc)
            except Exception:
                log.exception("SIP command raised")
            self._wake_events()  # the job may have scheduled a pjsip timer or opened a socket
        self._destroy_endpoint()

    def _wake_events(self) -> None:
        """Make the event thread's blocked poll return, so it re-reads pjsip's timers and sockets."""
        sock, to = self._wake_sock, self._wake_to
        if sock is None or to is None:
            return
        try:
            sock.sendto(_WAKE, to)
        except OSError as exc:  # e.g. the address went away: the poll's own limit still holds
            log.debug("could not wake the SIP event thread: %s", exc)

    def _create_endpoint(self) -> None:
        cfg = self._config
        ep = Endpoint(self._registration.note_tls_problem)
        ep.libCreate()
        self._writer = LogWriter(cfg.log_level, self._control.on_refused_busy)
        ep.libInit(builders.endpoint_config(cfg, self._writer))
        udp_id = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, builders.transport_config(cfg, cfg.local_port))
        self._udp_port = int(ep.transportGetInfo(udp_id).localName.rsplit(":", 1)[1])
        self._open_wake_socket()
        ep.libStart()
        self._sound.start(ep)
        self._registration.attach(ep)
        self._ep = ep
        self._running.set()
        self._evt_thread = threading.Thread(target=self._event_loop, name="sip-events", daemon=True)
        self._evt_thread.start()
        if cfg.watch_network:
            self._net_watch = NetworkWatch(self.network_changed, interval_s=cfg.network_poll_s)
            self._net_watch.start()
        log.info("SIP engine started on UDP port %d", self._udp_port)

    def _open_wake_socket(self) -> None:
        """A datagram socket aimed at our own SIP UDP port (see :meth:`_wake_events`)."""
        host = self._config.bind_address or "127.0.0.1"
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        try:
            family = socket.getaddrinfo(host, self._udp_port, type=socket.SOCK_DGRAM)[0][0]
            sock = socket.socket(family, socket.SOCK_DGRAM)
        except OSError as exc:
            log.warning("no wake-up socket for the SIP event thread (%s): it polls every %d ms", exc, EVENT_WAIT_MS)
            return
        sock.setblocking(False)
        self._wake_sock, self._wake_to = sock, (host, self._udp_port)

    def _event_loop(self) -> None:
        assert self._ep is not None
        self._ep.libRegisterThread("sip-events")
        # Without a way to wake it, poll as before: twice a second.
        wait_ms = EVENT_WAIT_MS if self._wake_sock is not None else 500
        while self._running.is_set():
            self._ep.libHandleEvents(wait_ms)
            self._dispatcher.run_after_poll()

    def _destroy_endpoint(self) -> None:
        ep = self._ep
        if ep is None:
            return
        self._registration.stop_watch()
        if self._net_watch is not None:
            self._net_watch.stop()
            self._net_watch = None
        try:
            if self._calls.busy():
                ep.hangupAllCalls()
                self._run_pending_until(lambda: not self._calls.busy(), timeout=3.0)
            self._registration.shutdown()
        except pj.Error as exc:
            log.warning("SIP shutdown: %s", clean(exc.info()))
        # Jobs queued by late callbacks (wrapper clean-up) run now, not never.
        self._run_pending_until(lambda: False, timeout=0.0)
        self._sound.close()
        self._running.clear()
        self._wake_events()
        if self._evt_thread is not None:
            self._evt_thread.join(2.0)
        if self._wake_sock is not None:
            self._wake_sock.close()
            self._wake_sock = None
        self._control.clear()
        self._registration.forget()
        self._sound.detach()
        gc.collect()
        ep.libDestroy()
        self._ep = None
        log.info("SIP engine stopped")

    def _run_pending_until(self, done: Callable[[], bool], timeout: float) -> None:
        """On the command thread during shutdown: run queued jobs until ``done()``."""
        deadline = time.monotonic() + timeout
        while True:
            if done():
                return
            try:
                job = self._dispatcher.next_job(timeout=max(0.0, min(0.05, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    return
                continue
            if job is not None:
                try:
                    job()
                except Exception:
                    log.exception("SIP job failed during shutdown")
                self._wake_events()

    def _verify_uri(self, uri: str) -> int:
        assert self._ep is not None
        return int(self._ep.utilVerifySipUri(uri))

    # ------------------------------------------------------------------ transports (for tests and tools)

    def tcp_transport_config(self) -> pj.TransportConfig:
        """The TCP transport's config (see :func:`softclock.sip.builders.tcp_transport_config`)."""
        return builders.tcp_transport_config(self._config)

    def tls_transport_config(self, ca_file: str) -> pj.TransportConfig:
        """The TLS transport's config (see :func:`softclock.sip.builders.tls_transport_config`)."""
        return builders.tls_transport_config(self._config, ca_file)

    # ------------------------------------------------------------------ account

    def set_account(self, config: AccountConfig) -> None:
        """Replace the account (registering it when it has a server)."""
        self._dispatcher.submit(lambda: self._registration.set_account(config))

    def network_changed(self, reason: str = "the network changed") -> None:
        """The host woke up or its network changed: restart transports and re-register.

        Called by the engine's own :class:`NetworkWatch`; the UI or OS hooks
        (e.g. a resume notification) may call it too. Safe from any thread.
        """
        self._dispatcher.submit(lambda: self._registration.network_changed(reason))

    # ------------------------------------------------------------------ calls

    def make_call(self, uri: str) -> int:
        """Place a call to ``uri``; returns the handle used by later events."""
        handle = self._control.next_handle()
        self._dispatcher.submit(lambda: self._control.make_call(handle, uri))
        return handle

    def answer(self, handle: int, hold_others: bool = True) -> None:
        """Answer a ringing call; with ``hold_others`` (call waiting) the calls
        in progress are put on hold first."""
        self._dispatcher.submit(lambda: self._control.answer(handle, hold_others))

    def decline(self, handle: int, code: int = 486) -> None:
        """Refuse a ringing call with 486 Busy Here or 603 Decline."""
        if code not in (486, 603):
            raise ValueError("decline with 486 or 603")
        self._dispatcher.submit(lambda: self._control.hangup(handle, code))

    def hangup(self, handle: int) -> None:
        """Hang up (or cancel) a call; billable time stops now."""
        self._control.hangup_requested(handle)
        self._dispatcher.submit(lambda: self._control.hangup(handle, 0))

    def hold(self, handle: int) -> None:
        self._dispatcher.submit(lambda: self._control.hold(handle))

    def resume(self, handle: int) -> None:
        self._dispatcher.submit(lambda: self._control.resume(handle))

    def mute(self, handle: int, muted: bool) -> None:
        """Stop (or restart) sending our microphone on this call."""
        self._dispatcher.submit(lambda: self._control.mute(handle, muted))

    def send_dtmf(self, handle: int, digits: str, method: str = "rfc2833") -> None:
        """Send DTMF digits (0-9 * # A-D) in RTP (RFC 2833/4733) or SIP INFO."""
        bad = sorted({d for d in digits.upper() if d not in DTMF_DIGITS})
        if bad or not digits:
            raise ValueError(f"not DTMF digits: {' '.join(bad) or '(none)'}")
        if method not in ("rfc2833", "info"):
            raise ValueError("DTMF method is rfc2833 or info")
        self._dispatcher.submit(lambda: self._control.send_dtmf(handle, digits, method))

    def transfer(self, handle: int, uri: str) -> None:
        """Blind transfer (REFER) of the call to ``uri``."""
        self._dispatcher.submit(lambda: self._control.transfer(handle, uri))

    def transfer_to_call(self, handle: int, target_handle: int) -> None:
        """Attended transfer: connect the far end of ``handle`` to that of ``target_handle``."""
        self._dispatcher.submit(lambda: self._control.transfer_to_call(handle, target_handle))

    # ------------------------------------------------------------------ recording and sound

    def start_recording(self, handle: int, path: str, announce: str = "beep") -> None:
        """Record both directions of the call into the WAV file ``path``.

        ``announce`` is what the far end hears first, before recording starts:
        ``"beep"`` (three short tones, the usual recording notice), a WAV file,
        or ``""`` for nothing.
        """
        self._dispatcher.submit(lambda: self._recording.start(handle, path, announce))

    def stop_recording(self, handle: int) -> None:
        self._dispatcher.submit(lambda: self._recording.stop(handle))

    def set_sound_devices(self, playback: str | None = None, capture: str | None = None) -> None:
        """Use these devices from now on (identities from softclock.sound.devices; "" is
        the default; None leaves a direction alone). A call in progress moves with
        only the changed stream reopened; :class:`ev.SoundDeviceChanged` says how it went."""
        self._dispatcher.submit(lambda: self._sound.set_devices(playback, capture))
