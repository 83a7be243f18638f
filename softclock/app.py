"""Composition root: builds every service in order and hands them to the UI.

The core (store, capture, phone) is built here without Qt; the desktop shell
in :mod:`softclock.ui.application` wires it to windows and the event bridge.
"""

from __future__ import annotations

import getpass
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from softclock import events as ev
from softclock import paths
from softclock.billing import Policy
from softclock.changes import ChangeBus
from softclock.events import Event
from softclock.phone import Engine, Phone
from softclock.settings import AccountSettings, Settings, SipSettings, load, split_host_port
from softclock.sip.config import AccountConfig
from softclock.worker import DbWorker

# SQLAlchemy, the store, capture and the facades are imported by build_core once the
# SIP engine is up (start-up, issue 13: the REGISTER leaves before ~0.4 s of imports).
if TYPE_CHECKING:
    from softclock.capture import Capture
    from softclock.facades import Facades
    from softclock.store.db import Store

log = logging.getLogger("softclock.app")


@dataclass
class Core:
    settings: Settings
    settings_path: Path
    data_dir: Path
    store: Store
    capture: Capture
    phone: Phone
    engine: Engine  # softclock.sip.engine.SipEngine, seen through the protocol (no pjsua2 types leave sip/)
    # The acting person, decided once here: the owner of every entry, the name in the
    # trail for every change made in this app, and the timekeeper the central store knows.
    identity: Callable[[], str] = lambda: ""
    # The one database worker (capture and every facade run there) and the one change channel.
    worker: DbWorker | None = None
    bus: ChangeBus | None = None
    facades: Facades | None = None

    def shutdown(self) -> None:
        """After the engine stopped: let capture record the last events, then close the store."""
        if self.worker is not None and not self.worker.stopped:
            capture = self.capture

            # The last chance to write what the store refused; else say, call by call, what is lost.
            def last_chance() -> None:
                if not capture.retry():
                    capture.log_unwritten()

            self.worker.call(last_chance, timeout=10.0)
            self.worker.stop()
        self.store.close()


# Events about a call go through capture (on the database worker) before the window
# sees them, so the window can read capture's view of the call; the rest go straight on.
# One exception: an incoming call's ringing reaches the window first (issue 13: the
# ringing window within 14 ms of the INVITE), while capture records it on the worker;
# the window reads nothing of capture's for a ringing call.
_CALL_EVENTS = (
    ev.CallStarted,
    ev.CallRinging,
    ev.CallConnected,
    ev.CallHangupRequested,
    ev.CallEnded,
    ev.CallHoldChanged,
    ev.RecordingChanged,
)


class Recorder(Protocol):
    """What the pipeline hands call events to (capture)."""

    def handle(self, event: Event) -> None: ...


class _LateCapture:
    """Capture before it exists: the engine starts (and registers) before the store opens,
    and its call events are queued on the database worker behind a job that waits for
    capture and runs crash recovery first (build_core)."""

    def __init__(self) -> None:
        self.capture: Capture | None = None

    def handle(self, event: Event) -> None:
        if self.capture is not None:  # None only if building the core failed
            self.capture.handle(event)


def event_pipeline(worker: DbWorker, capture: Recorder, sink: Callable[[Event], None]) -> Callable[[Event], None]:
    """What the SIP engine calls (on its threads) with each event."""

    def record(event: Event) -> None:
        try:
            capture.handle(event)
        except Exception as exc:
            # A bug in capture must not take the call or the window down with it.
            worker.on_bug(f"capture, on {type(event).__name__}", exc)

    def record_then_show(event: Event) -> None:
        record(event)
        sink(event)

    def pipeline(event: Event) -> None:
        if isinstance(event, ev.CallRinging) and event.direction is ev.Direction.INCOMING:
            sink(event)  # the ringing window first; capture's write is on the worker meanwhile
            worker.submit(lambda: record(event))
        elif isinstance(event, _CALL_EVENTS):
            worker.submit(lambda: record_then_show(event))
        else:
            sink(event)

    return pipeline


def turn_password(sip: SipSettings) -> str:
    """The TURN relay's password from the keyring; "" (TURN off, said in the log) if absent."""
    from softclock import secrets
    from softclock.logs import register_secret

    if not sip.turn_server:
        return ""
    try:
        password = secrets.get_turn_password(sip.turn_user, sip.turn_server)
    except secrets.KeyringUnavailable as exc:
        log.warning("TURN relay %s not used: %s", sip.turn_server, exc)
        return ""
    if not password:
        log.warning("TURN relay %s not used: no password for %s in the keyring", sip.turn_server, sip.turn_user)
        return ""
    register_secret(password)
    return password


def engine_account(account: AccountSettings, password: str, sip: SipSettings | None = None) -> AccountConfig:
    """The SIP layer's account config for ``account``, with the NAT settings of ``sip``."""

    sip = sip or SipSettings()
    relay = turn_password(sip)
    return AccountConfig(
        user=account.user,
        domain=account.sip_domain,
        server=account.server,
        auth_id=account.auth_id,
        password=password,
        transport=account.transport,
        outbound_proxy=account.outbound_proxy,
        display_name=account.display_name,
        auto_answer=account.auto_answer,
        backup_servers=account.backups,
        srtp=account.srtp,
        ice=sip.ice,
        keepalive_s=sip.keepalive_seconds,
        turn_server=sip.turn_server if relay else "",
        turn_user=sip.turn_user if relay else "",
        turn_password=relay,
        tls_ca_file=account.tls_ca_file,
        expires_s=account.register_expires_s,
        retry_interval_s=account.retry_interval_s,
        allow_direct_calls=sip.allow_direct_calls,
    )


