"""The main window: registration state, dialer, calls, matter prompt, Today."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStatusBar,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from softclock import events as ev
from softclock.changes import Change, ChangeKind
from softclock.dialing import DialError, display_name
from softclock.formatting import MatterRow, bare_address, fmt_duration
from softclock.phone import Phone
from softclock.sip import messages
from softclock.states import Disposition
from softclock.textsafe import printable
from softclock.ui.background import BackgroundRunner
from softclock.ui.call_widget import CallWidget
from softclock.ui.fit import fit_to_screen, scrollable
from softclock.ui.history_view import HistoryView
from softclock.ui.incoming import IncomingCallWindow
from softclock.ui.matter_prompt import MatterPrompt
from softclock.ui.review_view import ReviewView
from softclock.ui.sync_status import SyncStatusLabel
from softclock.ui.today import TodayList

if TYPE_CHECKING:  # capture and the facades pull in SQLAlchemy: loaded after the window shows
    from softclock.capture import Capture
    from softclock.facades import CallRow, Facades
    from softclock.ui.tray import Tray

log = logging.getLogger("softclock.ui")

_ENDED_TEXT = {
    Disposition.ANSWERED: "Call ended",
    Disposition.MISSED: "Missed call",
    Disposition.DECLINED: "Declined",
    Disposition.CANCELLED: "Cancelled",
    Disposition.BUSY: "Busy",
    Disposition.FAILED: "Call failed",
}


class Controller(Protocol):
    """What the window asks of the application (``softclock.app``)."""

    def open_account_setup(self, parent: QWidget) -> None: ...
    def start_demo(self) -> None: ...
    def record(self, handle: int, call_id: str) -> None: ...
    def stop_recording(self, handle: int) -> None: ...
    @property
    def recording_policy(self) -> str: ...
    def demo_call_me(self) -> None: ...
    @property
    def demo_running(self) -> bool: ...
    @property
    def account_configured(self) -> bool: ...
    @property
    def region(self) -> str: ...


def _key(view: _CallView) -> str:
    """The matter prompt's name for a call: the engine handle (one per dialog; a
    Call-ID can be shared by two dialogs)."""
    return str(view.handle)


@dataclass
class _CallView:
    handle: int
    call_id: str
    widget: CallWidget
    who: str
    number: str | None
    incoming: bool
    connected: bool = False
    ended: bool = False


class MainWindow(QMainWindow):
    """The softphone's window.

    Signals:
        ringing_shown(str): the SIP Call-ID of an incoming call whose ringing window is shown.
        registration_shown(str): the registration sentence now on screen.
        today_shown(): the Today list shows what the store had when it was last asked.
        incoming_ringing(int, str, str): an incoming call rings (again when its likely client is known):
            the engine handle, who, and the number and likely client (for the desktop notification).
        incoming_over(int): that call stopped ringing.
    """

    ringing_shown = Signal(str)
    registration_shown = Signal(str)
    today_shown = Signal()
    incoming_ringing = Signal(int, str, str)  # handle, who, what else is known (number, likely client)
    incoming_over = Signal(int)  # answered, declined or gone

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.setWindowTitle("Softclock")
        self.setObjectName("mainWindow")
        self._controller = controller
        self._phone: Phone | None = None
        self._facades: Facades | None = None
        self._capture: Capture | None = None
        self._runner = BackgroundRunner.shared()  # the database worker, results back on this thread
        self._today_asked = 0  # generation of the newest read of the Today list
        self._views: dict[int, _CallView] = {}  # by engine handle
        self._by_call_id: dict[str, int] = {}
        self._incoming: dict[int, IncomingCallWindow] = {}
        self._pending_dial: str | None = None
        self.known_names: dict[str, str] = {}  # bare address -> name (e.g. the demo line)
        self.bug_box: QMessageBox | None = None  # "Something went wrong", once a run
        self._hint: str | None = None  # a status-bar hint that a call makes stale (see show_message)

        self.reg_label = QLabel("No account set up")
        self.reg_label.setObjectName("regLabel")
        self.reg_label.setTextFormat(Qt.TextFormat.PlainText)  # server reason phrases come from the network
        self.account_button = QPushButton("Account…")
        # Phone: the call keys, shown with their shortcuts; Quit is explicit (closing may only hide).
        phone_menu = self.menuBar().addMenu("&Phone")
        self.answer_action = self._action(phone_menu, "&Answer", "Ctrl+Shift+A", self._on_answer_action_triggered)
        self.hangup_action = self._action(phone_menu, "&Hang up", "Ctrl+Shift+E", self._on_hangup_action_triggered)
        self.hold_action = self._action(phone_menu, "Hold / &resume", "Ctrl+Shift+H", self._on_hold_action_triggered)
        self.mute_action = self._action(phone_menu, "&Mute / unmute", "Ctrl+Shift+M", self._on_mute_action_triggered)
        phone_menu.addSeparator()
        self.dnd_action = QAction("&Do not disturb", self)
        self.dnd_action.setCheckable(True)
        self.dnd_action.setToolTip("Incoming calls are declined as busy (and listed as declined)")
        phone_menu.addAction(self.dnd_action)
        phone_menu.addSeparator()
        self.quit_action = self._action(phone_menu, "&Quit", "Ctrl+Q", self.quit)
        # Billing > Reports…: the central store's reports (the application opens the Reports window).
        self.reports_action = QAction("&Reports…", self)
        self.menuBar().addMenu("&Billing").addAction(self.reports_action)
        # Settings > Sound…: microphone, speaker, ringer, test sound (the application handles it).
        self.sound_action = QAction("&Sound…", self)
        settings_menu = self.menuBar().addMenu("&Settings")
        settings_menu.addAction(self.sound_action)
        # Settings > Preferences…: start at login and the billing policy (the application handles it).
        self.preferences_action = QAction("&Preferences…", self)
        settings_menu.addAction(self.preferences_action)
        self.about_action = QAction("&About Softclock", self)
        self.menuBar().addMenu("&Help").addAction(self.about_action)
        self.about_action.triggered.connect(self._on_about_action_triggered)
        self.tray: Tray | None = None  # set by the application where the desktop has a tray
        self.about_box: QMessageBox | None = None
        self.confirm_box: QMessageBox | None = None
        self.quitting = False  # set once the app is quitting: closing no longer asks or hides
        self.log_path = ""  # shown in Help > About
        self.dial_edit = QLineEdit()
        self.dial_edit.setObjectName("dialEdit")
        self.dial_edit.setPlaceholderText("Number, extension or SIP address")
        self.dial_edit.setAccessibleName("Number to dial")
        self.call_button = QPushButton("Call")
        self.call_button.setObjectName("callButton")
        self.redial_button = QPushButton("Redial")
        self.redial_button.setToolTip("Call the last number again (Ctrl+R)")
        self.mwi_label = QLabel("")
        self.mwi_label.setObjectName("mwiLabel")
        self.mwi_label.hide()
        # Said at once, and kept on screen, while capture holds calls the store refuses.
        self.store_banner = QLabel("")
        self.store_banner.setObjectName("storeBanner")
        self.store_banner.setWordWrap(True)
        self.store_banner.hide()
        self.dial_error = QLabel("")
        self.dial_error.setObjectName("errorText")
        self.dial_error.setTextFormat(Qt.TextFormat.PlainText)
        self.dial_error.setWordWrap(True)

        self.welcome = QFrame()
        self.welcome.setObjectName("welcome")
        self.setup_button = QPushButton("Set up an account")
        self.demo_button = QPushButton("Start the demo line")
        welcome_text = QLabel(
            "<b>Welcome to Softclock.</b><br>Connect to your firm's phone system, or try the "
            "built-in demo line: a local phone that rings you and answers when you call it."
        )
        welcome_text.setWordWrap(True)
        wl = QVBoxLayout(self.welcome)
        wl.addWidget(welcome_text)
        wb = QHBoxLayout()
        wb.addWidget(self.setup_button)
        wb.addWidget(self.demo_button)
        wb.addStretch(1)
        wl.addLayout(wb)
        self.demo_call_me_button = QPushButton("Have the demo client call me")
        self.demo_call_me_button.hide()

        self.calls_box = QVBoxLayout()
        self.calls_box.addStretch(1)
        # Matter searches run on a background thread: 60 ms a keystroke at 100,000 matters (bench/store_scale.py).
        self.prompt = MatterPrompt(self._search_matters, runner=BackgroundRunner.shared())
        self.today = TodayList(self.known_names)
        today_title = QLabel("Today")
        today_title.setObjectName("sectionTitle")

        top = QHBoxLayout()
        top.addWidget(self.reg_label, 1)
        top.addWidget(self.mwi_label)
        top.addWidget(self.demo_call_me_button)
        top.addWidget(self.account_button)
        dial = QHBoxLayout()
        dial.addWidget(self.dial_edit, 1)
        dial.addWidget(self.call_button)
        dial.addWidget(self.redial_button)
        middle = QHBoxLayout()
        calls_holder = QWidget()
        calls_holder.setLayout(self.calls_box)
        middle.addWidget(calls_holder, 1)
        middle.addWidget(self.prompt, 1)
        body = QVBoxLayout()
        body.addLayout(top)
        body.addWidget(self.store_banner)
        body.addLayout(dial)
        body.addWidget(self.dial_error)
        body.addWidget(self.welcome)
        body.addLayout(middle)
        body.addWidget(today_title)
        body.addWidget(self.today, 1)
        phone_page = QWidget()
        phone_page.setLayout(body)
        self.review = ReviewView()
        self.tabs = QTabWidget()
        self.tabs.addTab(scrollable(phone_page, follow=self.prompt), "Phone")  # scrolls to the prompt as it opens
        self.tabs.addTab(self.review, "Review")
        self.history = HistoryView()
        self.tabs.addTab(self.history, "History")
        self._history_stale = False  # a change arrived while another tab was shown
        self.setCentralWidget(scrollable(self.tabs))  # a narrow screen scrolls; nothing shown grows the window
        self.setStatusBar(QStatusBar())
        self.sync_status = SyncStatusLabel()
        self.statusBar().addPermanentWidget(self.sync_status)
        fit_to_screen(self, 760, 620)  # at 200 % a laptop screen may be 683x384

        # Ticks only while a call is live: an idle phone must not wake the CPU.
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._connect_signals()
        self.reg_label.setText("Starting…")
        self.setup_button.setEnabled(False)
        self.demo_button.setEnabled(False)

    def attach(self, phone: Phone, facades: Facades, capture: Capture) -> None:
        """Hand over the services once they are up (the window shows before).

        The window reads and writes the store only through ``facades``, on the
        database worker; it learns of changes through :meth:`on_change`."""
        self._phone = phone
        self._facades = facades
        self._capture = capture
        self.reg_label.setText("No account set up")
        self.setup_button.setEnabled(True)
        self.demo_button.setEnabled(True)
        self.refresh_welcome()
        self.refresh_today()
        self.review.attach(facades.review, facades.matters, self._runner)
        self.history.attach(facades.review, self._runner)
        if self._pending_dial and phone.ready:
            text, self._pending_dial = self._pending_dial, None
            self.dial(text)

    def _connect_signals(self) -> None:
        self.call_button.clicked.connect(self._on_call_button_clicked)
        self.dial_edit.returnPressed.connect(self._on_call_button_clicked)
        self.account_button.clicked.connect(self._on_account_button_clicked)
        self.setup_button.clicked.connect(self._on_account_button_clicked)
        self.demo_button.clicked.connect(self._on_demo_button_clicked)
        self.demo_call_me_button.clicked.connect(self._on_demo_call_me_button_clicked)
        self.prompt.matter_chosen.connect(self._on_prompt_matter_chosen)
        self._ticker.timeout.connect(self._on_ticker_timeout)
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        self.redial_button.clicked.connect(self._on_redial_button_clicked)
        QShortcut(QKeySequence("Ctrl+L"), self, self.dial_edit.setFocus)
        QShortcut(QKeySequence("Ctrl+R"), self, self._on_redial_button_clicked)

    # ------------------------------------------------------------------ public

    def refresh_welcome(self) -> None:
        configured = self._controller.account_configured or self._controller.demo_running
        self.welcome.setVisible(not configured)
        self.demo_call_me_button.setVisible(self._controller.demo_running)

    def refresh_today(self) -> None:
        if self._facades is None:
            return
        self._today_asked += 1
        generation = self._today_asked
        self._runner.submit(self._facades.calls.today, lambda rows: self._on_today_loaded(generation, rows))

    def _on_today_loaded(self, generation: int, rows: list[CallRow]) -> None:
        if generation != self._today_asked:
            return  # a newer read is on its way
        self.today.show_rows(rows)
        self.today_shown.emit()

    def dial(self, text: str) -> None:
        """Dial ``text`` now, or as soon as an account is ready; a link that can never be dialled is explained at once."""
        from softclock.dialing import parse_dial

        self.bring_up()
        if self._phone is None or not self._phone.ready:
            self.dial_edit.setText(text)
            try:
                parse_dial(text, "localhost")
            except DialError as exc:
                self.dial_error.setText(printable(str(exc)))
                return
            self._pending_dial = text
            self.dial_error.setText("The call will be placed as soon as the account is ready.")
            return
        self.dial_edit.setText(text)
        self._on_call_button_clicked()

    def remembered_headers(self) -> dict[str, QHeaderView]:
        """The column headers whose widths are kept across runs (softclock.ui.ui_state)."""
        return {
            "review": self.review.table.horizontalHeader(),
            "today": self.today.header(),
            "history": self.history.table.horizontalHeader(),
        }

    def show_bug(self, text: str) -> None:
        """Say once that a bug happened and where its report is (softclock.bugs)."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Something went wrong", text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("bugBox")
        box.setModal(False)
        box.show()
        self.bug_box = box

    def show_message(self, text: str, until_call: bool = False) -> None:
        """``text`` in the status bar for 10 s; ``until_call``: a hint that goes once a call starts."""
        self.statusBar().showMessage(text, 10000)
        self._hint = text if until_call else None

    def live_calls(self) -> list[int]:
        """Engine handles of calls not yet ended (ringing, being placed or up)."""
        return [handle for handle, view in self._views.items() if not view.ended]

    def bring_up(self) -> None:
        """On the screen, in front, on the Phone tab: answering or dialling must not happen out of sight."""
        self.tabs.setCurrentIndex(0)
        if self.isMinimized() or not self.isVisible():
            self.showNormal()
        self.raise_()
        self.activateWindow()

    def quit(self) -> None:
        """Quit the app (menu, Ctrl+Q, the tray): during a call, only once the person says so."""
        if self.live_calls() and not self._confirm_end_calls("Quit Softclock"):
            return
        self.quitting = True
        from PySide6.QtWidgets import QApplication

        QApplication.quit()

    def _confirm_end_calls(self, title: str) -> bool:
        count = len(self.live_calls())
        calls = "A call is" if count == 1 else f"{count} calls are"
        box = QMessageBox(
            QMessageBox.Icon.Question,
            title,
            f"{calls} in progress. Quitting hangs up; the time so far is kept.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setObjectName("confirmBox")
        box.button(QMessageBox.StandardButton.Yes).setText("Hang up and quit")
        box.button(QMessageBox.StandardButton.No).setText("Keep the call")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        self.confirm_box = box
        try:
            return box.exec() == QMessageBox.StandardButton.Yes
        finally:
            self.confirm_box = None
            box.deleteLater()

    def _action(self, menu: Any, text: str, keys: Any, slot: Callable[[], None]) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)  # the ringing window too
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _current(self, ringing: bool = False) -> _CallView | None:
        """The newest call that is up (or, with ``ringing``, the newest ringing incoming call)."""
        for view in reversed(list(self._views.values())):
            if view.ended:
                continue
            if ringing and view.incoming and not view.connected:
                return view
            if not ringing and (view.connected or not view.incoming):
                return view
        return None

    def _on_answer_action_triggered(self) -> None:
        view = self._current(ringing=True)
        if view is not None:
            self._on_answer_clicked(view.handle)

    def _on_hangup_action_triggered(self) -> None:
        view = self._current()
        if view is not None:
            self._on_call_hangup_clicked(view.handle)

    def _on_hold_action_triggered(self) -> None:
        view = self._current()
        if view is not None and view.connected:
            view.widget.hold_button.click()

    def _on_mute_action_triggered(self) -> None:
        view = self._current()
        if view is not None and view.connected:
            view.widget.mute_button.click()

    def _on_tabs_current_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.history and self._history_stale:
            self._history_stale = False
            self.history.refresh()

    def _on_about_action_triggered(self) -> None:
        from softclock import __version__

        text = (
            f"Softclock {__version__}\n\nA softphone that turns calls into time entries.\n"
            "Licence: GPL-2.0-or-later (it includes pjsua2, GPL-2.0-or-later).\n\n"
            f"Log file: {self.log_path or 'not written'}"
        )
        box = QMessageBox(QMessageBox.Icon.Information, "About Softclock", text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("aboutBox")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setModal(False)
        box.show()
        self.about_box = box

    def _update_tray(self) -> None:
        if self.tray is None:
            return
        live = [v for v in self._views.values() if v.connected and not v.ended]
        if live and self._capture is not None:
            view = live[-1]
            self.tray.set_state(
                "call", f"On a call with {view.who} · {fmt_duration(self._capture.talk_seconds(view.handle))}"
            )
            return
        state = str(self.reg_label.property("state") or "")
        self.tray.set_state(
            state if state in ("registered", "local") else "failed", f"Softclock: {self.reg_label.text()}"
        )

    # ------------------------------------------------------------------ events in

    def on_sip_event(self, event: ev.Event) -> None:
        """Every SIP event, on the main thread, after capture has recorded it."""
        if isinstance(event, ev.RegistrationChanged):
            self._show_registration(event)
        elif isinstance(event, ev.CallStarted):
            self._on_call_started(event)
        elif isinstance(event, ev.CallRinging):
            self._on_call_ringing(event)
        elif isinstance(event, ev.CallConnected):
            self._on_call_connected(event)
        elif isinstance(event, ev.CallEnded):
            self._on_call_ended(event)
        elif isinstance(event, ev.CallHoldChanged):
            view = self._views.get(event.handle)
            if view is not None and not view.ended:
                text = {
                    ev.HoldState.NONE: "Connected",
                    ev.HoldState.LOCAL: "On hold",
                    ev.HoldState.REMOTE: "Put on hold by the other side",
                }[event.hold]
                view.widget.set_hold(text, event.hold is ev.HoldState.LOCAL)
        elif isinstance(event, ev.CallMuteChanged):
            view = self._views.get(event.handle)
            if view is not None:
                view.widget.set_muted(event.muted)
        elif isinstance(event, ev.CallTransferProgress):
            view = self._views.get(event.handle)
            if view is not None and not view.ended:
                if event.code < 200:
                    view.widget.set_state(f"Transferring… ({event.code} {event.reason})")
                elif event.code < 300:
                    view.widget.set_state("Transferred")
                else:
                    view.widget.set_state(f"Transfer failed: {messages.call_failure(event.code, event.reason)}")
        elif isinstance(event, ev.RecordingChanged):
            view = self._views.get(event.handle)
            if view is not None:
                view.widget.set_recording(event.recording)
        elif isinstance(event, ev.DtmfReceived):
            self.show_message(f"The other side pressed {event.digit}")
        elif isinstance(event, ev.MessageWaiting):
            self.mwi_label.setVisible(event.waiting)
            self.mwi_label.setText(f"Voicemail: {event.new} new" if event.new else "Voicemail waiting")
        elif isinstance(event, ev.CallFailed):
            view = self._views.get(event.handle)
            self.dial_error.setText(printable(event.message))
            if view is not None:
                self._retire(view, event.message)

    def on_change(self, change: Change) -> None:
        """A change in the core (softclock.changes.ChangeBus), on the main thread."""
        if change.kind is ChangeKind.STORE_UNAVAILABLE:
            reason = change.reason.rstrip(".")
            if reason[:2].istitle():  # "Cannot write ..." reads as a clause here
                reason = reason[0].lower() + reason[1:]
            self.store_banner.setText(
                f"Calls are not being recorded in the store: {reason}. Softclock keeps them and "
                "writes them as soon as it can; do not quit until this message is gone."
            )
            self.store_banner.show()
            return
        if change.kind is ChangeKind.STORE_AVAILABLE:
            self.store_banner.hide()
            self.show_message("Every call kept while the store was unavailable is now recorded.")
        if change.kind in (ChangeKind.CALL_STARTED, ChangeKind.CALL_CONNECTED):
            if self._capture is None or not self._capture.unavailable:
                self.refresh_today()  # a call in progress is listed as such
            return
        if change.kind in (
            ChangeKind.CALL_ENDED,
            ChangeKind.ENTRY_CHANGED,
            ChangeKind.RECOVERED,
            ChangeKind.STORE_AVAILABLE,
        ):
            if self._capture is not None and self._capture.unavailable:
                return  # the lists would show a store that is missing what capture holds
            self.refresh_today()
            self.review.refresh()
            if self.tabs.currentWidget() is self.history:
                self.history.refresh()
            else:
                self._history_stale = True

    def _show_registration(self, event: ev.RegistrationChanged) -> None:
        self.reg_label.setText(printable(event.message))
        state = event.state.value
        self.reg_label.setProperty("state", state)
        self.reg_label.style().unpolish(self.reg_label)
        self.reg_label.style().polish(self.reg_label)
        self.refresh_welcome()
        self._update_tray()
        log.info("registration shown: %s", event.message)
        self.registration_shown.emit(event.message)
        if event.state in (ev.RegState.REGISTERED, ev.RegState.LOCAL) and self._pending_dial:
            text, self._pending_dial = self._pending_dial, None
            self.dial(text)

    def _who(self, uri: str, name: str) -> tuple[str, str | None, str]:
        from softclock.matching import number_from_uri, pretty

        number = number_from_uri(uri, self._controller.region)
        shown = pretty(number) if number else bare_address(uri)
        name = name or self.known_names.get(bare_address(uri), "")
        return printable(name or shown), number, printable(shown if name else "")  # the caller's text, inert

    def _add_view(self, handle: int, call_id: str, uri: str, name: str, incoming: bool) -> _CallView:
        who, number, detail = self._who(uri, name)
        widget = CallWidget(handle, call_id, who, detail)
        widget.hangup_clicked.connect(self._on_call_hangup_clicked)
        widget.answer_clicked.connect(self._on_answer_clicked)
        widget.decline_clicked.connect(self._on_decline_clicked)
        widget.change_matter_clicked.connect(self._on_change_matter_clicked)
        widget.hold_toggled.connect(self._on_call_hold_toggled)
        widget.mute_toggled.connect(self._on_call_mute_toggled)
        widget.dtmf_typed.connect(self._on_call_dtmf_typed)
        widget.transfer_requested.connect(self._on_call_transfer_requested)
        widget.record_toggled.connect(self._on_call_record_toggled)
        widget.record_button.setVisible(self._controller.recording_policy == "on_demand")
        self._clear_finished()
        if self._hint is not None and self.statusBar().currentMessage() == self._hint:
            self.statusBar().clearMessage()  # "Demo line ready: press Call" is wrong once a call is up
        self.calls_box.insertWidget(0, widget)
        view = _CallView(handle, call_id, widget, who, number, incoming)
        self._views[handle] = view
        self._by_call_id[call_id] = handle
        return view

    def _on_call_started(self, event: ev.CallStarted) -> None:
        view = self._views.get(event.handle)
        if view is None:
            view = self._add_view(event.handle, event.call_id, event.remote_uri, event.display_name, False)
        else:
            view.call_id = event.call_id
            view.widget.call_id = event.call_id
            self._by_call_id[event.call_id] = event.handle
        view.widget.set_state("Calling…")
        self._open_prompt(view)

    def _on_call_ringing(self, event: ev.CallRinging) -> None:
        if event.direction is ev.Direction.OUTGOING:
            view = self._views.get(event.handle)
            if view is not None:
                view.widget.set_state("Ringing…")
            return
        if self.dnd_action.isChecked():
            view = self._add_view(event.handle, event.call_id, event.remote_uri, event.display_name, True)
            view.widget.set_state("Declined: do not disturb")
            self.show_message(f"Declined a call from {view.who}: do not disturb is on.")
            if self._phone is not None:
                self._phone.decline(event.handle, busy=True)
            return
        # The ringing window first (built ahead: IncomingCallWindow.prepare), then the call's
        # panel here: building the panel took 10-50 ms the caller's window waited for.
        who, _number, detail = self._who(event.remote_uri, event.display_name)
        name = event.display_name or display_name(event.remote_uri)
        window = IncomingCallWindow.take(event.handle, name, detail or who, "")
        if not name:
            window.name_label.setText(who)
        window.answer_clicked.connect(self._on_answer_clicked)
        window.decline_clicked.connect(self._on_decline_clicked)
        self._incoming[event.handle] = window
        window.show()
        window.raise_()
        window.activateWindow()
        view = self._add_view(event.handle, event.call_id, event.remote_uri, event.display_name, True)
        view.widget.set_state("Incoming call")
        view.widget.set_ringing_in(True)
        log.info("ringing window shown for %s", event.call_id)
        self.ringing_shown.emit(event.call_id)
        self.incoming_ringing.emit(event.handle, view.who, view.widget.detail_label.text())
        if self._facades is not None and view.number:
            number, matters = view.number, self._facades.matters
            self._runner.submit(lambda: matters.suggestion(number), lambda row: self._show_likely(event.handle, row))

    def _show_likely(self, handle: int, suggestion: MatterRow | None) -> None:
        window = self._incoming.get(handle)
        if window is not None and suggestion is not None:
            window.hint_label.setText(printable(f"Likely: {suggestion.label}"))
            view = self._views.get(handle)
            if view is not None:
                detail = " · ".join(x for x in (view.widget.detail_label.text(), window.hint_label.text()) if x)
                self.incoming_ringing.emit(handle, view.who, detail)

    def _on_call_connected(self, event: ev.CallConnected) -> None:
        view = self._views.get(event.handle)
        if view is None:
            return
        view.connected = True
        self._close_incoming(event.handle)
        view.widget.set_connected()
        if view.incoming:
            self.bring_up()  # answered from the ringing window, a shortcut or auto-answer: the prompt in sight
        if view.incoming and (not self.prompt.isVisible() or self.prompt.call_id != _key(view)):
            self._open_prompt(view)
        self._refresh_matter_label(view)
        if not self._ticker.isActive():
            self._ticker.start()
        self._on_ticker_timeout()

    def _on_call_ended(self, event: ev.CallEnded) -> None:
        view = self._views.get(event.handle)
        if view is None:
            return
        self._close_incoming(event.handle)
        assert self._capture is not None
        call = self._capture.summary(event.handle)
        disposition = call.disposition if call else Disposition.ANSWERED
        text = _ENDED_TEXT.get(disposition, "Call ended")
        if (
            disposition in (Disposition.BUSY, Disposition.FAILED, Disposition.CANCELLED)
            and event.sip_status >= 300
            and not event.local_hangup
        ):
            text = messages.call_failure(event.sip_status, event.reason)
        if view.connected:
            talk = call.talk_seconds if call else 0.0
            view.widget.set_elapsed(talk)
            text = f"{text} · {fmt_duration(talk)}"
        self._retire(view, text)
        if not any(v.connected and not v.ended for v in self._views.values()):
            self._ticker.stop()
        self._update_tray()

    def _retire(self, view: _CallView, text: str) -> None:
        view.ended = True
        view.widget.set_ended(text)
        if self.prompt.isVisible() and self.prompt.call_id == _key(view) and not view.connected:
            self.prompt.close_prompt()

    def _clear_finished(self) -> None:
        for handle, view in list(self._views.items()):
            if view.ended and not (self.prompt.isVisible() and self.prompt.call_id == _key(view)):
                view.widget.deleteLater()
                del self._views[handle]
                self._by_call_id.pop(view.call_id, None)

    def _close_incoming(self, handle: int) -> None:
        window = self._incoming.pop(handle, None)
        if window is not None:
            self.incoming_over.emit(handle)
            window.close()
            window.deleteLater()

    # ------------------------------------------------------------------ matter

    def _search_matters(self, text: str) -> list[MatterRow]:
        """On the database worker (the prompt's runner)."""
        return self._facades.matters.search(text) if self._facades is not None else []

    def _open_prompt(self, view: _CallView) -> None:
        """The prompt at once; the suggestion for the caller's number arrives with its first results."""
        matters = self._facades.matters if self._facades is not None else None
        number = view.number
        self.prompt.open_for(_key(view), view.who, (lambda: matters.suggestion(number)) if matters else None)
        self._clear_finished()

    def _show_matter(self, view: _CallView, matter_id: int) -> None:
        """The call panel names the matter (read on the database worker)."""
        if self._facades is None:
            return
        matters = self._facades.matters
        self._runner.submit(
            lambda: matters.row(matter_id), lambda row: view.widget.set_matter(row.label if row else "?")
        )

    def _refresh_matter_label(self, view: _CallView) -> None:
        if self._capture is None:
            return
        matter_id = self._capture.matter_of(view.handle)
        if matter_id is not None:
            self._show_matter(view, matter_id)

    def _on_prompt_matter_chosen(self, key: str, matter_id: object) -> None:
        assert self._capture is not None
        capture, handle = self._capture, int(key)
        chosen = matter_id if isinstance(matter_id, int) else None
        # Capture lives on the database worker: the choice is written there, in order with the call's events.
        self._runner.submit(lambda: capture.assign_matter(handle, chosen), lambda _: None)
        view = self._views.get(handle)
        if view is None:
            return
        if chosen is None:
            view.widget.set_matter("decide later")
        else:
            self._show_matter(view, chosen)

    def _on_change_matter_clicked(self, handle: int) -> None:
        if handle in self._views:
            self._open_prompt(self._views[handle])

    # ------------------------------------------------------------------ user actions

    def _on_call_button_clicked(self) -> None:
        text = self.dial_edit.text()
        self.dial_error.setText("")
        if self._phone is None:
            self.dial(text)
            return
        try:
            handle, uri = self._phone.dial(text)
        except DialError as exc:
            self.dial_error.setText(str(exc))
            return
        self._add_view(handle, f"pending-{handle}", uri, "", False).widget.set_state("Dialling…")
        self.dial_edit.clear()
        from softclock.dialing import parse_dial

        note = parse_dial(text, self._phone.domain or "localhost").note
        if note:  # e.g. a tel: link's extension, to type once answered
            self.show_message(note)
        self.bring_up()

    def _on_redial_button_clicked(self) -> None:
        if self._phone is None or not self._phone.last_dialled:
            self.dial_error.setText("Nothing to redial yet.")
            return
        self.dial(self._phone.last_dialled)

    def _on_call_hold_toggled(self, handle: int, on: bool) -> None:
        if self._phone is not None:
            (self._phone.hold if on else self._phone.resume)(handle)

    def _on_call_mute_toggled(self, handle: int, on: bool) -> None:
        if self._phone is not None:
            self._phone.mute(handle, on)

    def _on_call_dtmf_typed(self, handle: int, digit: str) -> None:
        if self._phone is None:
            return
        try:
            self._phone.send_dtmf(handle, digit)
        except ValueError:
            self.show_message(f"{digit!r} is not a keypad key (0-9, *, #, A-D)")

    def _on_call_transfer_requested(self, handle: int, target: str) -> None:
        if self._phone is None:
            return
        view = self._views.get(handle)
        try:
            uri = self._phone.transfer(handle, target)
        except DialError as exc:
            if view is not None:
                view.widget.set_state(str(exc))
            return
        if view is not None:
            view.widget.set_state(f"Transferring to {bare_address(uri)}…")

    def _on_call_record_toggled(self, handle: int, on: bool) -> None:
        view = self._views.get(handle)
        if view is None:
            return
        if on:
            self._controller.record(handle, view.call_id)
        else:
            self._controller.stop_recording(handle)

    def _on_call_hangup_clicked(self, handle: int) -> None:
        if self._phone is not None:
            self._phone.hangup(handle)

    def _on_answer_clicked(self, handle: int) -> None:
        self._close_incoming(handle)
        self.bring_up()
        if self._phone is not None:
            self._phone.answer(handle)

    def _on_decline_clicked(self, handle: int) -> None:
        self._close_incoming(handle)
        if self._phone is not None:
            self._phone.decline(handle, busy=True)

    def _on_account_button_clicked(self) -> None:
        self._controller.open_account_setup(self)

    def _on_demo_button_clicked(self) -> None:
        self.demo_button.setEnabled(False)
        self.reg_label.setText("Starting the demo line…")
        self._controller.start_demo()

    def _on_demo_call_me_button_clicked(self) -> None:
        self._controller.demo_call_me()

    def _on_ticker_timeout(self) -> None:
        if self._capture is None:
            return
        for view in self._views.values():
            if view.connected and not view.ended:
                view.widget.set_elapsed(self._capture.talk_seconds(view.handle))
        self._update_tray()

    def closeEvent(self, event: QCloseEvent) -> None:
        """With a tray, closing hides the window (the phone keeps ringing); without one,
        closing during a call asks first, as Quit does."""
        if not self.quitting:
            if self.tray is not None and self.tray.visible:
                event.ignore()
                self.hide()
                return
            if self.live_calls() and not self._confirm_end_calls("Close Softclock"):
                event.ignore()
                return
        for window in self._incoming.values():
            window.close()
        super().closeEvent(event)
