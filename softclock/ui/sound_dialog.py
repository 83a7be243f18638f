"""Sound settings: microphone, speaker and ringer, a test sound, and the ringer's wiring.

:class:`SoundController` is what the application owns: the :class:`Ringer`
(rings incoming calls on the ringer device), the :class:`DeviceWatcher` (the
device list, kept current by hot-plug events on its own thread) and the
Sound dialog. Nothing here opens a device on the UI thread: the list comes
from the watcher's thread, tones play on the ringer's thread, and a device
change goes to the SIP engine's command thread; results come back through
the event bridge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from softclock import events as ev
from softclock.settings import AudioSettings, save
from softclock.sound.devices import AudioDevice, DeviceList, DeviceWatcher
from softclock.sound.tones import Ringer

log = logging.getLogger("softclock.ui.sound")

DEFAULT_LABEL = "System default"


class SoundDialog(QDialog):
    """Choose the microphone, speaker and ringer; play a test sound on one.

    Signals:
        test_requested(str): play the test sound on this device identity ("" = default).
    """

    test_requested = Signal(str)

    def __init__(self, audio: AudioSettings, devices: DeviceList, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sound")
        self.mic_box = QComboBox()
        self.speaker_box = QComboBox()
        self.ringer_box = QComboBox()
        self.speaker_test_button = QPushButton("Test")
        self.ringer_test_button = QPushButton("Test")
        self.status_label = QLabel("")
        self.status_label.setObjectName("hint")
        self.status_label.setWordWrap(True)
        self._chosen = {"mic": audio.microphone, "speaker": audio.speaker, "ringer": audio.ringer}
        self.set_devices(devices)

        form = QFormLayout()
        form.addRow("Microphone", self.mic_box)
        form.addRow("Speaker", self._with(self.speaker_box, self.speaker_test_button))
        form.addRow("Ringer", self._with(self.ringer_box, self.ringer_test_button))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status_label)
        layout.addWidget(buttons)
        self._connect_signals()

    @staticmethod
    def _with(box: QComboBox, button: QPushButton) -> QWidget:
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(box, 1)
        row.addWidget(button)
        return holder

    def _connect_signals(self) -> None:
        self.speaker_test_button.clicked.connect(self._on_speaker_test_button_clicked)
        self.ringer_test_button.clicked.connect(self._on_ringer_test_button_clicked)

    # -- in ------------------------------------------------------------------------------

    def set_devices(self, devices: DeviceList) -> None:
        """Refill the lists (hot-plug), keeping each current choice selected."""
        for key, box, items in (
            ("mic", self.mic_box, devices.capture),
            ("speaker", self.speaker_box, devices.playback),
            ("ringer", self.ringer_box, devices.playback),
        ):
            if box.count():
                self._chosen[key] = box.currentData() or ""
            self._fill(box, items, self._chosen[key], devices.source != "")

    @staticmethod
    def _fill(box: QComboBox, items: tuple[AudioDevice, ...], chosen: str, listed: bool) -> None:
        box.blockSignals(True)
        box.clear()
        box.addItem(DEFAULT_LABEL, "")
        for dev in items:
            box.addItem(dev.label + (" (default)" if dev.is_default else ""), dev.id)
        if chosen and box.findData(chosen) < 0:
            # Remembered but not plugged in now: kept, and used again when it is back.
            box.addItem(f"{chosen} ({'not connected' if listed else 'unknown'})", chosen)
        box.setCurrentIndex(max(0, box.findData(chosen)))
        box.blockSignals(False)

    def show_status(self, text: str) -> None:
        self.status_label.setText(text)

    # -- out -----------------------------------------------------------------------------

    def audio(self) -> AudioSettings:
        return AudioSettings(
            microphone=self.mic_box.currentData() or "",
            speaker=self.speaker_box.currentData() or "",
            ringer=self.ringer_box.currentData() or "",
        )

    def _on_speaker_test_button_clicked(self) -> None:
        self.show_status(f"Playing a test sound on {self.speaker_box.currentText()}…")
        self.test_requested.emit(self.speaker_box.currentData() or "")

    def _on_ringer_test_button_clicked(self) -> None:
        device = self.ringer_box.currentData() or self.speaker_box.currentData() or ""
        self.show_status(f"Playing a test sound on {self.ringer_box.currentText()}…")
        self.test_requested.emit(device)


class SoundController:
    """Owns the ringer and the device watcher; opens the Sound dialog.

    ``run_on_main(job)`` hands work to the UI thread (the event bridge);
    ``core`` is the application's core (settings, settings path, engine).
    """

    def __init__(self, core: Any, run_on_main: Callable[[Callable[[], None]], None]) -> None:
        self._core = core
        self._run_on_main = run_on_main
        self._dialog: SoundDialog | None = None
        self.devices = DeviceList()
        self.ringer = Ringer(self._tone_devices, self._on_ringer_state)
        self.watcher = DeviceWatcher(lambda devices: run_on_main(lambda: self._on_devices_changed(devices))).start()

    def _tone_devices(self) -> tuple[str, str]:  # the ringer's thread: the settings as they are now
        audio = self._core.settings.audio
        return audio.ringer, audio.speaker

    def handle(self, event: ev.Event) -> None:
        """Every SIP event (UI thread): rings and stops ringing; reports device moves."""
        self.ringer.handle(event)
        if isinstance(event, ev.SoundDeviceChanged):
            text = event.error or f"Sound {'output' if event.kind == 'playback' else 'input'} now on {event.device}"
            log.info("%s", text)
            if self._dialog is not None:
                self._dialog.show_status(text)

    def open_dialog(self, parent: QWidget) -> None:
        dialog = SoundDialog(self._core.settings.audio, self.devices, parent)
        dialog.test_requested.connect(self._on_dialog_test_requested)
        self._dialog = dialog
        try:
            if dialog.exec() == QDialog.DialogCode.Accepted:
                self.apply(dialog.audio())
        finally:
            self._dialog = None

    def apply(self, audio: AudioSettings) -> None:
        """Save the choice and move a call in progress to it (on the engine's thread)."""
        settings = self._core.settings
        old, settings.audio = settings.audio, audio
        save(settings, self._core.settings_path)
        self._core.engine.set_sound_devices(
            playback=audio.speaker if audio.speaker != old.speaker else None,
            capture=audio.microphone if audio.microphone != old.microphone else None,
        )

    def close(self) -> None:
        self.watcher.stop()
        self.ringer.close()

    def _on_dialog_test_requested(self, device: str) -> None:
        self.ringer.play_test(device)

    def _on_devices_changed(self, devices: DeviceList) -> None:  # UI thread
        self.devices = devices
        if self._dialog is not None:
            self._dialog.set_devices(devices)

    def _on_ringer_state(self, state: str, detail: str) -> None:  # the ringer's thread
        if state == "test-done":
            self._run_on_main(
                lambda: self._dialog.show_status(detail or "Test sound played.") if self._dialog is not None else None
            )
