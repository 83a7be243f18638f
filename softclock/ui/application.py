"""The desktop shell: QApplication, the main window, and their wiring."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

# First, before PySide6 itself: the cheaper PySide6 check of every module imported after it.
from softclock.ui import qtstart  # noqa: F401

# isort: split
from PySide6.QtCore import QEvent, QObject, QSocketNotifier, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QWidget

from softclock import events as ev
from softclock.changes import ChangeKind
from softclock.logs import register_secret
from softclock.paths import runtime_socket_name
from softclock.ui.bridge import EventBridge
from softclock.ui.incoming import IncomingCallWindow
from softclock.ui.main_window import MainWindow

# Start-up: only what the window needs is imported before it shows (run_gui); the
# account dialog, the demo line, QtNetwork's single-instance server, notifications,
# the store, SQLAlchemy, the keyring and pjsua2 come after it has been painted.
if TYPE_CHECKING:
    from softclock.app import Core
    from softclock.notify import Notifier
    from softclock.phone import Engine, Phone
    from softclock.settings import AccountSettings, Settings, SipSettings
    from softclock.sip.config import AccountConfig
    from softclock.sip.demo import DemoLine
    from softclock.sync.service import SyncWorker
    from softclock.ui.ipc import InstanceServer
    from softclock.ui.reports_window import ReportsWindow
    from softclock.ui.settings_dialog import SettingsDialog
    from softclock.ui.sound_dialog import SoundController

log = logging.getLogger("softclock.ui")


def _style_sheet() -> str:
    """The style sheet shipped as package data (softclock/resources/style.qss; its dark variant in dark themes)."""
    from softclock.ui.palette import style_sheet

    return style_sheet()


class DesktopApp(QObject):
    """Owns the core services and the windows; implements the window's Controller.

    The window is built first; the core (store, migrations, keyring, SIP
    engine: most of the start-up cost is importing SQLAlchemy and pjsua2) is
    built either at once (``background=False``, for tests) or, once
    :meth:`start_background` is called (``run_gui`` calls it when the window
    has been painted), on a helper thread while the window is on screen.

    Signals:
        core_ready(): the services are attached to the window.
        demo_ready(str): the demo line's SIP URI, once it answers.
    """

    core_ready = Signal()
    demo_ready = Signal(str)

    def __init__(self, settings_path: Path, data_dir: Path, listen: bool = True, background: bool = False) -> None:
        super().__init__()
        self._settings_path = settings_path
        self._data_dir = data_dir
        self.bridge = EventBridge(self)
        self._demo: DemoLine | None = None
        self.core: Core | None = None
        self._settings: Settings | None = None  # read by the start-up thread, before the core
        self._early_events: list[ev.Event] = []  # SIP events before the core was attached
        self.sync_worker: SyncWorker | None = None
        self.sound: SoundController | None = None  # ringer, device list, Sound dialog (None: no sound)
        self.reports_window: ReportsWindow | None = None  # Billing > Reports…, made when first asked for
        self.settings_dialog: SettingsDialog | None = None  # Settings > Preferences…, while open
        self.notifier: Notifier | None = None  # desktop notifications, once started
        self.window = MainWindow(self)
        from softclock.ui.ui_state import UiState

        self._ui_state = UiState(data_dir)
        from softclock.bugs import BugReporter
        from softclock.ui import background as runner

        self.bugs = BugReporter(data_dir, lambda text: self.bridge.run_on_main(lambda: self.window.show_bug(text)))
        runner.on_bug = self.bugs.report
        # The one database worker (capture, every facade, the window's reads) and the one change channel.
        self._runner = runner.BackgroundRunner.shared()
        self._runner.worker.on_bug = self.bugs.report
        from softclock.changes import ChangeBus

        self._bus = ChangeBus()
        self._bus.subscribe(lambda change: self.bridge.run_on_main(lambda: self.window.on_change(change)))
        self._ui_state.restore(self.window, self.window.remembered_headers())
        self._server: InstanceServer | None = None
        self._listen = listen
        self._started = False
        self._connect_signals()
        if not background:
            self._started = True
            self._start_listening()
            self._attach(*self._build())

    def start_background(self, then: list[Callable[[], None]] | None = None) -> None:
        """Listen for later launches, run ``then``, and build the core on a helper thread (once).

        run_gui calls it once the window is painted: importing SQLAlchemy and
        pjsua2 holds the GIL for most of a second, and on the main thread's
        way to the window it delayed the window by as much.
        """
        if self._started:
            return
        self._started = True
        threading.Thread(target=self._build_in_background, name="start-up", daemon=True).start()
        self._start_listening()
        for job in then or ():
            job()

    def _start_listening(self) -> None:
        if not self._listen:
            return
        from softclock.ui.ipc import InstanceServer

        self._server = InstanceServer(runtime_socket_name(self._data_dir), self)
        self._server.dial_requested.connect(self._on_server_dial_requested)
        self._server.show_requested.connect(self._on_server_show_requested)

    def _connect_signals(self) -> None:
        self.bridge.event_arrived.connect(self._on_bridge_event_arrived)
        self.window.sound_action.triggered.connect(self._on_window_sound_action_triggered)
        self.window.preferences_action.triggered.connect(self._on_window_preferences_action_triggered)
        self.window.reports_action.triggered.connect(self._on_window_reports_action_triggered)

    def start_notifications(self, bus: str = "SESSION") -> None:
        """Incoming calls also raise a desktop notification with Answer and Decline
        (softclock.notify; off, and said once in the log, without a notification server)."""
        from softclock.notify import Note, Notifier

        def on_action(key: str, action: str) -> None:  # on the notifier's thread
            handle = int(key)
            if action == "answer":
                self.bridge.run_on_main(lambda: self.window._on_answer_clicked(handle))
            elif action == "decline":
                self.bridge.run_on_main(lambda: self.window._on_decline_clicked(handle))

        notifier = Notifier(on_action, bus=bus)
        notifier.start()
        self.notifier = notifier
        actions = (("answer", "Answer"), ("decline", "Decline"))
        self.window.incoming_ringing.connect(
            lambda handle, who, detail: notifier.notify(Note(str(handle), f"Incoming call: {who}", detail, actions))
        )
        self.window.incoming_over.connect(lambda handle: notifier.close(str(handle)))

    def show_tray(self, force: bool = False) -> bool:
        """The tray icon, where the desktop has a tray (``force``: tests); then closing the
        window hides it and the app runs until Quit."""
        from PySide6.QtWidgets import QApplication

        from softclock.ui.tray import Tray

        if not (force or Tray.available()):
            return False
        tray = Tray(self)
        tray.show_requested.connect(self._on_server_show_requested)
        tray.dial_requested.connect(self._on_tray_dial_requested)
        tray.quit_requested.connect(self.window.quit)
        tray.do_not_disturb_toggled.connect(self.window.dnd_action.setChecked)
        self.window.dnd_action.toggled.connect(tray.dnd_action.setChecked)
        tray.show()
        self.window.tray = tray
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.setQuitOnLastWindowClosed(False)
        return True

    def _on_tray_dial_requested(self) -> None:
        self._on_server_show_requested()
        self.window.dial_edit.setFocus()

    def _build(self) -> tuple[Core, str | None, str]:
        """Build the core; returns it, the SIP password (if any) and a problem sentence.

        The account registers as soon as the SIP engine is up (on this thread,
        before SQLAlchemy and the store are imported): the password is then
        returned as None, the REGISTER being on its way already."""
        from softclock.app import build_core
        from softclock.settings import load

        settings = load(self._settings_path)
        self._settings = settings
        problem = ""

        def register_now(engine: Engine, phone: Phone) -> None:
            nonlocal problem
            password, problem = self._password(settings.account)
            if password is not None:
                register_secret(password)
                engine.set_account(_engine_account(settings.account, password, settings.sip))
                phone.domain = settings.account.sip_domain
                phone.ready = True

        core = build_core(
            self._settings_path,
            self._data_dir,
            self.bridge.sink,
            self._bus,
            settings=settings,
            worker=self._runner.worker,
            on_engine=register_now,
        )
        return core, None, problem

    @staticmethod
    def _password(account: AccountSettings) -> tuple[str | None, str]:
        """The account's SIP password from the keyring, or a sentence saying why there is none."""
        from softclock import secrets

        if not account.configured:
            return None, ""
        try:
            password = secrets.get_sip_password(account.address)
        except secrets.KeyringUnavailable as exc:
            return None, str(exc)
        except Exception:
            # A keyring backend bug must not keep the phone from starting.
            log.exception("reading the keyring failed")
            return None, "The keyring could not be read (details in the log): open Account… to retry."
        if password is None:
            return None, f"No password for {account.address} in the keyring: open Account… to enter it."
        return password, ""

    def _build_in_background(self) -> None:
        try:
            result = self._build()
        except Exception as exc:  # StoreError, SettingsError, engine start-up: shown, and logged
            log.exception("start-up failed")
            text = str(exc)
            self.bridge.run_on_main(lambda: self.window.reg_label.setText(f"Softclock could not start: {text}"))
            return
        self.bridge.run_on_main(lambda: self._attach(*result))

    def _attach(self, core: Core, password: str | None, problem: str) -> None:
        self.core = core
        assert core.facades is not None
        self.window.attach(core.phone, core.facades, core.capture)
        early, self._early_events = self._early_events, []
        for event in early:  # what the engine said before the core was attached
            self._on_bridge_event_arrived(event)
        # Registering first: the REGISTER is on its way while sound and sync start.
        if password is not None:
            register_secret(password)
            self._register(core.settings.account, password)
        elif problem:
            self.window.reg_label.setText(problem)
        if not core.settings.sip.null_audio:
            from softclock.ui.sound_dialog import SoundController

            self.sound = SoundController(core, self.bridge.run_on_main)
        self._start_sync(core)
        # The next ringing window is built now and after each call rang, not when the INVITE comes.
        IncomingCallWindow.prepare()
        self.window.incoming_over.connect(lambda _handle: QTimer.singleShot(0, IncomingCallWindow.prepare))
        self.core_ready.emit()

    def _start_sync(self, core: Core) -> None:
        """The sync worker (its own thread): pushes after each approval, pulls every interval."""
        if not core.settings.central.url:
            # No central store: the status line only (entries waiting), without importing the sync
            # service and the central store's models (~0.2 s of CPU at start-up).
            from softclock.sync import state

            with core.store.session() as s:
                self.window.sync_status.show_status(state.status(s, False))
            return
        from softclock.errors import SettingsError
        from softclock.sync.service import Sync, SyncWorker

        try:
            bus = core.bus.publish if core.bus is not None else None
            sync = Sync(core.store, core.settings.central, core.identity(), on_change=bus)
        except SettingsError as exc:
            self.window.sync_status.setText(f"Sync off: {exc}")
            return
        self.window.sync_status.show_status(sync.status())
        if not sync.configured:
            return
        self.sync_worker = SyncWorker(
            sync,
            on_status=lambda status: self.bridge.run_on_main(lambda: self.window.sync_status.show_status(status)),
            on_bug=self.bugs.report,  # a bug in a sync round is reported as a bug, not shown as a sentence
        )
        worker = self.sync_worker
        assert self._bus is not None
        self._bus.subscribe(lambda change: worker.kick() if change.kind is ChangeKind.ENTRY_CHANGED else None)
        self.sync_worker.start()

    # ------------------------------------------------------------------ Controller

    @property
    def account_configured(self) -> bool:
        settings = self.core.settings if self.core is not None else self._settings
        return settings is not None and settings.account.configured

    @property
    def demo_running(self) -> bool:
        return self._demo is not None and self._demo.running

    @property
    def region(self) -> str:
        return self.core.settings.billing.default_region if self.core is not None else "US"

    def open_account_setup(self, parent: QWidget) -> None:
        from softclock import secrets
        from softclock.ui.account_dialog import AccountDialog

        if self.core is None:
            return
        dialog = AccountDialog(self.core.settings.account, parent)
        while dialog.exec():
            try:
                self.apply_account(dialog.account(), dialog.password())
            except secrets.KeyringUnavailable as exc:
                dialog.show_error(str(exc))
                continue
            break

    def apply_account(self, account: AccountSettings, password: str) -> None:
        """Store the password in the keyring, save the settings, register."""
        from softclock import secrets
        from softclock.settings import save

        assert self.core is not None
        secrets.set_sip_password(account.address, password)
        register_secret(password)
        self.core.settings.account = account
        save(self.core.settings, self.core.settings_path)
        self._stop_demo()
        self._register(account, password)

    def start_demo(self) -> None:
        if self.demo_running or self.core is None:
            return
        from softclock.sip.demo import DemoLine

        self._demo = DemoLine(
            on_ready=lambda uri: self.bridge.run_on_main(lambda: self._on_demo_ready(uri)),
            on_error=lambda text: self.bridge.run_on_main(lambda: self.window.reg_label.setText(text)),
            ring_ms=self.core.settings.demo.ring_ms,
            call_s=self.core.settings.demo.call_s,
        )
        self._demo.start()

    def demo_call_me(self) -> None:
        if self.core is not None and self._demo is not None and self._demo.running:
            port = self.core.engine.local_port
            self._demo.call_me(f"sip:you@127.0.0.1:{port}")

    # ------------------------------------------------------------------ internals

    def _register(self, account: AccountSettings, password: str) -> None:
        assert self.core is not None
        self.core.engine.set_account(_engine_account(account, password, self.core.settings.sip))
        self.core.phone.domain = account.sip_domain
        self.core.phone.ready = True
        self.window.refresh_welcome()

    def _on_demo_ready(self, uri: str) -> None:
        from dataclasses import replace

        from softclock.settings import AccountSettings

        assert self.core is not None and self.core.facades is not None
        # A newcomer with no matters yet gets two sample ones to pick from.
        self._runner.submit(self.core.facades.matters.seed_demo, lambda _: None)
        host = uri.split("@", 1)[1]
        self.window.known_names[f"demo@{host}"] = "Demo line"
        port = self.core.engine.local_port
        local = replace(AccountSettings(), user="you", domain=f"127.0.0.1:{port}", display_name="You")
        self.core.engine.set_account(_engine_account(local, "", self.core.settings.sip))
        self.core.phone.domain = host
        self.core.phone.ready = True
        self.window.demo_button.setEnabled(True)
        self.window.refresh_welcome()
        self.window.dial_edit.setText("demo")
        self.window.show_message("Demo line ready: press Call to ring it, or have it call you.", until_call=True)
        self.demo_ready.emit(uri)

    def _stop_demo(self) -> None:
        if self._demo is not None:
            self._demo.stop()
            self._demo = None

    def _on_bridge_event_arrived(self, event: ev.Event) -> None:
        """A SIP event on the main thread; a call's events come after capture recorded them
        (an incoming call's ringing before)."""
        if self.core is None:
            # The engine registers before the store is open: the registration is shown at
            # once (and again after the window's attach, which says "No account set up"),
            # everything once the core is attached.
            if isinstance(event, ev.RegistrationChanged):
                self.window.on_sip_event(event)
            self._early_events.append(event)
            return
        if self.sound is not None:
            self.sound.handle(event)  # rings incoming calls on the ringer device
        if isinstance(event, ev.CallConnected) and self.core.settings.recording.policy == "always":
            self.record(event.handle, event.call_id)
        self.window.on_sip_event(event)

    def _on_window_sound_action_triggered(self) -> None:
        if self.sound is not None:
            self.sound.open_dialog(self.window)
        else:
            self.window.show_message("Sound is off on this computer ([sip] null_audio = true in the settings).")

    def _on_window_preferences_action_triggered(self) -> None:
        """Settings > Preferences…: start at login, and the billing policy (editable without a central store)."""
        from softclock import autostart
        from softclock.settings import save
        from softclock.ui.background import BackgroundRunner
        from softclock.ui.settings_dialog import SettingsDialog

        core = self.core
        if core is None or core.facades is None:
            self.window.show_message("Preferences open once Softclock has read its settings.")
            return
        review = core.facades.review
        dialog = SettingsDialog(
            autostart.enabled(),
            bool(core.settings.central.url),
            lambda done: BackgroundRunner.shared().submit(review.base_policy, done),
            self.window,
        )
        self.settings_dialog = dialog
        if not dialog.exec():
            return
        if dialog.autostart.isChecked() != autostart.enabled():
            try:
                autostart.set_enabled(dialog.autostart.isChecked())
            except OSError as exc:
                self.window.show_message(f"Start at login could not be changed: {exc.strerror or exc}.")
        choice = dialog.policy_choice()
        billing = core.settings.billing
        if choice is not None and (
            billing.increment_min,
            billing.rounding,
            billing.minimum_units,
            billing.short_call_s,
        ) != (
            choice.increment_min,
            choice.rounding,
            choice.minimum_units,
            choice.short_call_s,
        ):
            billing.increment_min, billing.rounding = choice.increment_min, choice.rounding
            billing.minimum_units, billing.short_call_s = choice.minimum_units, choice.short_call_s
            save(core.settings, core.settings_path)
            review.forget_policies()

    def _on_window_reports_action_triggered(self) -> None:
        """Billing > Reports…: one Reports window at a time, on the person's own central-store login."""
        settings = self.core.settings if self.core is not None else self._settings
        if settings is None:
            self.window.show_message("Reports open once Softclock has read its settings.")
            return
        if self.reports_window is None:
            from softclock.reports.service import ReportsService
            from softclock.ui.reports_window import ReportsWindow

            self.reports_window = ReportsWindow(ReportsService(settings.central))
            self.reports_window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # its thread ends at close
            self.reports_window.destroyed.connect(self._on_reports_window_destroyed)
        self.reports_window.show()
        self.reports_window.raise_()
        self.reports_window.activateWindow()

    def _on_reports_window_destroyed(self) -> None:
        self.reports_window = None

    @property
    def recording_policy(self) -> str:
        return self.core.settings.recording.policy if self.core is not None else "off"

    def record(self, handle: int, call_id: str) -> None:
        """Record the call (consent announcement first), per firm policy."""
        if self.core is None or self.recording_policy == "off":
            return
        from softclock.recordings import recording_path

        path = recording_path(self.core.data_dir, call_id)
        self.core.engine.start_recording(handle, str(path), self.core.settings.recording.announcement)

    def stop_recording(self, handle: int) -> None:
        if self.core is not None:
            self.core.engine.stop_recording(handle)

    def _on_server_dial_requested(self, uri: str) -> None:
        self._on_server_show_requested()
        self.window.dial(uri)

    def _on_server_show_requested(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def shutdown(self) -> None:
        """Stop everything in order: calls, engine, demo, store."""
        self.window.quitting = True
        if self._server is not None:
            self._server.close()
        self._ui_state.save(self.window, self.window.remembered_headers())
        if self.core is None:
            return
        if self.sync_worker is not None:
            self.sync_worker.stop()
        if self.sound is not None:
            self.sound.close()
        if self.notifier is not None:
            self.notifier.stop()
        self.core.engine.shutdown()
        self._stop_demo()
        # Calls hung up by the shutdown reported their end to capture on the database worker,
        # which records them before the store closes.
        self.core.shutdown()


def _quit_on_signals(app: QApplication) -> None:
    """SIGTERM/SIGINT quit through the event loop, so calls are hung up and saved.

    Python runs signal handlers only when it gets control; the wake-up fd makes
    the Qt loop wake at once instead of polling with a timer.
    """
    rsock, wsock = socket.socketpair()
    rsock.setblocking(False)
    wsock.setblocking(False)
    signal.set_wakeup_fd(wsock.fileno())
    notifier = QSocketNotifier(rsock.fileno(), QSocketNotifier.Type.Read, app)

    requested: list[int] = []

    def drain() -> None:
        try:
            rsock.recv(64)
        except OSError:
            pass
        if requested:
            app.quit()

    notifier.activated.connect(drain)
    app._signal_sockets = (rsock, wsock, notifier)  # type: ignore[attr-defined]
    # The Python handler may run wherever the main thread was (even inside a
    # logging call holding its lock): it only records the request; the quit
    # (and the engine shutdown it starts) runs from the event loop.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: requested.append(signum))


def run_gui(settings_path: Path, data_dir: Path, dial: str | None = None) -> int:
    """Start the desktop app; returns the process exit code.

    The window first, from as few imports as it needs; everything else once
    it has been painted (DesktopApp.start_background). bench/desktop.py and
    bench/startup.py measure it from outside.
    """
    name = runtime_socket_name(data_dir)
    if _may_be_running(name):
        from softclock.ui.ipc import send_to_running

        if send_to_running(name, f"dial {dial}" if dial else "show"):
            print("Softclock is already running; handed over to it.")
            return 0
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    app.setApplicationName("Softclock")
    from softclock.ui.branding import brand  # the .desktop entry and the window icon

    brand(app)
    app.setStyleSheet(_style_sheet())
    desktop = DesktopApp(settings_path, data_dir, background=True)
    desktop.bugs.install()
    desktop.window.log_path = str(data_dir / "softclock.log")
    desktop.show_tray()
    app.aboutToQuit.connect(desktop.shutdown)
    _quit_on_signals(app)
    desktop.window.show()
    # Logged from the event loop's first turn, i.e. once the window is up.
    QTimer.singleShot(0, lambda: log.info("main window shown"))
    _FirstPaint(desktop.window, lambda: desktop.start_background(then=[desktop.start_notifications]))
    if dial:
        desktop.window.dial(dial)  # placed once the account is ready
    if os.environ.get("SOFTCLOCK_QUIT_AFTER_MS"):  # used by the desktop benchmark
        QTimer.singleShot(int(os.environ["SOFTCLOCK_QUIT_AFTER_MS"]), app.quit)
    return int(app.exec())


def _may_be_running(name: str) -> bool:
    """Whether an app may be listening on the local socket ``name``, asked without
    QtNetwork where that is cheap: on Unix Qt's socket is the file TMPDIR/name
    (or /tmp/name); nothing accepting there means nothing to hand over to."""
    if os.name != "posix":
        return True
    path = os.path.join(os.environ.get("TMPDIR") or "/tmp", name)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        return False
    except OSError:
        return True  # let Qt decide
    finally:
        probe.close()
    return True


class _FirstPaint(QObject):
    """Runs ``job`` on the event loop's turn after ``widget`` is first painted, or after
    ``fallback_ms`` if it is not painted by then (a window started minimised)."""

    def __init__(self, widget: QWidget, job: Callable[[], None], fallback_ms: int = 1500) -> None:
        super().__init__(widget)
        self._job: Callable[[], None] | None = job
        widget.installEventFilter(self)
        QTimer.singleShot(fallback_ms, self._run)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # a Qt override
        if event.type() == QEvent.Type.Paint and self._job is not None:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self._run)  # after the paint has reached the screen
        return False

    def _run(self) -> None:
        job, self._job = self._job, None
        if job is not None:
            log.info("main window painted; starting the core")
            job()


def _engine_account(account: AccountSettings, password: str, sip: SipSettings) -> AccountConfig:
    from softclock.app import engine_account

    return engine_account(account, password, sip)
