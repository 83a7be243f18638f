"""[audio]: microphone, speaker and ringer remembered by device identity."""

from __future__ import annotations

from pathlib import Path

from softclock.settings import Settings, load, save


def test_audio_devices_round_trip_by_identity(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    settings = Settings()
    settings.audio.microphone = "alsa_input.usb-Jabra_Evolve_65-00.mono-fallback"
    settings.audio.speaker = "alsa_output.usb-Jabra_Evolve_65-00.analog-stereo"
    settings.audio.ringer = "Windows WASAPI:Speakers (Realtek(R) Audio)"
    save(settings, path)
    assert "[audio]" in path.read_text()
    again = load(path).audio
    assert (again.microphone, again.speaker, again.ringer) == (
        settings.audio.microphone,
        settings.audio.speaker,
        settings.audio.ringer,
    )


def test_defaults_are_the_system_devices() -> None:
    audio = Settings().audio
    assert (audio.microphone, audio.speaker, audio.ringer) == ("", "", "")


def test_device_keys_of_earlier_versions_move_to_audio(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[sip]\nplayback_device = "headset_sink"\ncapture_device = "headset_source"\n')
    audio = load(path).audio
    assert (audio.speaker, audio.microphone) == ("headset_sink", "headset_source")
