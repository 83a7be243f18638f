"""The Sound dialog: device lists by identity, hot-plug into an open dialog, the test
sound on the chosen device (measured at its monitor), and saving the choice."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from softclock import events as ev
from softclock.settings import AudioSettings, Settings, load
from softclock.sound.devices import AudioDevice, DeviceKind, DeviceList
from softclock.sound.tones import TEST_HZ
from softclock.ui.sound_dialog import DEFAULT_LABEL, SoundController, SoundDialog
from tests.helpers.pulse import pulse  # noqa: F401
from tests.helpers.tone_calls import analyse

HEADSET = "softclock_headset"


def _devices(*playback: str) -> DeviceList:
    return DeviceList(
        tuple(AudioDevice(n, n.title(), DeviceKind.PLAYBACK, i == 0) for i, n in enumerate(playback)),
        (AudioDevice("mic_1", "Desk mic", DeviceKind.CAPTURE, True),),
        "pulse",
    )


def test_dialog_keeps_a_remembered_device_that_is_unplugged(qtbot) -> None:  # type: ignore[no-untyped-def]
    remembered = AudioSettings(microphone="", speaker="usb_headset", ringer="desk_speaker")
    dialog = SoundDialog(remembered, _devices("desk_speaker"))
    qtbot.addWidget(dialog)
    assert dialog.mic_box.currentText() == DEFAULT_LABEL
    assert dialog.speaker_box.currentText() == "usb_headset (not connected)"
    assert dialog.ringer_box.currentData() == "desk_speaker"
    # Plugged in while the dialog is open: listed under its own name, still chosen.
    dialog.set_devices(_devices("desk_speaker", "usb_headset"))
    assert dialog.speaker_box.currentText() == "Usb_Headset"
    assert dialog.audio() == remembered
    with qtbot.waitSignal(dialog.test_requested) as blocker:
        dialog.speaker_test_button.click()
    assert blocker.args == ["usb_headset"]


@dataclass
class _Engine:
    moves: list[tuple[str | None, str | None]] = field(default_factory=list)

    def set_sound_devices(self, playback: str | None = None, capture: str | None = None) -> None:
        self.moves.append((playback, capture))


@dataclass
class _Core:
    settings_path: Path
    settings: Settings = field(default_factory=Settings)
    engine: _Engine = field(default_factory=_Engine)


def test_test_sound_plays_on_the_chosen_device_and_the_choice_is_saved(pulse, qtbot, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    pulse.apply_env(monkeypatch)
    pulse.add_sink(HEADSET, "USB headset")
    core = _Core(tmp_path / "settings.toml")
    listed = threading.Event()
    jobs: list = []

    def run_on_main(job) -> None:  # type: ignore[no-untyped-def]  # the event bridge, as the test thread
        jobs.append(job)
        listed.set()

    sound = SoundController(core, run_on_main)
    try:
        assert listed.wait(5)
        while jobs:
            jobs.pop(0)()
        assert sound.devices.find(DeviceKind.PLAYBACK, HEADSET) is not None
        dialog = SoundDialog(core.settings.audio, sound.devices)
        qtbot.addWidget(dialog)
        dialog.test_requested.connect(sound._on_dialog_test_requested)
        sound._dialog = dialog
        dialog.speaker_box.setCurrentIndex(dialog.speaker_box.findData(HEADSET))
        rec = pulse.record(HEADSET + ".monitor", tmp_path / "headset.wav")
        done = threading.Event()
        sound.ringer._on_state = lambda state, detail: done.set() if state == "test-done" else None
        t0 = time.monotonic()
        dialog.speaker_test_button.click()
        click_ms = (time.monotonic() - t0) * 1000
        assert done.wait(10)
        rec.stop()
        sound.apply(dialog.audio())
    finally:
        sound.close()
    heard = analyse(tmp_path / "headset.wav", "headset")
    info = f"heard={heard} click={click_ms:.2f} ms"
    print(info)
    assert click_ms < 20.0, info  # the UI thread only queued the job
    assert abs(heard["freq"] - TEST_HZ) <= 5.0 and heard["level_dbfs"] > -30.0, info
    assert heard["active_s"] >= 1.2, info  # the 1.5 s test sound, played out
    assert load(core.settings_path).audio.speaker == HEADSET
    assert core.engine.moves == [(HEADSET, None)]


def test_a_device_move_is_said_in_the_open_dialog(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    core = _Core(tmp_path / "settings.toml")
    sound = SoundController(core, lambda job: None)
    try:
        dialog = SoundDialog(core.settings.audio, DeviceList())
        qtbot.addWidget(dialog)
        sound._dialog = dialog
        sound.handle(
            ev.SoundDeviceChanged(
                0.0,
                None,
                "playback",
                "speaker",
                "usb_headset is gone; the call "  # type: ignore[arg-type]
                "continues on speaker",
            )
        )
        assert "usb_headset is gone" in dialog.status_label.text()
    finally:
        sound.close()


def test_the_desktop_app_rings_incoming_calls_on_the_ringer(pulse, qtbot, kamailio, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The whole path: SIP INVITE -> engine -> event bridge -> the app's sound controller
    -> the ringer device, with a real sound server and the app's own settings."""
    from softclock import secrets
    from softclock.settings import AccountSettings, save
    from softclock.sound.tones import RING_HZ
    from softclock.ui.application import DesktopApp
    from tests.helpers import sipp

    pulse.apply_env(monkeypatch)
    ringer_sink = "softclock_ringer"
    pulse.add_sink(ringer_sink, "Desk ringer")
    settings = Settings()
    settings.sip.bind_address = "127.0.0.1"
    settings.sip.null_audio = False
    settings.audio.ringer = ringer_sink
    settings.account = AccountSettings(server=f"{kamailio.host}:{kamailio.port}", user="alice", domain=kamailio.domain)
    path = tmp_path / "settings.toml"
    save(settings, path)
    secrets.set_sip_password(settings.account.address, "alicepass")
    app = DesktopApp(path, tmp_path / "data", listen=False)
    qtbot.addWidget(app.window, before_close_func=lambda w: setattr(w, "quitting", True))  # no question at teardown
    try:
        assert app.sound is not None and app.window.sound_action.text() == "&Sound…"
        qtbot.waitUntil(lambda: app.window.reg_label.text().startswith("Registered as"), timeout=10000)
        rec = pulse.record(ringer_sink + ".monitor", tmp_path / "ringer.wav")
        with sipp.uac(kamailio, "alice", cancel_after_ms=3000) as far:
            with qtbot.waitSignal(
                app.bridge.event_arrived, timeout=10000, check_params_cb=lambda e: isinstance(e, ev.CallEnded)
            ):
                pass
            assert far.wait(10) == 0
        qtbot.waitUntil(lambda: not app.sound.ringer.ringing, timeout=2000)
        rec.stop()
    finally:
        app.shutdown()
    rang = analyse(tmp_path / "ringer.wav", "ringer")
    assert abs(rang["freq"] - RING_HZ) <= 5.0 and rang["level_dbfs"] > -30.0, rang
    assert rang["active_s"] >= 1.0, rang
