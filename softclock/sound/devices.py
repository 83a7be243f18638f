"""Sound devices: what can be chosen, under which stable identity, and hot-plug.

A device is remembered by its *identity*, never by an index (indexes change
whenever something is plugged in):

* Linux: the PulseAudio/PipeWire name (``alsa_output.usb-Jabra_...analog-stereo``),
  listed through ``pulsectl`` -- PortAudio there sees only ``pulse`` and
  ``default``. The bridge (:mod:`softclock.sound.pulse_io`) opens that name.
* Windows/macOS: ``"<host API>:<device name>"`` from sounddevice/PortAudio
  (``"Windows WASAPI:Headset (Jabra Evolve 65)"``); the same name under
  another host API is another device.

An empty identity means "the system default" and follows it when it changes.

Hot-plug (Linux): :class:`DeviceWatcher` subscribes to the server's sink and
source events on a thread of its own (measured on this machine with
``bench/devices_hotplug.py``: a null sink loaded with ``pactl`` appeared in the
list 2-4 ms later; polling every 2 s would take 1 s on average and wake the
process 30 times a minute while idle). Elsewhere PortAudio cannot re-scan while
a stream is open, so the watcher polls every 2 s and re-scans only when no
stream is open.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from softclock.states import DeviceKind  # one enum for the kinds, used everywhere

log = logging.getLogger("softclock.sip.devices")  # the name it had in softclock.sip (log filters, tests)

POLL_SECONDS = 2.0


@dataclass(frozen=True)
class AudioDevice:
    """One device as the settings and the Sound dialog see it."""

    id: str  # the stable identity stored in settings ("" never: that is "the default")
    label: str  # what a person reads
    kind: DeviceKind
    is_default: bool = False


@dataclass(frozen=True)
class DeviceList:
    playback: tuple[AudioDevice, ...] = ()
    capture: tuple[AudioDevice, ...] = ()
    source: str = ""  # "pulse", "portaudio" or "" (nothing could be listed)

    def find(self, kind: DeviceKind, device_id: str) -> AudioDevice | None:
        for dev in self.playback if kind is DeviceKind.PLAYBACK else self.capture:
            if dev.id == device_id:
                return dev
        return None


def _use_pulse() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import pulsectl  # noqa: F401
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------- listing


def _pulse_list(pulse: Any, include_monitors: bool = False) -> DeviceList:
    info = pulse.server_info()
    playback = tuple(
        AudioDevice(s.name, s.description or s.name, DeviceKind.PLAYBACK, s.name == info.default_sink_name)
        for s in pulse.sink_list()
    )
    capture = tuple(
        AudioDevice(s.name, s.description or s.name, DeviceKind.CAPTURE, s.name == info.default_source_name)
        for s in pulse.source_list()
        # A monitor records what a sink plays: not a microphone.
        if include_monitors or s.monitor_of_sink == 0xFFFFFFFF or s.name == info.default_source_name
    )
    return DeviceList(playback, capture, "pulse")


def _portaudio_list(refresh: bool = False) -> DeviceList:
    from softclock.sound import portaudio

    sd = portaudio.load()
    with portaudio.LOCK:
        if refresh and portaudio.streams_open() == 0:
            sd._terminate()
            sd._initialize()
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        try:
            default_out, default_in = sd.default.device
        except Exception:
            default_out = default_in = -1
    playback, capture = [], []
    for i, d in enumerate(devices):
        ident = portaudio_identity(apis[d["hostapi"]]["name"], d["name"])
        label = f"{d['name']} ({apis[d['hostapi']]['name']})"
        if d["max_output_channels"] > 0:
            playback.append(AudioDevice(ident, label, DeviceKind.PLAYBACK, i == default_out))
        if d["max_input_channels"] > 0:
            capture.append(AudioDevice(ident, label, DeviceKind.CAPTURE, i == default_in))
    return DeviceList(tuple(playback), tuple(capture), "portaudio")


def portaudio_identity(hostapi: str, name: str) -> str:
    return f"{hostapi}:{name}"


def list_devices(include_monitors: bool = False) -> DeviceList:
    """The devices now (blocking: a round trip to the sound server, ~ms; never on
    the UI thread's hot path). An empty list if no sound system answers."""
    try:
        if _use_pulse():
            import pulsectl

            with pulsectl.Pulse("softclock-devices", connect=True) as pulse:
                return _pulse_list(pulse, include_monitors)
        return _portaudio_list(refresh=True)
    except Exception as exc:
        log.warning("cannot list sound devices: %s", str(exc))
        return DeviceList()


# ---------------------------------------------------------------------- hot-plug


class DeviceWatcher:
    """Calls ``on_change(DeviceList)`` on its own thread whenever the devices change
    (and once at start). ``stop()`` ends the thread."""

    def __init__(self, on_change: Callable[[DeviceList], None], include_monitors: bool = False) -> None:
        self._on_change = on_change
        self._include_monitors = include_monitors
        self._stop = threading.Event()
        self._pulse: Any = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sound-devices", daemon=True)
        self.last: DeviceList = DeviceList()

    def start(self) -> DeviceWatcher:
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        with self._lock:
            if self._pulse is not None:
                self._pulse.event_listen_stop()  # thread-safe: wakes the listener
        self._thread.join(timeout)

    def _publish(self, devices: DeviceList) -> None:
        if devices == self.last:
            return
        self.last = devices
        try:
            self._on_change(devices)
        except Exception:
            log.exception("sound device listener failed")

    def _run(self) -> None:
        if _use_pulse():
            failures = 0
            while not self._stop.is_set():
                try:
                    self._run_pulse()
                    failures = 0
                except Exception as exc:
                    failures += 1
                    # No sound server (a headless session): retry ever more slowly, up to a minute, and
                    # say so once, not every 2 s for as long as the app runs.
                    wait = min(60.0, POLL_SECONDS * 2 ** min(failures - 1, 5))
                    (log.warning if failures == 1 else log.debug)(
                        "sound device events unavailable (%s); retrying in %.0f s", str(exc), wait
                    )
                    self._publish(DeviceList())
                    self._stop.wait(wait)
            return
        while not self._stop.is_set():
            from softclock.sound import portaudio

            if portaudio.streams_open() == 0:
                self._publish(list_devices())
            self._stop.wait(POLL_SECONDS)

    def _run_pulse(self) -> None:
        import pulsectl

        with pulsectl.Pulse("softclock-device-watch") as pulse:
            with self._lock:
                if self._stop.is_set():
                    return
                self._pulse = pulse
            try:
                changed = threading.Event()

                def on_event(event: Any) -> None:  # in event_listen: must not call pulse here
                    if event.t in ("new", "remove", "change"):
                        changed.set()
                        raise pulsectl.PulseLoopStop

                pulse.event_mask_set("sink", "source", "server")
                pulse.event_callback_set(on_event)
                self._publish(_pulse_list(pulse, self._include_monitors))
                while not self._stop.is_set():
                    changed.clear()
                    pulse.event_listen()  # until an event or event_listen_stop()
                    if changed.is_set():
                        self._publish(_pulse_list(pulse, self._include_monitors))
            finally:
                with self._lock:
                    self._pulse = None
