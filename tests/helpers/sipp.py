"""Run sipp (sip-tester) as a far end against a :class:`tests.helpers.kamailio.Kamailio`.

All scenarios live in ``tests/helpers/sipp_scenarios`` and respect Record-Route
(``rrs="true"`` + ``[next_url]``/``[routes]``).  Every helper returns a
:class:`SippProcess`-like object with ``wait(timeout) -> int`` (sipp's exit
code: 0 = the call succeeded, 1 = it failed, 97/99/255/254 = see ``man sipp``;
-15 if ``stop()`` had to terminate it), ``stop()``, ``log_text()`` and context-manager support (``__exit__`` stops it).

Each sipp run writes its logs into its own directory ``/tmp/sipp-<name>-*`` (left
in place for post-mortems; ``SippProcess.logdir``): error log (``-trace_err``), message log with timestamps
(``-trace_msg``), ``<log>`` action log (``-trace_logs``) and stdout/stderr.

Public API::

    register(kamailio, user, password, local_port=None, expires=3600, timeout_s=30) -> SippProcess
    unregister(kamailio, user, password, local_port, timeout_s=30) -> SippProcess
    uas(kamailio, user, password, talk_ms=3000, ring_ms=0, hangup="local",
        timeout_s=60, unregister_at_end=True) -> SippUas
    uac(kamailio, target_user, talk_ms=2000, cancel_after_ms=None,
        from_user="caller", from_domain="external.test", display_name="Pat Caller",
        expect_decline=False, timeout_s=60) -> SippProcess
    sipp_binary() -> str | None
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tests.helpers.kamailio import HOST, free_udp_port
from tests.helpers.procs import stop_group

if TYPE_CHECKING:  # pragma: no cover
    from tests.helpers.kamailio import Kamailio

SCENARIO_DIR = Path(__file__).resolve().parent / "sipp_scenarios"


def sipp_binary() -> str | None:
    """Path of the sipp executable, or None if sipp (Debian: sip-tester) is missing."""
    return shutil.which("sipp")


def scenario(name: str) -> Path:
    path = SCENARIO_DIR / f"{name}.xml"
    if not path.exists():
        raise FileNotFoundError(path)
    return path


def scenario_globals(path: Path) -> set[str]:
    """Names declared in the scenario's ``<Global variables="..."/>``.

    sipp aborts if a declared global is never referenced, so scenarios declare only
    what they use and we pass (``-set``) only those."""
    m = re.search(r'<Global\s+variables="([^"]*)"', path.read_text())
    return {v.strip() for v in m.group(1).split(",") if v.strip()} if m else set()


def _free_media_port() -> int:
    """A free UDP port p with p+2 also free (sipp binds audio p and video p+2)."""
    for _ in range(50):
        p = free_udp_port()
        if p + 2 > 65535:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((HOST, p + 2))
            return p
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free media port pair")


def _udp_port_in_use(port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((HOST, port))
        return False
    except OSError:
        return True
    finally:
        s.close()


class SippProcess:
    """One sipp run (``-m 1``) as a subprocess, with its logs in a temp dir."""

    def __init__(
        self,
        name: str,
        scenario_name: str,
        remote: str | None,
        *,
        service: str,
        local_port: int | None = None,
        variables: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout_s: float = 60,
        extra_args: list[str] | None = None,
        start: bool = True,
    ):
        binary = sipp_binary()
        if binary is None:
            raise FileNotFoundError("sipp executable not found (apt install sip-tester)")
        self.name = name
        self.local_port = local_port if local_port is not None else free_udp_port()
        self.media_port = _free_media_port()
        self.logdir = Path(tempfile.mkdtemp(prefix=f"sipp-{name}-"))
        self.error_log = self.logdir / "errors.log"
        self.message_log = self.logdir / "messages.log"
        self.action_log = self.logdir / "actions.log"
        self.stdout_log = self.logdir / "stdout.log"
        cmd = [
            binary,
            "-sf",
            str(scenario(scenario_name)),
            "-i",
            HOST,
            "-p",
            str(self.local_port),
            "-mp",
            str(self.media_port),
            "-t",
            "u1",
            "-m",
            "1",
            "-l",
            "1",
            "-s",
            service,
            "-nostdin",
            "-timeout",
            f"{int(max(1, timeout_s))}s",
            "-timeout_error",
            "-max_recv_loops",
            "100",
            "-trace_err",
            "-error_file",
            str(self.error_log),
            "-trace_msg",
            "-message_file",
            str(self.message_log),
            "-trace_logs",
            "-log_file",
            str(self.action_log),
        ]
        if auth is not None:
            cmd += ["-au", auth[0], "-ap", auth[1]]
        declared = scenario_globals(scenario(scenario_name))
        for k, v in (variables or {}).items():
            if k in declared:
                cmd += ["-set", k, str(v)]
        cmd += list(extra_args or [])
        if remote:
            cmd.append(remote)
        self.cmd = cmd
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None
        self.stopped = False  # True if stop() had to end a running sipp
        self._out = None
        if start:
            self.start()

    # -- lifecycle ----------------------------------------------------
    def start(self) -> SippProcess:
        self._out = open(self.stdout_log, "wb")
        self.proc = subprocess.Popen(
            self.cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            cwd=str(self.logdir),
            start_new_session=True,
        )
        return self

    def wait_listening(self, timeout: float = 5.0) -> None:
        """Block until sipp has bound its SIP port (or exited)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"sipp {self.name} exited early:\n{self.log_text()}")
            if _udp_port_in_use(self.local_port):
                return
            time.sleep(0.005)
        raise TimeoutError(f"sipp {self.name} did not bind port {self.local_port}")

    def poll(self) -> int | None:
        if self.proc is None or self.returncode is not None:
            return self.returncode
        rc = self.proc.poll()
        if rc is not None:
            self._finished(rc)
        return self.returncode

    def _finished(self, rc: int) -> None:
        self.returncode = rc
        if self._out is not None:
            self._out.close()
            self._out = None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for sipp to exit and return its exit code.

        On timeout sipp is killed and ``TimeoutError`` is raised (with the logs).
        """
        if self.proc is None:
            raise RuntimeError("sipp not started")
        if self.returncode is not None:
            return self.returncode
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise TimeoutError(f"sipp {self.name} still running after {timeout}s; killed.\n{self.log_text()}") from None
        self._finished(rc)
        return rc

    def stop(self) -> None:
        """Terminate sipp if still running (SIGTERM, then SIGKILL)."""
        proc = self.proc
        if proc is None:
            return
        if stop_group(proc, 2):
            self.stopped = True
        # sipp exits 0 on SIGTERM: report a stopped run as killed by the signal
        self._finished(-signal.SIGTERM if self.stopped and proc.returncode == 0 else proc.returncode)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- logs ---------------------------------------------------------
    @staticmethod
    def _read(path: Path) -> str:
        try:
            return path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_text(self) -> str:
        """Command line, exit code, error log, <log> actions, message log and stdout."""
        parts = [f"### sipp {self.name}: {' '.join(self.cmd)}", f"### exit code: {self.poll()}"]
        for title, path in (
            ("errors", self.error_log),
            ("actions", self.action_log),
            ("messages", self.message_log),
            ("stdout", self.stdout_log),
        ):
            text = self._read(path)
            if text.strip():
                parts.append(f"### {title} ({path})\n{text}")
        return "\n".join(parts)

    def messages_text(self) -> str:
        return self._read(self.message_log)

    def events(self) -> dict[str, float]:
        """``<log>`` events of the scenario: name -> wall-clock time (first occurrence)."""
        out: dict[str, float] = {}
        for line in self._read(self.action_log).splitlines():
            m = re.match(r"\s*([A-Z_0-9]+) (\d+(?:\.\d*)?) (\d+(?:\.\d*)?)", line)
            if m and m.group(1) not in out:
                out[m.group(1)] = float(m.group(2)) + float(m.group(3)) / 1e6
        return out

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __del__(self):
        try:
            self.stop()
        except Exception:
            pass


def _remote(kamailio: Kamailio) -> str:
    return f"{kamailio.host}:{kamailio.port}"


def register(
    kamailio: Kamailio,
    user: str,
    password: str,
    local_port: int | None = None,
    expires: int = 3600,
    timeout_s: float = 30,
) -> SippProcess:
    """sipp registers ``user@<domain>`` (digest auth) with Contact 127.0.0.1:local_port.

    Returns the running process; ``wait()`` is 0 on a 200 OK, 1 otherwise (e.g. 403).
    """
    return SippProcess(
        f"register-{user}",
        "register",
        _remote(kamailio),
        service=user,
        local_port=local_port,
        auth=(user, password),
        variables={"domain": kamailio.domain, "expires": expires},
        timeout_s=timeout_s,
    )


def unregister(kamailio: Kamailio, user: str, password: str, local_port: int, timeout_s: float = 30) -> SippProcess:
    """Remove the binding created by :func:`register` for the same local_port."""
    return register(kamailio, user, password, local_port, expires=0, timeout_s=timeout_s)


class SippUas(SippProcess):
    """sipp UAS registered as ``user``; see :func:`uas`."""

    def __init__(
        self,
        kamailio: Kamailio,
        user: str,
        password: str,
        talk_ms: int,
        ring_ms: int,
        hangup: str,
        timeout_s: float,
        unregister_at_end: bool,
    ):
        if hangup not in ("local", "remote"):
            raise ValueError("hangup must be 'local' or 'remote'")
        self.kamailio = kamailio
        self.user = user
        self.password = password
        self.hangup = hangup
        self.unregister_at_end = unregister_at_end
        self._registered = False
        self.register_log = ""
        super().__init__(
            f"uas-{user}",
            "uas" if hangup == "local" else "uas_remote_bye",
            None,
            service=user,
            variables={"ring_ms": int(ring_ms), "talk_ms": int(talk_ms)},
            timeout_s=timeout_s,
            start=False,
        )
        # Register on the UAS's own port first, then start the UAS on it.
        with register(kamailio, user, password, self.local_port) as reg:
            rc = reg.wait(15)
            self.register_log = reg.log_text()
        if rc != 0:
            raise RuntimeError(f"sipp registration of {user} failed (rc={rc}):\n{self.register_log}")
        self._registered = True
        try:
            self.start()
            self.wait_listening()
        except BaseException:
            self.stop()
            raise

    def _unregister(self) -> None:
        if not (self._registered and self.unregister_at_end):
            return
        self._registered = False
        if self.running:
            return  # port still taken; cannot happen from wait()/stop()
        try:
            with unregister(self.kamailio, self.user, self.password, self.local_port) as un:
                un.wait(10)
        except Exception:
            pass  # best effort: the binding just expires

    def wait(self, timeout: float | None = None) -> int:
        try:
            return super().wait(timeout)
        finally:
            if not self.running:
                self._unregister()

    def stop(self) -> None:
        super().stop()
        if getattr(self, "_registered", False):
            self._unregister()

    def talk_seconds(self) -> float | None:
        """Far-end talk time: ACK received -> BYE sent (hangup="local") or
        ACK received -> BYE received (hangup="remote"), from sipp's own clock.
        None if the call did not get that far."""
        ev = self.events()
        end = ev.get("BYE_SENT") if self.hangup == "local" else ev.get("BYE_RECEIVED")
        start = ev.get("ACK_RECEIVED")
        if start is None or end is None:
            return None
        return end - start


def uas(
    kamailio: Kamailio,
    user: str,
    password: str,
    talk_ms: int = 3000,
    ring_ms: int = 0,
    hangup: str = "local",
    timeout_s: float = 60,
    unregister_at_end: bool = True,
) -> SippUas:
    """Register ``user`` with sipp, then answer one INVITE on the same port.

    INVITE -> 180 -> (ring_ms) -> 200 -> ACK; with ``hangup="local"`` sipp holds the
    call ``talk_ms`` and sends BYE itself, with ``hangup="remote"`` it waits for the
    caller's BYE and answers 200.  When this returns, the user is registered and
    sipp is listening.  After sipp exits (``wait``/``stop``) the binding is removed
    again unless ``unregister_at_end`` is False.  ``talk_seconds()`` gives the
    far end's measured ACK->BYE interval.
    """
    return SippUas(kamailio, user, password, talk_ms, ring_ms, hangup, timeout_s, unregister_at_end)


def uac(
    kamailio: Kamailio,
    target_user: str,
    talk_ms: int = 2000,
    cancel_after_ms: int | None = None,
    from_user: str = "caller",
    from_domain: str = "external.test",
    display_name: str | None = "Pat Caller",
    expect_decline: bool = False,
    timeout_s: float = 60,
) -> SippProcess:
    """sipp calls ``sip:target_user@<domain>`` through the Kamailio (sent to 127.0.0.1:port).

    * default: waits for 200, ACKs, holds ``talk_ms``, sends BYE (Record-Route aware);
    * ``cancel_after_ms``: waits for 180, CANCELs after that many ms, expects 487, ACKs;
    * ``expect_decline``: expects 486 or 603 as final response and ACKs it.

    From is ``"display_name" <sip:from_user@from_domain>`` (no display name if None/"").
    """
    if cancel_after_ms is not None and expect_decline:
        raise ValueError("cancel_after_ms and expect_decline are exclusive")
    if display_name:
        if '"' in display_name or "\\" in display_name:
            raise ValueError("display_name must not contain quotes or backslashes")
        display = f'"{display_name}" '
    else:
        display = ""
    if cancel_after_ms is not None:
        name = "uac_cancel"
    elif expect_decline:
        name = "uac_decline"
    else:
        name = "uac"
    variables = {
        "domain": kamailio.domain,
        "from_user": from_user,
        "from_domain": from_domain,
        "display": display,
        "talk_ms": int(talk_ms),
        "cancel_after_ms": int(cancel_after_ms or 0),
    }
    return SippProcess(
        f"{name}-{target_user}", name, _remote(kamailio), service=target_user, variables=variables, timeout_s=timeout_s
    )
