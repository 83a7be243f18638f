"""The SIP engine: the only code that touches pjsua2.

Threading (chosen by measurement, see ``../shared/TESTING.md`` and the
benchmarks):

* ``libCreate`` and every call into pjsua2 run on one *command thread* owned
  by the engine. Callers enqueue closures; nothing waits on the network on the
  caller's (the UI's) thread.
* pjsua2 runs with ``threadCnt=0`` and media on the SIP ioqueue
  (``hasIoqueue=False``, no media thread); an *event thread* of ours polls
  ``libHandleEvents(500)``. Timers still fire on time (the poll waits for the
  next timer at most) and packets wake it at once, but an idle engine wakes
  twice a second instead of the ~150 times of pjsua's worker, media and
  sound-clock threads (measured: idle CPU 0.83 % -> under 0.1 % of a core).
* The sound device, even the null one, is open only while a call has media.
* Callbacks run on those two threads. They never block: they turn the
  callback into a frozen event (:mod:`softclock.events`) and hand it to the
  ``sink`` given at construction. The UI's sink is the Qt bridge.
"""

from __future__ import annotations

import gc
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pjsua2 as pj

from softclock import events as ev
from softclock.sip import messages
from softclock.sip.audio import SoundBridge, SoundUnavailable
from softclock.sip.failover import NO_ANSWER, NO_NETWORK, REFUSED, UNKNOWN_HOST, RegistrarWatch
from softclock.sip.inbound import InboundGuard, Refusal
from softclock.sip.netwatch import NetworkWatch
from softclock.sip.sipmsg import Caller, Message, caller, clean, from_wire, parse_message, parse_name_addr, parse_rx_log

log = logging.getLogger("softclock.sip")
pjlog = logging.getLogger("softclock.pjsip")

Sink = Callable[[ev.Event], None]

DTMF_DIGITS = frozenset("0123456789*#ABCD")
_PJ_EINVALIDOP = 70013  # pjsip: not now (e.g. an SDP offer/answer is still in progress)

_SRTP_USE = {
    "off": pj.PJMEDIA_SRTP_DISABLED,
    "optional": pj.PJMEDIA_SRTP_OPTIONAL,
    "mandatory": pj.PJMEDIA_SRTP_MANDATORY,
}

_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # macOS, Alpine
)


def system_ca_bundle() -> str:
    """The OS's CA bundle (the wheel's OpenSSL 1.0.2 does not find it by itself)."""
    import os

    return next((path for path in _CA_BUNDLES if os.path.exists(path)), "")


def parse_mwi(message: str) -> tuple[bool, int, int]:
    """``Messages-Waiting: yes`` / ``Voice-Message: 2/8`` -> (True, 2, 8)."""
    waiting, new, old = False, 0, 0
    for line in message.splitlines():
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "messages-waiting":
            waiting = value.lower() == "yes"
        elif name == "voice-message":
            counts = value.split()[0] if value else ""
            left, _, right = counts.partition("/")
            if left.isdigit():
                new = int(left)
            if right.isdigit():
                old = int(right)
    return waiting, new, old

