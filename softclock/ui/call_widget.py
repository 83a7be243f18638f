"""One call on screen: who, state, live timer, matter, controls."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from softclock.formatting import fmt_duration
from softclock.textsafe import printable


def plain_label(text: str = "") -> QLabel:
    """A label for text from the network: plain text (a name like ``<img src=...>``
    is not HTML) with controls and bidi overrides shown as escapes."""
    label = QLabel(printable(text))
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class CallWidget(QFrame):
    """Shows one call.

    Signals:
        hangup_clicked(int): the engine handle.
        answer_clicked(int), decline_clicked(int)
        change_matter_clicked(int): the engine handle of the call.
    """

    hangup_clicked = Signal(int)
    answer_clicked = Signal(int)
    decline_clicked = Signal(int)
    change_matter_clicked = Signal(int)
    hold_toggled = Signal(int, bool)
    mute_toggled = Signal(int, bool)
    dtmf_typed = Signal(int, str)
    transfer_requested = Signal(int, str)
    record_toggled = Signal(int, bool)

    def __init__(self, handle: int, call_id: str, who: str, detail: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("callWidget")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.handle = handle
        self.call_id = call_id
        self.who_label = plain_label(who)
        self.who_label.setObjectName("callWho")
        self.detail_label = plain_label(detail)
        self.detail_label.setObjectName("callDetail")
        self.state_label = plain_label("")  # reason phrases of the far end end up here
        self.state_label.setObjectName("callState")
        self.timer_label = QLabel("0:00:00")
        self.timer_label.setObjectName("callTimer")
        self.timer_label.hide()
        self.matter_label = plain_label("Matter: not chosen yet")
        self.matter_button = QPushButton("Change matter…")
        self.answer_button = QPushButton("Answer")
        self.answer_button.setObjectName("answerButton")
        self.decline_button = QPushButton("Decline")
        self.hangup_button = QPushButton("Hang up")
        self.hangup_button.setObjectName("hangupButton")
        self.answer_button.hide()
        self.decline_button.hide()
        self.hold_button = QPushButton("Hold")
        self.hold_button.setCheckable(True)
        self.mute_button = QPushButton("Mute")
        self.mute_button.setCheckable(True)
        self.keypad_button = QPushButton("Keypad")
        self.keypad_button.setCheckable(True)
        self.transfer_button = QPushButton("Transfer…")
        self.transfer_button.setCheckable(True)
        self.record_button = QPushButton("Record")
        self.record_button.setCheckable(True)
        self.recording_label = QLabel("● Recording")
        self.recording_label.setObjectName("recordingLabel")
        self.recording_label.hide()
        self.keypad_edit = QLineEdit()
        self.keypad_edit.setPlaceholderText("Type digits: each is sent as DTMF")
        self.keypad_edit.hide()
        self.transfer_edit = QLineEdit()
        self.transfer_edit.setPlaceholderText("Transfer to: number or SIP address, Enter")
        self.transfer_edit.hide()
        self.controls = QWidget()
        controls = QHBoxLayout(self.controls)
        controls.setContentsMargins(0, 0, 0, 0)
        for button in (self.hold_button, self.mute_button, self.keypad_button, self.transfer_button):
            controls.addWidget(button)
        controls.addWidget(self.record_button)
        controls.addStretch(1)
        controls.addWidget(self.recording_label)
        self.controls.hide()

        top = QHBoxLayout()
        names = QVBoxLayout()
        names.addWidget(self.who_label)
        names.addWidget(self.detail_label)
        top.addLayout(names, 1)
        top.addWidget(self.timer_label)
        matter_row = QHBoxLayout()
        matter_row.addWidget(self.matter_label, 1)
        matter_row.addWidget(self.matter_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.state_label, 1)
        buttons.addWidget(self.answer_button)
        buttons.addWidget(self.decline_button)
        buttons.addWidget(self.hangup_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(matter_row)
        layout.addWidget(self.controls)
        layout.addWidget(self.keypad_edit)
        layout.addWidget(self.transfer_edit)
        layout.addLayout(buttons)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.hangup_button.clicked.connect(lambda: self.hangup_clicked.emit(self.handle))
        self.answer_button.clicked.connect(lambda: self.answer_clicked.emit(self.handle))
        self.decline_button.clicked.connect(lambda: self.decline_clicked.emit(self.handle))
        self.matter_button.clicked.connect(lambda: self.change_matter_clicked.emit(self.handle))
        self.hold_button.clicked.connect(lambda on: self.hold_toggled.emit(self.handle, on))
        self.mute_button.clicked.connect(lambda on: self.mute_toggled.emit(self.handle, on))
        self.record_button.clicked.connect(lambda on: self.record_toggled.emit(self.handle, on))
        self.keypad_button.toggled.connect(self._on_keypad_button_toggled)
        self.transfer_button.toggled.connect(self._on_transfer_button_toggled)
        self.keypad_edit.textEdited.connect(self._on_keypad_edit_text_edited)
        self.transfer_edit.returnPressed.connect(self._on_transfer_edit_return_pressed)

    def _on_keypad_button_toggled(self, on: bool) -> None:
        self.keypad_edit.setVisible(on)
        if on:
            self.keypad_edit.setFocus()

    def _on_transfer_button_toggled(self, on: bool) -> None:
        self.transfer_edit.setVisible(on)
        if on:
            self.transfer_edit.setFocus()

    def _on_keypad_edit_text_edited(self, text: str) -> None:
        if text:
            self.dtmf_typed.emit(self.handle, text[-1])

    def _on_transfer_edit_return_pressed(self) -> None:
        target = self.transfer_edit.text().strip()
        if target:
            self.transfer_requested.emit(self.handle, target)

    def set_hold(self, text: str, local: bool) -> None:
        self.hold_button.setChecked(local)
        self.hold_button.setText("Resume" if local else "Hold")
        self.set_state(text)

    def set_recording(self, recording: bool) -> None:
        self.recording_label.setVisible(recording)
        self.record_button.setChecked(recording)
        self.record_button.setText("Stop recording" if recording else "Record")

    def set_muted(self, muted: bool) -> None:
        self.mute_button.setChecked(muted)
        self.mute_button.setText("Unmute" if muted else "Mute")

    def set_state(self, text: str) -> None:
        self.state_label.setText(printable(text))

    def set_ringing_in(self, ringing: bool) -> None:
        """A ringing call offers Answer and Decline; Hang up is for a call that is up or being placed."""
        self.answer_button.setVisible(ringing)
        self.decline_button.setVisible(ringing)
        self.hangup_button.setVisible(not ringing)

    def set_connected(self) -> None:
        self.set_ringing_in(False)
        self.controls.show()
        self.timer_label.show()
        self.set_state("Connected")

    def set_elapsed(self, seconds: float) -> None:
        self.timer_label.setText(fmt_duration(seconds))

    def set_matter(self, text: str) -> None:
        self.matter_label.setText(f"Matter: {printable(text)}")

    def set_ended(self, text: str) -> None:
        self.set_ringing_in(False)
        self.controls.hide()
        self.keypad_edit.hide()
        self.transfer_edit.hide()
        self.hangup_button.hide()
        self.matter_button.setText("Change matter…")
        self.set_state(text)
