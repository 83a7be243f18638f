"""Call recording: a consent announcement first, then both directions into a WAV file.

Runs on the engine's command thread. ``announce`` is what the far end hears
before recording starts: ``"beep"`` (three short tones, the usual recording
notice), a WAV file, or ``""`` for nothing. A recorder's WAV is complete ~0.3 s
after the recorder is deleted (the bridge removes the port on its next tick).
"""

from __future__ import annotations

from collections.abc import Callable

import pjsua2 as pj

from softclock import events as ev
from softclock.sip.pjwrap import Announcement, Call
from softclock.sip.runtime import CallTable, Dispatcher, now

BEEP_S = 1.3  # three 200 ms tones with 200 ms gaps, and a little more


def call_audio(call: Call) -> pj.AudioMedia | None:
    """The call's active audio stream, if it has one."""
    info = call.getInfo()
    for index, media in enumerate(info.media):
        if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
            return call.getAudioMedia(index)
    return None


class Recording:
    """Records calls. ``microphone()`` gives what our side sends into the conference bridge."""

    def __init__(self, dispatcher: Dispatcher, calls: CallTable, microphone: Callable[[], pj.AudioMedia]) -> None:
        self._dispatcher = dispatcher
        self._calls = calls
        self._microphone = microphone

    def start(self, handle: int, path: str, announce: str) -> None:
        call = self._calls.live(handle)
        if call is None or call.recorder is not None or call.announcer is not None:
            return
        audio = call_audio(call)
        if audio is None:
            return
        if not announce:
            self._record(call, path)
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
            self._dispatcher.submit_later(BEEP_S, lambda: self._after_announcement(handle, path))
            return
        player = Announcement(lambda: self._dispatcher.submit(lambda: self._after_announcement(handle, path)))
        player.createPlayer(announce, pj.PJMEDIA_FILE_NO_LOOP)
        player.startTransmit(audio)
        call.announcer = player

    def _after_announcement(self, handle: int, path: str) -> None:
        call = self._calls.live(handle)
        if call is None:
            return
        call.announcer = None  # its wrapper goes; the bridge port with it
        self._record(call, path)

    def _record(self, call: Call, path: str) -> None:
        audio = call_audio(call)
        if audio is None:
            return
        recorder = pj.AudioMediaRecorder()
        recorder.createRecorder(path)
        audio.startTransmit(recorder)
        self._microphone().startTransmit(recorder)
        call.recorder = recorder
        call.recording_path = path
        mono, utc = now()
        self._dispatcher.emit_call(call, ev.RecordingChanged(mono, utc, call.sip_call_id, call.handle, True, path))

    def stop(self, handle: int) -> None:
        """The bridge clock runs: the WAV closes at once."""
        call = self._calls.live(handle)
        if call is None:
            return
        call.announcer = None
        if call.recorder is None:
            return
        call.recorder = None  # deleting the recorder closes the WAV (complete ~0.3 s later)
        mono, utc = now()
        self._dispatcher.emit_call(
            call, ev.RecordingChanged(mono, utc, call.sip_call_id, call.handle, False, call.recording_path)
        )

    def release(self, call: Call) -> bool:
        """A call is over: drop its announcer and recorder; True if a media port went with them."""
        released = call.recorder is not None or call.announcer is not None
        call.announcer = None
        if call.recorder is not None:
            call.recorder = None
            mono, utc = now()
            self._dispatcher.emit(
                ev.RecordingChanged(mono, utc, call.sip_call_id, call.handle, False, call.recording_path)
            )
        return released