_TCP_NODELAY = (6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY, on


def tcp_keepalive_options(idle_s: int) -> list[tuple[int, int, int]]:
    """(level, option, value) for OS TCP keep-alives after ``idle_s`` idle seconds."""
    import socket

    if idle_s <= 0:
        return []
    opts = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    # Linux and Windows call the idle time TCP_KEEPIDLE, macOS TCP_KEEPALIVE.
    idle = getattr(socket, "TCP_KEEPIDLE", None) or getattr(socket, "TCP_KEEPALIVE", None)
    if idle is not None:
        opts.append((socket.IPPROTO_TCP, idle, idle_s))
    if hasattr(socket, "TCP_KEEPINTVL"):
        opts.append((socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, idle_s))
    return opts


@dataclass(frozen=True)
class AccountConfig:
    """What the engine needs to register one account. ``password`` is never logged."""

    user: str
    domain: str
    server: str = ""  # host[:port]; empty: a local account with no registrar
    auth_id: str = ""
    password: str = field(default="", repr=False)
    transport: str = "udp"
    outbound_proxy: str = ""
    display_name: str = ""
    auto_answer: bool = False
    backup_servers: tuple[str, ...] = ()  # tried in order when the server stops answering
    srtp: str = "off"  # off | optional | mandatory (SDES keys; over TLS only when mandatory)
    ice: bool = False
    keepalive_s: int = 15  # UDP keep-alive to the server, keeps NAT bindings open; 0 = off
    turn_server: str = ""  # host[:port] of a TURN relay for media (with ICE); "" = none
    turn_user: str = ""
    turn_password: str = field(default="", repr=False)
    tls_ca_file: str = ""  # "" = the system's CA bundle
    expires_s: int = 300
    retry_interval_s: int = 30
    # Out-of-dialog requests (calls) are accepted only from the registrar, its backups and the
    # outbound proxy, to our own user; True turns that off (peer-to-peer set-ups).
    allow_direct_calls: bool = False

    @property
    def address(self) -> str:
        return f"{self.user}@{self.domain}"


@dataclass(frozen=True)
class EngineConfig:
    bind_address: str = ""  # "" = all interfaces
    public_address: str = ""
    local_port: int = 0
    null_audio: bool = True  # no sound at all (tests, headless); else native devices or the Python bridge
    playback_device: str = ""  # "" = the system default
    capture_device: str = ""
    log_level: int = 3
    user_agent: str = "Softclock"
    stun_servers: tuple[str, ...] = ()  # host[:port] each, tried in order; empty: no STUN
    keepalive_s: int = 15  # TCP/TLS: OS keep-alive probes after this many idle seconds; 0 = off
    watch_network: bool = True  # re-register after a resume from sleep or an address change
    network_poll_s: float = 2.0


def _now() -> tuple[float, datetime]:
    return time.monotonic(), datetime.now(UTC)


def _to_tag(prm: pj.OnCallStateParam) -> str:
    """The To tag of the response that changed an outgoing call's state ("" if none came with it)."""
    event = prm.e
    if event.type != pj.PJSIP_EVENT_TSX_STATE or event.body.tsxState.type != pj.PJSIP_EVENT_RX_MSG:
        return ""
    to = parse_message(from_wire(event.body.tsxState.src.rdata.wholeMsg)).header("to")
    return parse_name_addr(to).tag if to is not None else ""


class _Endpoint(pj.Endpoint):
    """Keeps the last TLS verification complaint so registration can name it."""

    def __init__(self, engine: SipEngine) -> None:
        super().__init__()
        self.engine = engine

    def onTransportState(self, prm: pj.OnTransportStateParam) -> None:  # noqa: N802 - pjsua2 override
        try:
            tls = prm.tlsInfo
            if not tls.isEmpty() and tls.verifyStatus != 0:
                self.engine._tls_problem = "; ".join(clean(str(m)) for m in tls.verifyMsgs) or "certificate rejected"
        except Exception:
            log.exception("bug in onTransportState")


class _Announcement(pj.AudioMediaPlayer):
    """A consent announcement (WAV) that reports its end."""

    def __init__(self, on_end: Callable[[], None]) -> None:
        super().__init__()
        self._on_end = on_end

    def onEof2(self) -> None:  # noqa: N802 - pjsua2 override
        try:
            self._on_end()
        except Exception:
            log.exception("bug in the announcement's end callback")


# pjsip's message log (level 4) prints each request as it arrives; when every call
# slot is taken pjsua answers a new INVITE 486 by itself, before any callback, and
# says only this (level 2). The log is the one place that call can be seen.
_BUSY_LINE = "Unable to accept incoming call (too many calls)"
MESSAGE_LOG_LEVEL = 4
BUSY_REASON = "Busy Here (all lines in use)"


class _LogWriter(pj.LogWriter):
    """pjsip's log into ours (up to ``level``), watching for INVITEs pjsua refuses busy."""

    def __init__(self, level: int, on_busy: Callable[[str], None]) -> None:
        super().__init__()
        self.level = level
        self._on_busy = on_busy
        self._last_invite = threading.local()  # per pjsip thread: the last INVITE it received

    def write(self, entry: pj.LogEntry) -> None:  # noqa: D102 - pjsua2 override
        try:
            level, msg = entry.level, entry.msg
            if level == MESSAGE_LOG_LEVEL and msg.startswith("RX ") and " Request msg INVITE/" in msg[:80]:
                self._last_invite.msg = msg
            elif level <= 2 and _BUSY_LINE in msg:
                last = getattr(self._last_invite, "msg", "")
                self._last_invite.msg = ""
                if last:
                    self._on_busy(last)
            if level <= self.level:
                pjlog.debug("%s", clean(msg.rstrip()))
        except Exception:
            log.exception("bug in the pjsip log writer")


class _Account(pj.Account):
    def __init__(self, engine: SipEngine, config: AccountConfig) -> None:
        super().__init__()
        self.engine = engine
        self.config = config
        self.server = config.server  # the registrar in use (a backup after failover)

    def onRegState(self, prm: pj.OnRegStateParam) -> None:  # noqa: N802 - pjsua2 override
        self.engine._guard(self.engine._on_reg_state, self, prm)

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:  # noqa: N802
        self.engine._guard(self.engine._on_incoming_call, self, prm)

    def onMwiInfo(self, prm: pj.OnMwiInfoParam) -> None:  # noqa: N802
        self.engine._guard(self.engine._on_mwi_info, self, prm)

    def onIncomingSubscribe(self, prm: pj.OnIncomingSubscribeParam) -> None:  # noqa: N802
        self.engine._guard(self.engine._on_incoming_subscribe, self, prm)


class _Call(pj.Call):
    def __init__(self, engine: SipEngine, account: _Account, handle: int, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self.engine = engine
        self.handle = handle
        self.sip_call_id = ""
        self.lock = threading.Lock()
        self.announced = False  # CallStarted/CallRinging sent; later events may flow
        self.pending: list[ev.Event] = []
        self.local_hangup = False
        self.rang = False
        self.connected = False
        self.ended = False
        self.hold = ev.HoldState.NONE
        self.muted = False
        self.recorder: pj.AudioMediaRecorder | None = None
        self.announcer: object | None = None  # the consent tone or player while it plays
        self.recording_path = ""
        self.replaces_handle: int | None = None  # attended transfer: our call to the target

    def onCallState(self, prm: pj.OnCallStateParam) -> None:  # noqa: N802
        self.engine._guard(self.engine._on_call_state, self, prm)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:  # noqa: N802
        self.engine._guard(self.engine._on_call_media_state, self, prm)

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:  # noqa: N802
        self.engine._guard(self.engine._on_dtmf_digit, self, prm)

    def onCallTransferStatus(self, prm: pj.OnCallTransferStatusParam) -> None:  # noqa: N802
        self.engine._guard(self.engine._on_transfer_status, self, prm)


class SipEngine:
    """Owns the pjsua2 Endpoint, one account and its calls.

    Every public method is safe to call from any thread and returns at once;
    outcomes arrive at the sink as events.
    """

    def __init__(self, sink: Sink, config: EngineConfig | None = None) -> None:
        self._sink = sink
        self._config = config or EngineConfig()
        self._commands: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._handles = itertools.count(1)
        self._calls: dict[int, _Call] = {}
        self._calls_lock = threading.Lock()
        self._all_ended = threading.Condition(self._calls_lock)
        self._account: _Account | None = None
        self._watch: RegistrarWatch | None = None
        self._net_watch: NetworkWatch | None = None
        self._ep: pj.Endpoint | None = None
        self._writer: _LogWriter | None = None
        self._udp_port = 0
        self._tcp_id: int | None = None
        self._tls_id: int | None = None
        self._tls_ca = ""
        self._tls_problem = ""  # the last certificate complaint, for the registration sentence
        self._inbound = InboundGuard()
        self._busy_seen: dict[tuple[str, str], None] = {}  # INVITEs refused busy (retransmissions come again)
        self._refused_calls: list[pj.Call] = []  # wrappers of refusals that did not end at once (none seen)
        self._running = threading.Event()
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._cmd_thread = threading.Thread(target=self._command_loop, name="sip-command", daemon=True)
        self._evt_thread: threading.Thread | None = None

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
        return self._udp_port

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
            job = self._commands.get()
            if job is None:
                break
            try:
                job()
            except pj.Error as exc:
                log.error("SIP command failed: %s", clean(exc.info()) if hasattr(exc, "info") else exc)
            except Exception:
                log.exception("SIP command raised")
        self._destroy_endpoint()

    def _create_endpoint(self) -> None:
        cfg = self._config
        ep = _Endpoint(self)
        ep.libCreate()
        ep_cfg = pj.EpConfig()
        ep_cfg.uaConfig.threadCnt = 0
        ep_cfg.uaConfig.mainThreadOnly = False
        ep_cfg.uaConfig.userAgent = cfg.user_agent
        if cfg.stun_servers:
            stun = pj.StringVector()
            for server in cfg.stun_servers:
                stun.append(server)
            ep_cfg.uaConfig.stunServer = stun
            ep_cfg.uaConfig.stunIgnoreFailure = True
        self._writer = _LogWriter(cfg.log_level, self._on_refused_busy)
        ep_cfg.logConfig.writer = self._writer
        # At least the message log: the writer passes on only what cfg.log_level asks for.
        ep_cfg.logConfig.level = max(cfg.log_level, MESSAGE_LOG_LEVEL)
        ep_cfg.logConfig.consoleLevel = max(cfg.log_level, MESSAGE_LOG_LEVEL)
        ep_cfg.logConfig.msgLogging = True
        ep_cfg.logConfig.decor = 0
        # No media worker thread: RTP sockets share the SIP ioqueue our event
        # thread polls; a media thread would wake 100 times a second when idle.
        ep_cfg.medConfig.hasIoqueue = False
        ep_cfg.medConfig.threadCnt = 0
        ep.libInit(ep_cfg)
        tcfg = self._transport_config(cfg.local_port)
        udp_id = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self._udp_port = ep.transportGetInfo(udp_id).localName.rsplit(":", 1)[1]
        self._udp_port = int(self._udp_port)
        ep.libStart()
        # The sound device (even the null one, whose clock ticks every 20 ms)
        # is opened only while a call has media: see _on_call_media_state.
        ep.audDevManager().setNoDev()
        # Sound: pjmedia's own devices where this build has them; else (the Linux
        # wheel has none) the Python bridge to PortAudio, clocked by the null device.
        self._null_audio = cfg.null_audio or ep.audDevManager().getDevCount() == 0
        self._bridge: SoundBridge | None = None
        if not cfg.null_audio and ep.audDevManager().getDevCount() == 0:
            self._bridge = SoundBridge(ep, cfg.playback_device or None, cfg.capture_device or None,
                                       on_moved=lambda kind: self._submit(lambda: self._report_sound_move(kind)))
        self._sound_open = False
        self._ep = ep
        self._running.set()
        self._evt_thread = threading.Thread(target=self._event_loop, name="sip-events", daemon=True)
        self._evt_thread.start()
        if cfg.watch_network:
            self._net_watch = NetworkWatch(self.network_changed, interval_s=cfg.network_poll_s)
            self._net_watch.start()
        log.info("SIP engine started on UDP port %d", self._udp_port)

    def _transport_config(self, port: int) -> pj.TransportConfig:
        tcfg = pj.TransportConfig()
        tcfg.port = port
        if self._config.bind_address:
            tcfg.boundAddress = self._config.bind_address
        public = self._config.public_address or self._config.bind_address
        if public:
            tcfg.publicAddress = public
        return tcfg

    def tcp_transport_config(self) -> pj.TransportConfig:
        """The TCP transport's config: TCP_NODELAY on, and OS keep-alives.

        pjsip leaves Nagle on, so each request over TCP would wait ~40 ms for
        the peer's delayed ACK (measured: 49 ms call set-up instead of 5 ms).
        pjsip's own TCP/TLS keep-alive (a CRLF every 90 s, a compile-time
        setting pjsua2 does not expose) is too slow for NAT boxes that drop an
        idle TCP mapping after 30-60 s; the OS's keep-alive probes after
        ``keepalive_s`` idle seconds hold the mapping open.
        Note the field is ``sockOpts``: SWIG silently accepts a misspelt name.
        """
        tcfg = self._transport_config(0)
        opts = pj.SockOptVector()
        for level, name, value in (_TCP_NODELAY, *tcp_keepalive_options(self._config.keepalive_s)):
            opts.append(pj.SockOpt(level, name, value))
        tcfg.sockOptParams.sockOpts = opts
        return tcfg

    def tls_transport_config(self, ca_file: str) -> pj.TransportConfig:
        """TLS 1.2 (what the bundled OpenSSL 1.0.2 offers at most), server verified."""
        tcfg = self.tcp_transport_config()
        tls = tcfg.tlsConfig
        tls.CaListFile = ca_file or system_ca_bundle()
        tls.verifyServer = True
        tls.method = pj.PJSIP_TLSV1_2_METHOD
        tls.proto = pj.PJ_SSL_SOCK_PROTO_TLS1_2
        tls.msecTimeout = 5000
        return tcfg

    def _ensure_tls(self, ca_file: str) -> None:
        if self._ep is None:
            return
        if self._tls_id is not None and ca_file == self._tls_ca:
            return
        if self._tls_id is not None:
            self._ep.transportClose(self._tls_id)
        self._tls_id = self._ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, self.tls_transport_config(ca_file))
        self._tls_ca = ca_file

    def _ensure_tcp(self) -> None:
        if self._tcp_id is not None or self._ep is None:
            return
        self._tcp_id = self._ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, self.tcp_transport_config())

    def _event_loop(self) -> None:
        assert self._ep is not None
        self._ep.libRegisterThread("sip-events")
        while self._running.is_set():
            self._ep.libHandleEvents(500)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Hang up every call, unregister, destroy the endpoint. Idempotent."""
        if not self._cmd_thread.is_alive():
            return
        self._stopping.set()
        self._commands.put(None)
        self._cmd_thread.join(timeout + 5.0)

    def _destroy_endpoint(self) -> None:
        ep = self._ep
        if ep is None:
            return
        self._stop_registrar_watch()
        if self._net_watch is not None:
            self._net_watch.stop()
            self._net_watch = None
        try:
            if self._calls:
                ep.hangupAllCalls()
                self._run_pending_until(lambda: not self._calls, timeout=3.0)
            if self._account is not None:
                self._account.shutdown()
        except pj.Error as exc:
            log.warning("SIP shutdown: %s", clean(exc.info()))
        # Jobs queued by late callbacks (wrapper clean-up) run now, not never.
        self._run_pending_until(lambda: False, timeout=0.0)
        if self._bridge is not None:
            try:
                self._bridge.close()
            except Exception:
                log.exception("closing the sound bridge failed")
            self._bridge = None
        self._running.clear()
        if self._evt_thread is not None:
            self._evt_thread.join(2.0)
        with self._calls_lock:
            self._calls.clear()
        self._refused_calls.clear()
        self._account = None
        gc.collect()
        ep.libDestroy()
        self._ep = None
        log.info("SIP engine stopped")

    # ------------------------------------------------------------------ helpers

    def _run_pending_until(self, done: Callable[[], bool], timeout: float) -> None:
        """On the command thread during shutdown: run queued jobs until ``done()``."""
        deadline = time.monotonic() + timeout
        while True:
            with self._calls_lock:
                if done():
                    return
            try:
                job = self._commands.get(timeout=max(0.0, min(0.05, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    return
                continue
            if job is not None:
                try:
                    job()
                except Exception:
                    log.exception("SIP job failed during shutdown")

    def _submit(self, job: Callable[[], None]) -> None:
        if self._stopping.is_set():
            log.debug("SIP engine is stopping; command dropped")
            return
        self._commands.put(job)

    def _submit_later(self, delay_s: float, job: Callable[[], None]) -> None:
        """Run ``job`` on the command thread after ``delay_s`` (dropped if the engine stops first)."""
        timer = threading.Timer(delay_s, lambda: self._submit(job))
        timer.daemon = True
        timer.start()

    def _emit(self, event: ev.Event) -> None:
        try:
            self._sink(event)
        except Exception:
            log.exception("event sink raised on %s", type(event).__name__)

    def _emit_call(self, call: _Call, event: ev.Event) -> None:
        with call.lock:
            if not call.announced:
                call.pending.append(event)
                return
        self._emit(event)

    def _announce(self, call: _Call, event: ev.Event) -> None:
        with call.lock:
            self._emit(event)
            for later in call.pending:
                self._emit(later)
            call.pending.clear()
            call.announced = True

    def _guard(self, fn: Callable[..., None], *args: object) -> None:
        """Run a callback body; a bug is logged, never thrown back into pjsua2."""
        try:
            fn(*args)
        except pj.Error as exc:
            log.error("pjsua2 error in %s: %s", fn.__name__, clean(exc.info()))
        except Exception:
            log.exception("bug in SIP callback %s", fn.__name__)

    # ------------------------------------------------------------------ account

    def set_account(self, config: AccountConfig) -> None:
        """Replace the account (registering it when it has a server)."""
        self._submit(lambda: self._do_set_account(config))

    def _do_set_account(self, config: AccountConfig) -> None:
        assert self._ep is not None
        self._stop_registrar_watch()
        if self._account is not None:
            self._account.shutdown()
            self._account = None
            gc.collect()
        if config.transport == "tcp":
            self._ensure_tcp()
        elif config.transport == "tls":
            self._ensure_tls(config.tls_ca_file)
        account = _Account(self, config)
        account.server = config.server
        self._account = account
        self._guard_inbound(config)
        if config.server:
            mono, utc = _now()
            self._emit(
                ev.RegistrationChanged(
                    mono, utc, ev.RegState.REGISTERING, config.address, 0, "", f"Registering as {config.address}…"
                )
            )
        account.create(self._account_config(config, config.server), True)
        if not config.server:
            mono, utc = _now()
            self._emit(
                ev.RegistrationChanged(
                    mono, utc, ev.RegState.LOCAL, config.address, 200, "", f"Ready as {config.address} (no server)"
                )
            )
        else:
            # With one server too: pjsip alone would notice a dead registrar only
            # at the next refresh and a live one again only at its next retry.
            servers = [config.server, *config.backup_servers]
            self._watch = RegistrarWatch(
                servers,
                config.transport,
                lambda index: self._submit(lambda: self._switch_server(account, index)),
                interval_s=1.0 if config.backup_servers else 2.0,
                on_status=lambda index, up, why: self._submit(
                    lambda: self._on_server_status(account, servers[index], up, why)
                ),
            )
            self._watch.start()

    def _guard_inbound(self, config: AccountConfig) -> None:
        """Accept calls only from this account's registrars and proxy, to its user (see .inbound)."""
        self._inbound.configure(
            enabled=bool(config.server) and not config.allow_direct_calls,
            servers=[config.server, *config.backup_servers, config.outbound_proxy],
            transport=config.transport,
            users=[config.user],
        )
        self._resolve_inbound()

    def _resolve_inbound(self) -> None:
        if self._inbound.enabled:  # names are looked up off pjsua2's threads
            threading.Thread(target=self._inbound.resolve, name="sip-inbound-dns", daemon=True).start()

    def _stop_registrar_watch(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    def _account_config(self, config: AccountConfig, server: str) -> pj.AccountConfig:
        acfg = pj.AccountConfig()
        name = f'"{config.display_name}" ' if config.display_name else ""
        acfg.idUri = f"{name}<sip:{config.user}@{config.domain}>" if name else f"sip:{config.user}@{config.domain}"
        tparam = {"tcp": ";transport=tcp", "tls": ";transport=tls"}.get(config.transport, "")
        if server:
            acfg.regConfig.registrarUri = f"sip:{server}{tparam}"
            acfg.regConfig.timeoutSec = config.expires_s
            acfg.regConfig.retryIntervalSec = config.retry_interval_s
            acfg.regConfig.firstRetryIntervalSec = config.retry_interval_s
            acfg.regConfig.randomRetryIntervalSec = 0
            # With backups, the primary's proxy would outlive it: route via the server in use.
            proxy = config.outbound_proxy if config.outbound_proxy and not config.backup_servers else server
            proxies = pj.StringVector()
            proxies.append(f"sip:{proxy};lr{tparam}")
            acfg.sipConfig.proxies = proxies
            cred = pj.AuthCredInfo("digest", "*", config.auth_id or config.user, 0, config.password)
            acfg.sipConfig.authCreds.append(cred)
        else:
            acfg.regConfig.registrarUri = ""
            acfg.regConfig.registerOnAdd = False
        if config.transport == "tcp" and self._tcp_id is not None:
            acfg.sipConfig.transportId = self._tcp_id
        if config.transport == "tls" and self._tls_id is not None:
            acfg.sipConfig.transportId = self._tls_id
        acfg.mediaConfig.srtpUse = _SRTP_USE[config.srtp]
        # Keys travel in the SDP: insist on TLS for them only when SRTP is required.
        acfg.mediaConfig.srtpSecureSignaling = 1 if config.srtp == "mandatory" and config.transport == "tls" else 0
        acfg.natConfig.iceEnabled = config.ice
        # pjsip 2.15 sends each keep-alive after a random int(0.8 * interval) to
        # interval - 1 s: an interval of 1 gives 0, a flood (measured: 168,000
        # packets in 3.5 s). 2 is the least that works.
        acfg.natConfig.udpKaIntervalSec = max(config.keepalive_s, 2) if config.keepalive_s > 0 else 0
        if config.turn_server:
            acfg.natConfig.turnEnabled = True
            acfg.natConfig.turnServer = config.turn_server
            acfg.natConfig.turnConnType = pj.PJ_TURN_TP_UDP
            acfg.natConfig.turnUserName = config.turn_user
            acfg.natConfig.turnPasswordType = 0  # plain text, handed over in memory only
            acfg.natConfig.turnPassword = config.turn_password
        # Contact rewriting on: it is what makes handleIpChange re-register (it
        # skips accounts without it) and follows a NAT's public address; where
        # the registrar sees the address we send (loopback, a LAN) nothing changes.
        # 2, not 1: over TCP/TLS the Contact names the connection's own port, and
        # after the registrar restarts we register over a new connection; mode 1
        # ignores a port-only change on a private address, leaving the registrar
        # a Contact on the dead connection (incoming calls then failed, tested).
        acfg.natConfig.contactRewriteUse = 2
        acfg.natConfig.viaRewriteUse = 0
        acfg.natConfig.sdpNatRewriteUse = 0
        acfg.natConfig.sipOutboundUse = 0
        return acfg

    def _switch_server(self, account: _Account, index: int) -> None:
        """Register with another of the account's servers (failover or return)."""
        if account is not self._account or self._stopping.is_set():
            return
        config = account.config
        servers = [config.server, *config.backup_servers]
        server = servers[index]
        if server == account.server:
            return
        log.warning("registrar failover: %s -> %s", account.server, server)
        account.server = server
        mono, utc = _now()
        label = "primary server" if index == 0 else "backup server"
        self._emit(
            ev.RegistrationChanged(
                mono,
                utc,
                ev.RegState.REGISTERING,
                config.address,
                0,
                "",
                f"Registering as {config.address} with the {label} {server}…",
                server=server,
            )
        )
        account.modify(self._account_config(config, server))

    _UNREACHABLE = {
        NO_NETWORK: "No network: the server {server} cannot be reached",
        REFUSED: "Server unreachable: {server} refuses SIP (is it running?)",
        UNKNOWN_HOST: "Unknown server host {server} (DNS lookup failed)",
    }

    def _on_server_status(self, account: _Account, server: str, up: bool, why: str) -> None:
        """The registrar in use stopped answering, or answers again."""
        if account is not self._account or self._stopping.is_set() or server != account.server:
            return
        address = account.config.address
        mono, utc = _now()
        if not up:
            text = self._UNREACHABLE.get(why, "Server not answering: {server}").format(server=server)
            self._emit(
                ev.RegistrationChanged(
                    mono, utc, ev.RegState.FAILED, address, 408 if why == NO_ANSWER else 503, why,
                    f"{text}; registering again as soon as it answers", None, server,
                )
            )
            return
        self._emit(
            ev.RegistrationChanged(
                mono, utc, ev.RegState.REGISTERING, address, 0, "",
                f"Server {server} answers again: registering as {address}…", None, server,
            )
        )
        try:
            account.setRegistration(True)
        except pj.Error as exc:  # e.g. a REGISTER of pjsip's own retry is under way
            log.info("re-registration after the server's return: %s", clean(exc.info()))

    def network_changed(self, reason: str = "the network changed") -> None:
        """The host woke up or its network changed: restart transports and re-register.

        Called by the engine's own :class:`NetworkWatch`; the UI or OS hooks
        (e.g. a resume notification) may call it too. Safe from any thread.
        """
        self._submit(lambda: self._do_network_changed(reason))

    def _do_network_changed(self, reason: str) -> None:
        if self._ep is None:
            return
        log.warning("network change (%s): restarting SIP transports and registering again", reason)
        account = self._account
        if account is not None and account.config.server:
            mono, utc = _now()
            self._emit(
                ev.RegistrationChanged(
                    mono, utc, ev.RegState.REGISTERING, account.config.address, 0, "",
                    f"Network changed ({reason}): registering again as {account.config.address}…",
                    None, account.server,
                )
            )
        prm = pj.IpChangeParam()
        # A listener restart rebinds to the wildcard address (pjproject's guide):
        # keep a transport pinned to bind_address where the user asked for one.
        prm.restartListener = not self._config.bind_address
        self._ep.handleIpChange(prm)
        self._resolve_inbound()  # another network may have other DNS answers

    def _on_reg_state(self, account: _Account, prm: pj.OnRegStateParam) -> None:
        if account is not self._account or self._stopping.is_set():
            return
        info = account.getInfo()
        code = int(prm.code)
        reason = clean(str(prm.reason))
        cfg = account.config
        if 200 <= code < 300:
            # Where the registrar answered from may ring us (e.g. a host DNS SRV chose).
            self._inbound.learn(str(prm.rdata.srcAddress))
        if info.regIsActive and 200 <= code < 300:
            state = ev.RegState.REGISTERED
            retry = None
        elif 200 <= code < 300:
            state, retry = ev.RegState.UNREGISTERED, None
        else:
            state = ev.RegState.FAILED
            retry = None if code in (401, 403, 407) else cfg.retry_interval_s
        mono, utc = _now()
        host = account.server.rsplit(":", 1)[0] if account.server.count(":") == 1 else account.server
        text = messages.registration(
            code, reason, cfg.address, bool(info.regIsActive), retry, host, tls_problem=self._tls_problem
        )
        if state is ev.RegState.REGISTERED and account.server != cfg.server:
            text += f" (backup server {account.server})"
        log.info("registration %s via %s: %d %s", cfg.address, account.server, code, reason)
        self._emit(ev.RegistrationChanged(mono, utc, state, cfg.address, code, reason, text, retry, account.server))

    # ------------------------------------------------------------------ calls

    def make_call(self, uri: str) -> int:
        """Place a call to ``uri``; returns the handle used by later events."""
        handle = next(self._handles)
        self._submit(lambda: self._do_make_call(handle, uri))
        return handle

    def _fail(self, handle: int, uri: str, message: str) -> None:
        mono, utc = _now()
        self._emit(ev.CallFailed(mono, utc, handle, uri, message))

    def _do_make_call(self, handle: int, uri: str) -> None:
        assert self._ep is not None
        account = self._account
        if account is None:
            self._fail(handle, uri, "No account is set up: set up an account or start the demo line.")
            return
        if self._ep.utilVerifySipUri(uri) != 0:
            self._fail(handle, uri, f"Cannot dial {uri!r}: it is not a valid SIP address.")
            return
        call = _Call(self, account, handle)
        with self._calls_lock:
            self._calls[handle] = call
        prm = pj.CallOpParam(True)
        try:
            call.makeCall(uri, prm)
        except pj.Error as exc:
            with self._calls_lock:
                self._calls.pop(handle, None)
                self._all_ended.notify_all()
            host = uri.split("@", 1)[-1].split(";", 1)[0]
            code = int(exc.status) if exc.status < 1000 else 503
            self._fail(handle, uri, messages.call_failure(code, clean(exc.reason), host))
            log.info("makeCall to %s failed: %s", uri, clean(exc.info()))
            return
        mono, utc = _now()
        info = call.getInfo()
        call.sip_call_id = clean(info.callIdString)
        started = ev.CallStarted(mono, utc, call.sip_call_id, handle, account.config.address, clean(info.remoteUri), "")
        self._announce(call, started)

    def _on_incoming_call(self, account: _Account, prm: pj.OnIncomingCallParam) -> None:
        message = parse_message(from_wire(prm.rdata.wholeMsg))
        source = str(prm.rdata.srcAddress)
        refusal = self._inbound.check(source, message.request_uri)
        if refusal is not None or self._stopping.is_set():
            self._refuse(account, prm.callId, refusal)
            if refusal is not None:
                self._inbound.count("INVITE", source, refusal)
            return
        handle = next(self._handles)
        call = _Call(self, account, handle, prm.callId)
        with self._calls_lock:
            self._calls[handle] = call
        info = call.getInfo()
        who = self._caller(message, info)
        call.sip_call_id = who.call_id
        mono, utc = _now()
        ringing = ev.CallRinging(
            mono, utc, who.call_id, handle, ev.Direction.INCOMING, account.config.address,
            who.uri, who.display_name, who.tag,
        )
        self._announce(call, ringing)
        answer = pj.CallOpParam()
        answer.statusCode = 180
        call.answer(answer)
        if account.config.auto_answer:
            self._submit(lambda: self._do_answer(handle))

    @staticmethod
    def _caller(message: Message, info: pj.CallInfo) -> Caller:
        """Who calls, from the INVITE itself (pjsua2's remoteUri truncates long names, see .sipmsg)."""
        who = caller(message)
        call_id = who.call_id or clean(info.callIdString)
        if who.uri:
            return Caller(call_id, who.uri, who.display_name, who.tag)
        fallback = parse_name_addr(info.remoteUri)
        return Caller(call_id, fallback.uri or clean(info.remoteUri), fallback.display_name, who.tag)

    def _refuse(self, account: _Account, call_id: int, refusal: Refusal | None) -> None:
        """Answer an incoming INVITE with a final refusal, with no call and no event.

        The wrapper exists only for the answer: the refusal disconnects the call at
        once, inside this callback (pjsip holds its lock, so no other call can take
        the slot meanwhile), and the wrapper goes with it.
        """
        call = pj.Call(account, call_id)
        prm = pj.CallOpParam(True)
        if refusal is not None:
            prm.statusCode = refusal.code
        call.hangup(prm)
        if call.isActive():  # not expected: keep it until shutdown rather than hang up a reused slot
            self._refused_calls.append(call)

    def _on_refused_busy(self, logged: str) -> None:
        """pjsua answered an INVITE 486 before any callback (every call slot taken): a call too.

        Runs in the log writer on the thread that received the INVITE: it only parses and emits.
        """
        request = parse_rx_log(logged)
        account = self._account
        if request is None or account is None or self._stopping.is_set():
            return
        message = parse_message(request.raw)
        refusal = self._inbound.check(request.source, message.request_uri)
        if refusal is not None:
            self._inbound.count("INVITE", request.source, refusal, answered="486 (all lines in use)")
            return
        who = caller(message)
        key = (who.call_id, who.tag)
        if key in self._busy_seen:
            return  # a retransmission of an INVITE already reported
        self._busy_seen[key] = None
        if len(self._busy_seen) > 256:
            del self._busy_seen[next(iter(self._busy_seen))]
        handle = next(self._handles)
        mono, utc = _now()
        log.info("incoming call %s refused 486: all lines in use", who.call_id)
        self._emit(
            ev.CallRinging(
                mono, utc, who.call_id, handle, ev.Direction.INCOMING, account.config.address,
                who.uri, who.display_name, who.tag,
            )
        )
        self._emit(ev.CallEnded(mono, utc, who.call_id, handle, 486, BUSY_REASON, 0.0, False))

    def _on_incoming_subscribe(self, account: _Account, prm: pj.OnIncomingSubscribeParam) -> None:
        message = parse_message(from_wire(prm.rdata.wholeMsg))
        source = str(prm.rdata.srcAddress)
        refusal = self._inbound.check(source, message.request_uri)
        if refusal is not None:
            prm.code = refusal.code
            self._inbound.count("SUBSCRIBE", source, refusal)

    def _on_call_state(self, call: _Call, prm: pj.OnCallStateParam) -> None:
        info = call.getInfo()
        mono, utc = _now()
        state = info.state
        call_id = call.sip_call_id or clean(info.callIdString)
        if state == pj.PJSIP_INV_STATE_EARLY and not call.rang and info.role == pj.PJSIP_ROLE_UAC:
            call.rang = True
            account = self._account
            self._emit_call(
                call,
                ev.CallRinging(
                    mono,
                    utc,
                    call_id,
                    call.handle,
                    ev.Direction.OUTGOING,
                    account.config.address if account is not None else "",
                    clean(info.remoteUri),
                    "",
                    _to_tag(prm),
                ),
            )
        elif state == pj.PJSIP_INV_STATE_CONFIRMED and not call.connected:
            call.connected = True
            self._emit_call(call, ev.CallConnected(mono, utc, call_id, call.handle))
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED and not call.ended:
            call.ended = True
            duration = info.connectDuration.sec + info.connectDuration.msec / 1000.0
            self._emit_call(
                call,
                ev.CallEnded(
                    mono,
                    utc,
                    call_id,
                    call.handle,
                    int(info.lastStatusCode),
                    clean(str(info.lastReason)),
                    duration if call.connected else 0.0,
                    call.local_hangup,
                ),
            )
            # The wrapper must outlive this callback: drop it on the command thread.
            # The job holds the handle, not the call, so nothing keeps a wrapper
            # alive past libDestroy() (its destructor would then abort the process).
            handle = call.handle
            self._commands.put(lambda: self._forget(handle))

    def _forget(self, handle: int) -> None:
        with self._calls_lock:
            call = self._calls.pop(handle, None)
        released_ports = False
        if call is not None:
            released_ports = call.recorder is not None or call.announcer is not None
            call.announcer = None
            if call.recorder is not None:
                call.recorder = None
                mono, utc = _now()
                self._emit(ev.RecordingChanged(mono, utc, call.sip_call_id, handle, False, call.recording_path))
            del call
        with self._calls_lock:
            self._all_ended.notify_all()
        if self._stopping.is_set():
            return
        if released_ports:
            # The bridge removes a deleted port on its next clock tick (that is
            # when a recorder finishes its WAV): keep the clock running a moment.
            self._submit_later(0.5, self._close_sound_if_idle)
        else:
            self._close_sound_if_idle()

    _HOLD_BY_STATUS = {
        pj.PJSUA_CALL_MEDIA_ACTIVE: ev.HoldState.NONE,
        pj.PJSUA_CALL_MEDIA_LOCAL_HOLD: ev.HoldState.LOCAL,
        pj.PJSUA_CALL_MEDIA_REMOTE_HOLD: ev.HoldState.REMOTE,
    }

    def _on_call_media_state(self, call: _Call, prm: pj.OnCallMediaStateParam) -> None:
        if self._ep is None:
            return
        info = call.getInfo()
        for index, media in enumerate(info.media):
            if media.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            hold = self._HOLD_BY_STATUS.get(media.status)
            if hold is not None and hold is not call.hold:
                call.hold = hold
                mono, utc = _now()
                self._emit_call(call, ev.CallHoldChanged(mono, utc, call.sip_call_id, call.handle, hold))
            if media.status in (pj.PJSUA_CALL_MEDIA_ACTIVE, pj.PJSUA_CALL_MEDIA_REMOTE_HOLD):
                self._open_sound()
                if self._bridge is not None:
                    # Opening sound streams is too slow for a callback.
                    handle, slot = call.handle, index
                    self._commands.put(lambda: self._attach_bridge(handle, slot))
                    continue
                audio = call.getAudioMedia(index)
                self._wire_null(audio)
                # A re-INVITE can renew the stream's port: keep a mute in force.
                audio.adjustRxLevel(0.0 if call.muted else 1.0)

    def _on_dtmf_digit(self, call: _Call, prm: pj.OnDtmfDigitParam) -> None:
        method = "info" if prm.method == pj.PJSUA_DTMF_METHOD_SIP_INFO else "rfc2833"
        mono, utc = _now()
        self._emit_call(call, ev.DtmfReceived(mono, utc, call.sip_call_id, call.handle, str(prm.digit), method))

    def _on_transfer_status(self, call: _Call, prm: pj.OnCallTransferStatusParam) -> None:
        mono, utc = _now()
        code = int(prm.statusCode)
        self._emit_call(
            call,
            ev.CallTransferProgress(
                mono, utc, call.sip_call_id, call.handle, code, clean(str(prm.reason)), bool(prm.finalNotify)
            ),
        )
        if 200 <= code < 300 and prm.finalNotify:
            # The far end reached the transfer target: our leg is done. After an
            # attended transfer the target should drop our call to it (Replaces);
            # if it has not within 2 s (not every phone supports Replaces), we do.
            self._submit(lambda: self._do_hangup(call.handle, 0))
            target = call.replaces_handle
            if target is not None:
                self._submit_later(2.0, lambda: self._do_hangup(target, 0))

    def _on_mwi_info(self, account: _Account, prm: pj.OnMwiInfoParam) -> None:
        body = clean(str(prm.rdata.wholeMsg))
        source = str(prm.rdata.srcAddress)
        refusal = self._inbound.check(source, parse_message(from_wire(body)).request_uri)
        if refusal is not None:  # pjsua has answered it already: a stranger's voicemail light is ignored
            self._inbound.count("NOTIFY", source, refusal, answered="ignored")
            return
        waiting, new, old = parse_mwi(body)
        mono, utc = _now()
        self._emit(ev.MessageWaiting(mono, utc, account.config.address, waiting, new, old))

    def _wire_null(self, audio: pj.AudioMedia) -> None:
        assert self._ep is not None
        mgr = self._ep.audDevManager()
        audio.startTransmit(mgr.getPlaybackDevMedia())
        mgr.getCaptureDevMedia().startTransmit(audio)

    def _attach_bridge(self, handle: int, index: int) -> None:
        call = self._call(handle)
        if call is None or call.ended or self._bridge is None:
            return
        audio = call.getAudioMedia(index)
        try:
            self._bridge.connect(audio)
        except SoundUnavailable as exc:
            log.warning("no sound for this call: %s", str(exc))
            self._wire_null(audio)
        audio.adjustRxLevel(0.0 if call.muted else 1.0)

    def set_sound_devices(self, playback: str | None = None, capture: str | None = None) -> None:
        """Use these devices from now on (identities from softclock.sip.devices; "" is
        the default; None leaves a direction alone). A call in progress moves with
        only the changed stream reopened; :class:`ev.SoundDeviceChanged` says how it went."""
        self._submit(lambda: self._do_set_sound_devices(playback, capture))

    def _do_set_sound_devices(self, playback: str | None, capture: str | None) -> None:
        bridge = self._bridge
        for kind, device in (("playback", playback), ("capture", capture)):
            if device is None:
                continue
            error = ""
            if bridge is None:
                error = "this build plays sound through its own devices, chosen at start-up"
            else:
                try:
                    bridge.switch_device(kind, device or None)
                except SoundUnavailable as exc:
                    error = str(exc)
                    log.warning("sound %s device not changed: %s", kind, str(exc))
            now = bridge.current_devices().get(kind, "") if bridge is not None and bridge.is_open else device
            mono, utc = _now()
            self._emit(ev.SoundDeviceChanged(mono, utc, kind, now, error))

    def _report_sound_move(self, kind: str) -> None:
        """The sound server moved a stream of the call (its device was unplugged)."""
        bridge = self._bridge
        if bridge is None or not bridge.is_open:
            return
        now = bridge.current_devices().get(kind, "")
        wanted = bridge.playback_device if kind == "playback" else bridge.capture_device
        error = f"{wanted} is gone; the call continues on {now}" if wanted and wanted != now else ""
        log.info("sound %s moved by the sound server to %s", kind, now)
        mono, utc = _now()
        self._emit(ev.SoundDeviceChanged(mono, utc, kind, now, error))

    def _mic_media(self) -> pj.AudioMedia:
        assert self._ep is not None
        if self._bridge is not None and self._bridge.is_open and self._bridge.media is not None:
            return self._bridge.media
        return self._ep.audDevManager().getCaptureDevMedia()

    def _open_sound(self) -> None:
        if self._sound_open or self._ep is None:
            return
        mgr = self._ep.audDevManager()
        if self._null_audio:
            mgr.setNullDev()  # also the bridge's clock
        else:
            mgr.setPlaybackDev(mgr.getPlaybackDev())
        self._sound_open = True

    def _close_sound_if_idle(self) -> None:
        """Stop the sound clock once no call is left (an idle phone must not tick)."""
        if not self._sound_open or self._ep is None:
            return
        with self._calls_lock:
            busy = bool(self._calls)
        if not busy:
            if self._bridge is not None:
                self._bridge.close()  # while the null clock still ticks
            self._ep.audDevManager().setNoDev()
            self._sound_open = False

    def _call(self, handle: int) -> _Call | None:
        with self._calls_lock:
            return self._calls.get(handle)

    def answer(self, handle: int, hold_others: bool = True) -> None:
        """Answer a ringing call; with ``hold_others`` (call waiting) the calls
        in progress are put on hold first."""
        self._submit(lambda: self._do_answer(handle, hold_others))

    def _do_answer(self, handle: int, hold_others: bool = False) -> None:
        call = self._call(handle)
        if call is None or call.ended:
            return
        if hold_others:
            with self._calls_lock:
                others = [c for h, c in self._calls.items() if h != handle and c.connected and not c.ended]
            for other in others:
                if other.hold is not ev.HoldState.LOCAL:
                    other.setHold(pj.CallOpParam(True))
        prm = pj.CallOpParam()
        prm.statusCode = 200
        call.answer(prm)

    def hold(self, handle: int) -> None:
        self._submit(lambda: self._with_call_when_idle(handle, lambda c: c.setHold(pj.CallOpParam(True))))

    def resume(self, handle: int) -> None:
        def go(call: _Call) -> None:
            prm = pj.CallOpParam(True)
            prm.opt.flag = pj.PJSUA_CALL_UNHOLD
            call.reinvite(prm)

        self._submit(lambda: self._with_call_when_idle(handle, go))

    def _with_call_when_idle(self, handle: int, action: Callable[[_Call], object], attempt: int = 0) -> None:
        """Run a re-INVITE-type action; while another offer/answer is still in
        progress pjsip refuses it (PJ_EINVALIDOP), so try again a little later."""
        try:
            self._with_call(handle, action)
        except pj.Error as exc:
            if exc.status != _PJ_EINVALIDOP or attempt >= 25:
                raise
            self._submit_later(0.2, lambda: self._with_call_when_idle(handle, action, attempt + 1))

    def mute(self, handle: int, muted: bool) -> None:
        """Stop (or restart) sending our microphone on this call."""

        def go(call: _Call) -> None:
            call.muted = muted
            info = call.getInfo()
            for index, media in enumerate(info.media):
                if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status in (
                    pj.PJSUA_CALL_MEDIA_ACTIVE,
                    pj.PJSUA_CALL_MEDIA_REMOTE_HOLD,
                ):
                    # Rx of the call's port = what the bridge hands it to send.
                    call.getAudioMedia(index).adjustRxLevel(0.0 if muted else 1.0)
            mono, utc = _now()
            self._emit_call(call, ev.CallMuteChanged(mono, utc, call.sip_call_id, handle, muted))

        self._submit(lambda: self._with_call(handle, go))

    def send_dtmf(self, handle: int, digits: str, method: str = "rfc2833") -> None:
        """Send DTMF digits (0-9 * # A-D) in RTP (RFC 2833/4733) or SIP INFO."""
        bad = sorted({d for d in digits.upper() if d not in DTMF_DIGITS})
        if bad or not digits:
            raise ValueError(f"not DTMF digits: {' '.join(bad) or '(none)'}")
        if method not in ("rfc2833", "info"):
            raise ValueError("DTMF method is rfc2833 or info")

        def go(call: _Call) -> None:
            prm = pj.CallSendDtmfParam()
            prm.method = pj.PJSUA_DTMF_METHOD_SIP_INFO if method == "info" else pj.PJSUA_DTMF_METHOD_RFC2833
            prm.digits = digits.upper()
            call.sendDtmf(prm)

        self._submit(lambda: self._with_call(handle, go))

    def transfer(self, handle: int, uri: str) -> None:
        """Blind transfer (REFER) of the call to ``uri``."""
        self._submit(lambda: self._with_call(handle, lambda c: c.xfer(uri, pj.CallOpParam(True))))

    def transfer_to_call(self, handle: int, target_handle: int) -> None:
        """Attended transfer: connect the far end of ``handle`` to that of ``target_handle``."""

        def go(call: _Call) -> None:
            target = self._call(target_handle)
            if target is None or target.ended:
                return
            call.replaces_handle = target_handle
            call.xferReplaces(target, pj.CallOpParam(True))

        self._submit(lambda: self._with_call_when_idle(handle, go))

    # ------------------------------------------------------------------ recording

    def start_recording(self, handle: int, path: str, announce: str = "beep") -> None:
        """Record both directions of the call into the WAV file ``path``.

        ``announce`` is what the far end hears first, before recording starts:
        ``"beep"`` (three short tones, the usual recording notice), a WAV file,
        or ``""`` for nothing.
        """
        self._submit(lambda: self._with_call(handle, lambda c: self._do_announce(c, path, announce)))

    def _do_announce(self, call: _Call, path: str, announce: str) -> None:
        if call.recorder is not None or call.announcer is not None:
            return
        audio = self._call_audio(call)
        if audio is None:
            return
        handle = call.handle
        if not announce:
            self._do_start_recording(call, path)
            return
        if announce == "beep":
            tones = pj.ToneDescVector()
            for _ in range(3):
                tone = pj.ToneDesc()
                tone.freq1, tone.freq2, tone.on_msec, tone.off_msec, tone.volume = 1400, 0, 200, 200, 0
                tones.append(tone)
            gen = pj.ToneGenerator()
            gen.createToneGenerator()
            gen.play(tones, False)
            gen.startTransmit(audio)
            call.announcer = gen
            self._submit_later(1.3, lambda: self._after_announce(handle, path))
            return
        player = _Announcement(lambda: self._submit(lambda: self._after_announce(handle, path)))
        player.createPlayer(announce, pj.PJMEDIA_FILE_NO_LOOP)
        player.startTransmit(audio)
        call.announcer = player

    def _after_announce(self, handle: int, path: str) -> None:
        call = self._call(handle)
        if call is None or call.ended:
            return
        call.announcer = None  # its wrapper goes; the bridge port with it
        self._do_start_recording(call, path)

    def _do_start_recording(self, call: _Call, path: str) -> None:
        audio = self._call_audio(call)
        if audio is None or self._ep is None:
            return
        recorder = pj.AudioMediaRecorder()
        recorder.createRecorder(path)
        audio.startTransmit(recorder)
        self._mic_media().startTransmit(recorder)
        call.recorder = recorder
        call.recording_path = path
        mono, utc = _now()
        self._emit_call(call, ev.RecordingChanged(mono, utc, call.sip_call_id, call.handle, True, path))

    def stop_recording(self, handle: int) -> None:
        self._submit(lambda: self._with_call(handle, self._do_stop_recording))

    def _do_stop_recording(self, call: _Call) -> None:  # the bridge clock runs: the WAV closes at once
        call.announcer = None
        if call.recorder is None:
            return
        call.recorder = None  # deleting the recorder closes the WAV (complete ~0.3 s later)
        mono, utc = _now()
        self._emit_call(call, ev.RecordingChanged(mono, utc, call.sip_call_id, call.handle, False, call.recording_path))

    def _call_audio(self, call: _Call) -> pj.AudioMedia | None:
        info = call.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                return call.getAudioMedia(index)
        return None

    def _with_call(self, handle: int, action: Callable[[_Call], object]) -> None:
        call = self._call(handle)
        if call is None or call.ended:
            return
        action(call)

    def decline(self, handle: int, code: int = 486) -> None:
        """Refuse a ringing call with 486 Busy Here or 603 Decline."""
        if code not in (486, 603):
            raise ValueError("decline with 486 or 603")
        self._submit(lambda: self._do_hangup(handle, code))

    def hangup(self, handle: int) -> None:
        """Hang up (or cancel) a call; billable time stops now."""
        call = self._call(handle)
        if call is not None and call.sip_call_id and call.connected and not call.ended:
            mono, utc = _now()
            self._emit_call(call, ev.CallHangupRequested(mono, utc, call.sip_call_id, handle))
        self._submit(lambda: self._do_hangup(handle, 0))

    def _do_hangup(self, handle: int, code: int) -> None:
        call = self._call(handle)
        if call is None or call.ended:
            return
        call.local_hangup = True
        prm = pj.CallOpParam(True)
        if code:
            prm.statusCode = code
        call.hangup(prm)

