"""Echo return of a bridged call: how much of the far end's voice comes back to it.

    .venv/bin/python bench/echo_return.py [--seconds 8] [--coupling-db 0] [--json OUT]

A private PulseAudio (``tests/helpers/pulse.py``) where the "room" is a
``module-loopback`` from the speaker sink's monitor into the microphone feed
(``--coupling-db``: 0 is a speakerphone at full volume; a laptop is about
-10 to -20), 30 ms of acoustic delay. The far end (``tests/helpers/tone_peer.py``)
plays 440 Hz and records what it hears; at our end someone "talks" at the
same time (1 kHz into the microphone, so the path through a canceller is shown
to be live, not muted). Measured at the far end over the last half of the
call (after any canceller converged): the level of its own 440 Hz coming back,
against the level our speaker played, and the level of our 1 kHz.

Two runs:

1. the bridge on the plain speaker and microphone: no echo canceller (the
   bridge has none), echo return loss = the room's coupling;
2. the same room with PulseAudio's ``module-echo-cancel`` (WebRTC AEC) between
   the bridge and the devices: what a user gets with the README's set-up.

ERLE (the canceller's enhancement) is the difference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import private_pulse, write_json  # noqa: E402
from tests.helpers.echo import EchoRoom, measure_echo  # noqa: E402
from tests.helpers.pulse import MIC_SINK  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--coupling-db", type=float, default=0.0)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    results = {}
    with private_pulse("sc-echo-") as (base, pulse):
        room = EchoRoom(pulse, coupling_db=args.coupling_db)
        pulse.play_tone(MIC_SINK, 1000.0, amplitude=0.1)  # our talker (stopped with the daemon)
        results["plain"] = measure_echo(pulse, room.plain_devices(), base / "plain", args.seconds)
        print(f"no canceller:            {results['plain']}", flush=True)
        results["echo_cancel"] = measure_echo(pulse, room.load_echo_cancel(), base / "aec", args.seconds)
        print(f"PulseAudio echo-cancel:  {results['echo_cancel']}", flush=True)
        erle = results["echo_cancel"]["erl_db"] - results["plain"]["erl_db"]
        results["erle_db"] = round(erle, 1)
        print(
            f"echo return loss {results['plain']['erl_db']} dB without a canceller, "
            f"{results['echo_cancel']['erl_db']} dB with module-echo-cancel (ERLE {erle:.1f} dB)",
            flush=True,
        )
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
