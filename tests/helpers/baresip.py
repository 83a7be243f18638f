"""A real baresip (1.0.0) SIP peer for tests, scripted through its ``ctrl_tcp`` socket.

Usage::

    with Baresip(tmp_path / "bob", kamailio, "bob", "bobpass") as bob:   # start(): registered
        ...                                   # alice calls bob@sip.test: auto-answered
        bob.wait_event("CALL_ESTABLISHED", timeout=5)
        bob.hold(); bob.resume(); bob.send_dtmf("42#"); bob.hangup()

What it runs (``baresip -f <workdir>/conf``), all on 127.0.0.1:

* one account ``sip:<user>@<domain>`` registered through the Kamailio (``outbound``
  = ``sip:127.0.0.1:<kamailio port>;transport=udp``, digest ``auth_pass``), UDP,
  ``sip_listen 127.0.0.1:<free port>``, ``net_interface 127.0.0.1`` (``lo`` fails);
  ``answermode=auto`` unless ``auto_answer=False`` (then use :meth:`answer`);
* codecs: G.711 (PCMU/PCMA) only; no sound card modules (no alsa/pulse/oss):
  - ``audio_source="sine"``: ``ausine`` 440 Hz (it only runs at 48 kHz stereo, baresip
    resamples to the codec);
  - ``audio_source="silence"``: ``aufile`` playing a generated all-zero 8 kHz mono WAV
    of ``silence_seconds`` (default 600 s);
  - ``audio_source=<path to a 16-bit PCM WAV>``: ``aufile`` (sample rate and channel
    count are taken from the file).
  Pitfall: baresip 1.0.0 *closes the call* when an ``aufile`` source reaches the end
  of its file (events AUDIO_ERROR ``0,end of file`` then CALL_CLOSED ``end of file``).
  Also: an audio source is required for RTP *and* for sending DTMF -- baresip sends
  telephone-events from the source's read callback.
* audio player: ``aubridge`` on a device name nobody else uses -- a no-op player (the
  bridge thread only runs when a source with the same device name exists).  If
  ``record_wav`` is given the ``sndfile`` filter is loaded as well; it dumps the decoded
  received audio (codec rate, 8 kHz mono for G.711) of every call to
  ``dump-<timestamp>-dec.wav`` in a scratch directory, and :meth:`stop` copies the
  newest one to ``record_wav`` (also available: :meth:`recordings`, :meth:`save_recording`).
* control: ``ctrl_tcp`` on ``127.0.0.1:<free port>``: netstring-framed JSON
  (``<len>:<json>,``).  Command ``{"command": name, "params": str, "token": str}`` ->
  response ``{"response": true, "ok": bool, "data": str, "token": str}``; events
  ``{"event": true, "class": ..., "type": "CALL_ESTABLISHED", "param": ...,
  "accountaor": ..., "direction": ..., "peeruri": ..., "id": <call id>}``.
  ctrl_tcp accepts a single client connection, and only sends events to a connected
  client (events before the connection are lost -- :meth:`start` therefore asks
  ``reginfo`` after connecting instead of relying on REGISTER_OK alone).

Commands (from ``/help`` in 1.0.0 with the ``menu`` module): ``accept``, ``answermode``,
``ausrc``, ``auplay``, ``callstat``, ``dial``, ``hangup``, ``help``, ``listcalls``,
``options``, ``reginfo``, ``uanew/uadel/uafind/uanext``, ``insmod/rmmod``, ``quit`` ...;
while a call exists also ``hold``, ``resume``, ``sndcode`` (DTMF), ``transfer`` (blind
REFER), ``mute``, ``reinvite``, ``line``, ``callfind``, ``audio_debug``.  Those in-call
commands do not exist outside a call ("command not found").
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers.kamailio import HOST, free_tcp_port, free_udp_tcp_port
from tests.helpers.procs import ChildProcess, dir_containing, find_binary, stop_group

BARESIP_BIN = "baresip"
_MODULE_DIRS = (
    "/usr/lib/baresip/modules",
    "/usr/lib/x86_64-linux-gnu/baresip/modules",
    "/usr/local/lib/baresip/modules",
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

EventMatch = str | Callable[[dict], bool]


class BaresipError(RuntimeError):
    """baresip failed to start, exited, or a command failed."""


def baresip_binary() -> str | None:
    """Path of the baresip executable, or None if it is not installed."""
    return find_binary(BARESIP_BIN, "/usr/bin/baresip", "/usr/local/bin/baresip")


def baresip_module_dir() -> str | None:
    return dir_containing(_MODULE_DIRS, "ctrl_tcp.so")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _netstring(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


class Baresip(ChildProcess):
    """One baresip process = one registered SIP user agent, controlled via ctrl_tcp."""

    def __init__(
        self,
        workdir: Path | str,
        kamailio: Any,
        user: str,
        password: str,
        *,
        auto_answer: bool = True,
        audio_source: str = "sine",
        record_wav: Path | str | None = None,
        sine_hz: int = 440,
        silence_seconds: int = 600,
        sip_trace: bool = False,
        display_name: str | None = None,
        mediaenc: str | None = None,
    ):
        self.mediaenc = mediaenc  # e.g. "srtp-mand": SDES-keyed SRTP required (loads srtp.so)
        self.workdir = Path(workdir)
        self.kamailio = kamailio
        self.user = user
        self.password = password
        self.auto_answer = auto_answer
        self.audio_source = str(audio_source)
        self.record_wav = Path(record_wav) if record_wav is not None else None
        self.sine_hz = int(sine_hz)
        self.silence_seconds = int(silence_seconds)
        self.sip_trace = sip_trace
        self.display_name = display_name

        self.conf_dir = self.workdir / "conf"
        self.log_path = self.workdir / "baresip.log"
        self.sip_port: int | None = None
        self.ctrl_port: int | None = None

        self.events_seen: list[dict] = []  # every event, in arrival order
        self._consumed: set[int] = set()  # indices handed out by wait_event
        self._responses: dict[str, dict] = {}
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._token = 0
        self._proc: subprocess.Popen | None = None
        self._logf = None
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._reader_error: BaseException | None = None
        self._snd_dir: str | None = None
        self._closed = False

    # -- properties ---------------------------------------------------
    @property
    def domain(self) -> str:
        return self.kamailio.domain

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"

    uri = aor

    # -- config ---------------------------------------------------------
    def _audio_config(self) -> tuple[list[str], list[str]]:
        """(config lines, modules) for the audio source."""
        src = self.audio_source
        if src == "sine":
            return (
                [f"audio_source\t\tausine,{self.sine_hz}", "ausrc_srate\t\t48000", "ausrc_channels\t\t2"],
                ["ausine.so"],
            )
        if src == "silence":
            path = self.workdir / "silence-8k.wav"
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                w.writeframes(bytes(2 * 8000 * self.silence_seconds))
            return ([f"audio_source\t\taufile,{path}", "ausrc_srate\t\t8000", "ausrc_channels\t\t1"], ["aufile.so"])
        path = Path(src)
        if not path.is_file():
            raise ValueError(f"audio_source must be 'sine', 'silence' or a WAV file: {src!r}")
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise ValueError(f"{path}: baresip's aufile needs 16-bit PCM")
            rate, ch = w.getframerate(), w.getnchannels()
        return (
            [f"audio_source\t\taufile,{path.resolve()}", f"ausrc_srate\t\t{rate}", f"ausrc_channels\t\t{ch}"],
            ["aufile.so"],
        )

    def _write_config(self) -> None:
        mdir = baresip_module_dir()
        if mdir is None:
            raise BaresipError("baresip modules directory (with ctrl_tcp.so) not found")
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        audio_lines, audio_mods = self._audio_config()
        null_dev = f"null{self.sip_port}"
        modules = ["g711.so", *audio_mods, "aubridge.so"]
        extra = []
        if self.record_wav is not None:
            if self._snd_dir is None:
                # sndfile builds "<snd_path>/dump-<time>-dec.wav" in a 128-byte buffer:
                # keep the directory short (pytest tmp paths can be too long)
                self._snd_dir = tempfile.mkdtemp(prefix="bsnd")
            modules.append("sndfile.so")
            extra.append(f"snd_path\t\t{self._snd_dir}")
        lines = [
            "# generated by tests/helpers/baresip.py",
            "poll_method\t\tepoll",
            f"sip_listen\t\t{HOST}:{self.sip_port}",
            f"net_interface\t\t{HOST}",
            "net_af\t\t\tipv4",
            "call_local_timeout\t120",
            "call_max_calls\t\t4",
            *audio_lines,
            f"audio_player\t\taubridge,{null_dev}",
            f"audio_alert\t\taubridge,{null_dev}",
            "audio_path\t\t/usr/share/baresip",
            "rtp_stats\t\tyes",
            f"module_path\t\t{mdir}",
            *[f"module\t\t\t{m}" for m in [*modules, *(["srtp.so"] if self.mediaenc else [])]],
            "module_app\t\taccount.so",
            "module_app\t\tmenu.so",
            "module_app\t\tctrl_tcp.so",
            f"ctrl_tcp_listen\t\t{HOST}:{self.ctrl_port}",
            "menu_bell\t\tno",
            *extra,
            "",
        ]
        (self.conf_dir / "config").write_text("\n".join(lines))
        kport = self.kamailio.port
        name = f'"{self.display_name}" ' if self.display_name else ""
        params = [
            f"auth_pass={self.password}",
            f'outbound="sip:{HOST}:{kport};transport=udp"',
            "regint=3600",
            "answermode=" + ("auto" if self.auto_answer else "manual"),
            *([f"mediaenc={self.mediaenc}"] if self.mediaenc else []),
        ]
        (self.conf_dir / "accounts").write_text(
            f"{name}<sip:{self.user}@{self.domain};transport=udp>;" + ";".join(params) + "\n"
        )
        (self.conf_dir / "contacts").write_text(
            "# generated by tests/helpers/baresip.py\n"
            + "".join(f'"{u}" <sip:{u}@{self.domain}>\n' for u in sorted(getattr(self.kamailio, "users", {}) or {}))
        )

    # -- lifecycle --------------------------------------------------------
    def start(self, timeout: float = 10.0) -> Baresip:
        """Start baresip and return once the account is registered."""
        if self.running:
            return self
        binary = baresip_binary()
        if binary is None:
            raise FileNotFoundError("baresip executable not found (apt: baresip)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._closed = False
        last_err = ""
        for _attempt in range(3):  # retry if someone grabbed a port meanwhile
            self.sip_port = free_udp_tcp_port()
            self.ctrl_port = free_tcp_port(avoid=(self.sip_port,))
            self._write_config()
            self._logf = open(self.log_path, "ab", buffering=0)
            self._logf.write(f"==== starting baresip {self.aor} sip={self.sip_port} ctrl={self.ctrl_port}\n".encode())
            cmd = [binary, "-f", str(self.conf_dir)]
            if self.sip_trace:
                cmd.append("-s")
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=self._logf,
                stderr=subprocess.STDOUT,
                cwd=str(self.workdir),
                start_new_session=True,
            )
            deadline = time.monotonic() + timeout
            try:
                self._connect(deadline)
                self._wait_registered(deadline)
                return self
            except BaresipError as exc:
                last_err = f"{exc}\nlog tail:\n{self.log_text()[-3000:]}"
                in_use = "Address already in use" in self.log_text()
                self._terminate()
                if not in_use:
                    break
        raise BaresipError(f"baresip {self.aor} did not start: {last_err}")

    def _connect(self, deadline: float) -> None:
        while True:
            if self._proc is None or self._proc.poll() is not None:
                raise BaresipError("baresip exited during start-up")
            try:
                sock = socket.create_connection((HOST, self.ctrl_port), timeout=0.2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BaresipError("ctrl_tcp port did not open") from None
                time.sleep(0.01)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._closed = False
        self._reader_error = None
        self._reader = threading.Thread(
            target=self._read_loop, args=(sock,), name=f"baresip-{self.user}-ctrl", daemon=True
        )
        self._reader.start()

    def _wait_registered(self, deadline: float) -> None:
        # Events are only delivered to a connected client: REGISTER_OK may have
        # happened before we connected.  Ask for the state now (the reply reflects
        # everything before it; anything later arrives as an event).
        resp = self.command("reginfo", timeout=max(0.5, deadline - time.monotonic()))
        if self._reginfo_ok(resp.get("data", "")):
            return
        ev = self.wait_event(
            lambda e: e.get("type") in ("REGISTER_OK", "REGISTER_FAIL"),
            timeout=max(0.1, deadline - time.monotonic()),
        )
        if ev["type"] != "REGISTER_OK":
            raise BaresipError(f"registration failed: {ev}")

    @staticmethod
    def _reginfo_ok(data: str) -> bool:
        # "> sip:bob@sip.test    OK  kamailio (...) Expires 3600s"
        return bool(re.search(r"\sOK\s", strip_ansi(data)))

    def stop(self, timeout: float = 5.0) -> None:
        """``quit`` via ctrl_tcp, then SIGTERM, then SIGKILL. Never leaves a process."""
        proc = self._proc
        if proc is not None and proc.poll() is None and self._sock is not None:
            try:
                self._send({"command": "quit", "token": "quit"})
            except OSError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self._terminate(timeout)
        if self.record_wav is not None:
            try:
                self.save_recording(self.record_wav)
            except FileNotFoundError:
                pass
        if self._snd_dir is not None:
            shutil.rmtree(self._snd_dir, ignore_errors=True)
            self._snd_dir = None

    def _terminate(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_group(proc, timeout)  # baresip un-registers on SIGTERM (a few hundred ms)
        self._closed = True
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        if self._reader is not None:
            self._reader.join(2)
            self._reader = None
        if self._logf is not None:
            self._logf.close()
            self._logf = None

    def __del__(self):  # last-resort cleanup
        try:
            if self._proc is not None:
                self._terminate(timeout=1.0)
        except Exception:
            pass

    # -- ctrl_tcp ---------------------------------------------------------
    def _send(self, obj: dict) -> None:
        sock = self._sock
        if sock is None:
            raise BaresipError("not connected to baresip")
        with self._send_lock:
            sock.sendall(_netstring(json.dumps(obj).encode()))

    def _read_loop(self, sock: socket.socket) -> None:
        buf = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while True:
                    colon = buf.find(b":")
                    if colon < 0:
                        break
                    n = int(buf[:colon])
                    end = colon + 1 + n
                    if len(buf) < end + 1:
                        break
                    payload, buf = buf[colon + 1 : end], buf[end + 1 :]
                    self._dispatch(json.loads(payload.decode("utf-8", "replace")))
        except (OSError, ValueError) as exc:
            if not self._closed:
                self._reader_error = exc
        finally:
            with self._cond:
                self._cond.notify_all()

    def _dispatch(self, msg: dict) -> None:
        with self._cond:
            if msg.get("response"):
                self._responses[str(msg.get("token", ""))] = msg
            elif msg.get("event"):
                msg["t"] = time.monotonic()
                self.events_seen.append(msg)
            self._cond.notify_all()

    def _check_alive(self) -> None:
        if self._reader is None or not self._reader.is_alive():
            detail = f" ({self._reader_error!r})" if self._reader_error else ""
            raise BaresipError(
                f"ctrl_tcp connection to baresip {self.aor} is closed{detail}; log tail:\n{self.log_text()[-2000:]}"
            )

    def command(self, name: str, params: str = "", *, timeout: float = 5.0, check: bool = False) -> dict:
        """Run a baresip command; returns ``{"response", "ok", "data", "token"}``.

        ``data`` is the command's text output (ANSI colour codes kept).  With
        ``check=True`` a response with ``ok == False`` raises :class:`BaresipError`.
        """
        with self._cond:
            self._token += 1
            token = f"t{self._token}"
        msg: dict[str, Any] = {"command": name, "token": token}
        if params:
            msg["params"] = params
        self._send(msg)
        deadline = time.monotonic() + timeout
        with self._cond:
            while token not in self._responses:
                self._check_alive()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"baresip: no response to {name!r} within {timeout}s")
                self._cond.wait(left)
            resp = self._responses.pop(token)
        if check and not resp.get("ok"):
            raise BaresipError(f"baresip command {name} {params!r} failed: {resp.get('data')!r}")
        return resp

    def wait_event(self, match: EventMatch, timeout: float = 5.0, *, consume: bool = True) -> dict:
        """The earliest not yet consumed event matching ``match``.

        ``match`` is an event type name (``"CALL_ESTABLISHED"``) or a predicate on the
        event dict.  Events that arrived before the call count too, so there is no race
        between triggering something and waiting for its event; each event is handed
        out once (unless ``consume=False``).  Raises ``TimeoutError``.
        """
        pred = (lambda e: e.get("type") == match) if isinstance(match, str) else match
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, ev in enumerate(self.events_seen):
                    if i not in self._consumed and pred(ev):
                        if consume:
                            self._consumed.add(i)
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    types = [e.get("type") for e in self.events_seen]
                    raise TimeoutError(
                        f"baresip {self.user}: no event matching {match!r} within {timeout}s; events so far: {types}"
                    )
                if self._reader is None or not self._reader.is_alive():
                    self._check_alive()
                self._cond.wait(left)

    def clear_events(self) -> None:
        """Mark every event seen so far as consumed (``events_seen`` keeps them)."""
        with self._cond:
            self._consumed.update(range(len(self.events_seen)))

    def event_types(self) -> list[str]:
        with self._cond:
            return [e.get("type", "") for e in self.events_seen]

    # -- convenience ------------------------------------------------------
    def dial(self, uri: str) -> dict:
        """Outgoing call (``dial``); wait for CALL_ESTABLISHED yourself."""
        return self.command("dial", uri, check=True)

    def answer(self) -> dict:
        """Answer the current incoming call (``accept``)."""
        return self.command("accept", check=True)

    def hangup(self) -> dict:
        return self.command("hangup", check=True)

    def hold(self) -> dict:
        """re-INVITE with ``a=sendonly`` (in-call command)."""
        return self.command("hold", check=True)

    def resume(self) -> dict:
        """re-INVITE with ``a=sendrecv`` (in-call command)."""
        return self.command("resume", check=True)

    def send_dtmf(self, digits: str) -> dict:
        """RFC 2833 telephone-events (``sndcode``; needs a running audio source)."""
        return self.command("sndcode", digits, check=True)

    def transfer(self, uri: str) -> dict:
        """Blind transfer of the current call: REFER with ``Refer-To: uri``."""
        return self.command("transfer", uri, check=True)

    def call_status(self) -> str:
        return strip_ansi(self.command("callstat").get("data", ""))

    def reginfo(self) -> str:
        return strip_ansi(self.command("reginfo").get("data", ""))

    # -- recordings (record_wav) ---------------------------------------------
    def recordings(self) -> list[Path]:
        """sndfile's ``*-dec.wav`` dumps (received audio), oldest first."""
        if self._snd_dir is None:
            return []
        files = sorted(Path(self._snd_dir).glob("dump-*-dec.wav"), key=lambda p: p.stat().st_mtime)
        return files

    def save_recording(self, dest: Path | str) -> Path:
        """Copy the newest received-audio dump to ``dest``.

        The dump is complete once its call is closed (sndfile closes the file when the
        call's audio stream is destroyed).
        """
        recs = self.recordings()
        if not recs:
            raise FileNotFoundError("no recording (record_wav not set, or no call had audio)")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(recs[-1], dest)
        return dest
