"""Sound devices without pjsua2: PulseAudio (libpulse) and PortAudio streams, jitter
buffers, device lists and their watcher, and the tones (ringer, test sound).

The SIP layer's sound bridge (:mod:`softclock.sip.audio`) plugs a pjsua2 conference
port into :class:`softclock.sound.streams.DeviceStreams`; the UI lists devices and
rings through this package without loading pjsua2.
"""