def build_core(
    settings_path: Path,
    data_dir: Path,
    sink: Callable[[Event], None],
    bus: ChangeBus | None = None,
    settings: Settings | None = None,
    worker: DbWorker | None = None,
    on_engine: Callable[[Engine, Phone], None] | None = None,
) -> Core:
    """Start the SIP engine, then open the store, recover crashed calls and build capture.

    ``sink`` gets every SIP event, call events after capture recorded them (an
    incoming call's ringing before); ``bus`` carries every change of the store
    (capture's and the facades'). ``on_engine(engine, phone)`` runs as soon as
    the engine is up, before SQLAlchemy is imported: the desktop registers there.
    Call events that come before capture exists wait on the database worker
    behind crash recovery, so recovery never sees a call of this run.
    """
    from softclock.sip.config import EngineConfig
    from softclock.sip.engine import SipEngine

    settings = settings or load(settings_path)
    # Everything the app writes (store, log, recordings) is for its user alone.
    os.umask(0o077)
    bus = bus or ChangeBus()
    worker = worker or DbWorker()
    late = _LateCapture()
    opened = threading.Event()

    def recover_first() -> int:
        opened.wait()  # set by this function below, whatever happens
        return late.capture.recover() if late.capture is not None else 0

    recovery = worker.submit(recover_first)
    engine: SipEngine | None = None
    try:
        port = settings.sip.local_port or remembered_sip_port(data_dir, settings.sip.bind_address)
        engine = SipEngine(
            event_pipeline(worker, late, sink),
            EngineConfig(
                bind_address=settings.sip.bind_address,
                local_port=port,
                null_audio=settings.sip.null_audio,
                playback_device=settings.audio.speaker,
                capture_device=settings.audio.microphone,
                log_level=settings.sip.log_level,
                stun_servers=tuple(settings.sip.stun_servers),
                keepalive_s=settings.sip.keepalive_seconds,
            ),
        )
        engine.start()
        if not settings.sip.local_port:
            _remember_sip_port(data_dir, engine.local_port)
        phone = Phone(engine, settings.account.sip_domain if settings.account.configured else "")
        if on_engine is not None:
            on_engine(engine, phone)
        store, capture, identity = _open_capture(settings, data_dir, bus, worker)
        late.capture = capture
    except BaseException:
        if engine is not None:
            engine.shutdown()
        raise
    finally:
        opened.set()
    recovered = recovery.result()
    if recovered:
        log.warning("%d call(s) left open by a crash were closed and flagged", recovered)
    from softclock.facades import facades

    views = facades(store, identity, lambda: firm_policy(store, settings), bus)
    return Core(settings, settings_path, data_dir, store, capture, phone, engine, identity, worker, bus, views)


def _open_capture(
    settings: Settings, data_dir: Path, bus: ChangeBus, worker: DbWorker
) -> tuple[Store, Capture, Callable[[], str]]:
    """The store (or a holding store in memory if it cannot be opened) and capture on it."""
    from softclock.capture import Capture
    from softclock.errors import StoreError
    from softclock.store.db import open_store

    try:
        store = open_store(data_dir)
        holding = ""
    except StoreError as exc:
        # The phone still works: calls are held in memory until the real store opens.
        from softclock.store.db import open_memory_store

        log.error("%s; calls are held in memory until it can be written", exc)
        store, holding = open_memory_store(), str(exc)
    identity = acting_person(settings)
    capture = Capture(
        store,
        timekeeper=identity,
        region=lambda: settings.billing.default_region,
        on_change=bus.publish,
        short_call_s=lambda: firm_policy(store, settings).short_call_s,
        activity_codes=lambda: _activity_codes(firm_policy(store, settings)),
        schedule=worker.later,
    )
    if holding:
        capture.hold_until(lambda: open_store(data_dir), holding)
    else:
        from softclock.recordings import apply_retention

        apply_retention(store, data_dir, settings.recording.retention_days)
    return store, capture, identity


def acting_person(settings: Settings) -> Callable[[], str]:
    """Who acts in this app: ``[billing] timekeeper``, else the SIP user, else the OS login.

    A callable, read at each use, because saving another account changes it; every
    writer (capture, review, sync, the command line) asks this one function.
    """

    def person() -> str:
        return settings.timekeeper or getpass.getuser()

    return person


def firm_policy(store: Store, settings: Settings) -> Policy:
    """The firm's billing policy: as last pulled from the central store, else the settings'."""
    from softclock.sync import state

    with store.session() as s:
        return state.firm_policy(s, settings.billing.policy())


def _activity_codes(policy: Policy) -> tuple[str, str]:
    return policy.activity_client, policy.activity_other


_PORT_FILE = "sip-port"


def remembered_sip_port(data_dir: Path, bind_address: str = "") -> int:
    """The UDP port used last time, if it is free; else 0 (any).

    Keeping the port keeps the Contact the same across restarts, so after a
    crash the registrar replaces the dead binding instead of forking calls to
    it (which holds back every final response until the dead branch times out).
    """
    import socket

    try:
        port = int((data_dir / _PORT_FILE).read_text().strip())
    except (OSError, ValueError):
        return 0
    if not 1024 <= port <= 65535:
        return 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((bind_address or "0.0.0.0", port))
        except OSError:
            log.info("last SIP port %d is taken; using another", port)
            return 0
    return port


def _remember_sip_port(data_dir: Path, port: int) -> None:
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the engine starts before the store makes it
        (data_dir / _PORT_FILE).write_text(f"{port}\n")
    except OSError as exc:
        log.warning("cannot remember the SIP port: %s", exc.strerror)


def default_paths(config: str | None, data: str | None) -> tuple[Path, Path]:
    return paths.config_path(config), paths.data_dir(data)


__all__ = ["Core", "build_core", "default_paths", "engine_account", "split_host_port"]
