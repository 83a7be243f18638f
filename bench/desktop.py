#!/usr/bin/env python3
"""Desktop benchmark: cold start, memory, idle CPU and INVITE -> ringing window.

Runs the real desktop app (``.venv/bin/softclock``) under a private Xvfb with
Qt's xcb platform, against a real Kamailio on 127.0.0.1 (tests/helpers), and
measures per run (each run: a fresh data dir, the same Kamailio and Xvfb):

1. process spawn -> ``main window shown`` log line;
2. process spawn -> ``registration shown: Registered as`` log line;
3. resident memory of the app (and any children) once registered; on the
   first run also CPU use over ``--idle-seconds`` right after registration
   (psutil user+system time delta / wall time, % of one core);
4. an incoming call: sipp (bench/scenarios/desktop_uac_cancel.xml) calls
   alice through Kamailio, logs the wall-clock time just before it sends the
   INVITE, and CANCELs ~1 s after the 180 (a missed call). Latency is the
   app's own log timestamp of ``ringing window shown for <Call-ID>`` minus
   sipp's INVITE time (both wall clock; the app's stamp has 1 ms resolution
   and is truncated), and, as a cross-check, the time the line arrived here.

Then the app is closed like a person would: WM_DELETE_WINDOW sent to its main
window through X11 (quit on last window closed -> aboutToQuit -> shutdown);
SIGTERM, then SIGKILL, only if that does not end it.

Log lines are timed by a reader thread on arrival (time.monotonic()); the
spawn time is taken just before ``Popen``.

Usage::

    .venv/bin/python bench/desktop.py [--runs 5] [--idle-seconds 30] [--calls 2] [--json]

It prints figures; it is not a test and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from tests.helpers.kamailio import Kamailio  # noqa: E402
from tests.helpers.sipp import SippProcess  # noqa: E402

SCENARIO = ROOT / "bench" / "scenarios" / "desktop_uac_cancel"  # .xml
USERS = {"alice": "alicepass", "bob": "bobpass"}
KEYRING_BACKEND = "tests.helpers.keyring_backend.MemoryKeyring"

# Reference figures quoted in the issue, and its targets.
REFERENCE = {
    "window_s": {"linphone": 1.5, "twinkle": 0.3, "target": 0.5},
    "rss_mb": {"linphone": 253.0, "twinkle": 111.0, "target": 120.0},
    "idle_cpu_pct": {"linphone": 0.7, "twinkle": 0.0, "target": 0.2},
    "ringing_ms": {"linphone": 590.0, "twinkle": 10.0, "target": 50.0},
}

_LOG_RE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) (\w+) ([\w.]+): (.*)$")


def note(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def app_stamp(line: str) -> float | None:
    """Wall-clock epoch of a log line's asctime (local time, ms, truncated)."""
    m = _LOG_RE.match(line)
    if not m:
        return None
    dt = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
    return time.mktime(dt.timetuple()) + int(m.group(2)) / 1000.0


# --------------------------------------------------------------------------- log reader


@dataclass
class Line:
    mono: float
    wall: float
    text: str
    index: int = 0


class LogReader:
    """Reads the app's stderr in a thread, timing each line on arrival."""

    def __init__(self, stream, copy_to: Path) -> None:
        self._stream = stream
        self._copy = open(copy_to, "w", encoding="utf-8", errors="replace")
        self.lines: list[Line] = []
        self._cond = threading.Condition()
        self.closed = False
        self._thread = threading.Thread(target=self._run, name="app-stderr", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for raw in iter(self._stream.readline, b""):
            mono, wall = time.monotonic(), time.time()
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            self._copy.write(text + "\n")
            self._copy.flush()
            with self._cond:
                self.lines.append(Line(mono, wall, text, len(self.lines)))
                self._cond.notify_all()
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        self._copy.close()

    def mark(self) -> int:
        with self._cond:
            return len(self.lines)

    def wait_for(self, needle: str, timeout: float, start: int = 0) -> Line:
        deadline = time.monotonic() + timeout
        i = start
        with self._cond:
            while True:
                while i < len(self.lines):
                    if needle in self.lines[i].text:
                        return self.lines[i]
                    i += 1
                if self.closed:
                    raise RuntimeError(f"app exited before logging {needle!r}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {needle!r} in the app log within {timeout} s")
                self._cond.wait(left)

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)

    def tail(self, n: int = 30) -> str:
        with self._cond:
            return "\n".join(line.text for line in self.lines[-n:])


# --------------------------------------------------------------------------- Xvfb and X11


class Xvfb:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.display = ""

    def start(self) -> Xvfb:
        r, w = os.pipe()
        self._log = open(self.workdir / "xvfb.log", "wb")
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"],
            pass_fds=(w,),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        os.close(w)
        buf = b""
        deadline = time.monotonic() + 15
        with os.fdopen(r, "rb", buffering=0) as fh:
            while not buf.endswith(b"\n") and time.monotonic() < deadline:
                chunk = fh.read(16)
                if not chunk:
                    break
                buf += chunk
        if not buf.strip().isdigit():
            self.stop()
            raise RuntimeError(f"Xvfb did not report a display; see {self.workdir / 'xvfb.log'}")
        self.display = f":{int(buf)}"
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self._log.close()


class _XClientMessage(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("l", ctypes.c_long * 5),
    ]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _XClientMessage), ("pad", ctypes.c_long * 24)]


class _XWindowAttributes(ctypes.Structure):
    _fields_ = [
        ("x", ctypes.c_int),
        ("y", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("border_width", ctypes.c_int),
        ("depth", ctypes.c_int),
        ("visual", ctypes.c_void_p),
        ("root", ctypes.c_ulong),
        ("class_", ctypes.c_int),
        ("bit_gravity", ctypes.c_int),
        ("win_gravity", ctypes.c_int),
        ("backing_store", ctypes.c_int),
        ("backing_planes", ctypes.c_ulong),
        ("backing_pixel", ctypes.c_ulong),
        ("save_under", ctypes.c_int),
        ("colormap", ctypes.c_ulong),
        ("map_installed", ctypes.c_int),
        ("map_state", ctypes.c_int),
        ("all_event_masks", ctypes.c_long),
        ("your_event_mask", ctypes.c_long),
        ("do_not_propagate_mask", ctypes.c_long),
        ("override_redirect", ctypes.c_int),
        ("screen", ctypes.c_void_p),
    ]


def close_windows_of(display: str, pid: int) -> list[str]:
    """Send WM_DELETE_WINDOW to every viewable top-level window whose
    _NET_WM_PID is ``pid`` (what a window manager's close button does).
    Returns the titles of the windows it was sent to."""
    name = ctypes.util.find_library("X11")
    if not name:
        return []
    x = ctypes.CDLL(name)
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XDefaultRootWindow.restype = ctypes.c_ulong
    x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x.XInternAtom.restype = ctypes.c_ulong
    x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x.XQueryTree.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.POINTER(ctypes.c_ulong),
        ctypes.POINTER(ctypes.c_ulong),
        ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)),
        ctypes.POINTER(ctypes.c_uint),
    ]
    x.XGetWindowProperty.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_ulong,
        ctypes.c_long,
        ctypes.c_long,
        ctypes.c_int,
        ctypes.c_ulong,
        ctypes.POINTER(ctypes.c_ulong),
        ctypes.POINTER(ctypes.c_int),
        ctypes.POINTER(ctypes.c_ulong),
        ctypes.POINTER(ctypes.c_ulong),
        ctypes.POINTER(ctypes.c_void_p),
    ]
    x.XGetWindowAttributes.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_XWindowAttributes)]
    x.XFetchName.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_char_p)]
    x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.POINTER(_XEvent)]
    x.XFree.argtypes = [ctypes.c_void_p]
    x.XFlush.argtypes = [ctypes.c_void_p]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]

    dpy = x.XOpenDisplay(display.encode())
    if not dpy:
        return []
    sent: list[str] = []
    try:
        root = x.XDefaultRootWindow(dpy)
        a_pid = x.XInternAtom(dpy, b"_NET_WM_PID", 0)
        a_protocols = x.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        a_delete = x.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
        r_root, r_parent = ctypes.c_ulong(), ctypes.c_ulong()
        children = ctypes.POINTER(ctypes.c_ulong)()
        n = ctypes.c_uint()
        if not x.XQueryTree(
            dpy, root, ctypes.byref(r_root), ctypes.byref(r_parent), ctypes.byref(children), ctypes.byref(n)
        ):
            return []
        wins = [children[i] for i in range(n.value)]
        if children:
            x.XFree(children)
        for win in wins:
            attrs = _XWindowAttributes()
            if not x.XGetWindowAttributes(dpy, win, ctypes.byref(attrs)) or attrs.map_state != 2:
                continue  # not viewable
            a_type, fmt = ctypes.c_ulong(), ctypes.c_int()
            nitems, after = ctypes.c_ulong(), ctypes.c_ulong()
            data = ctypes.c_void_p()
            if (
                x.XGetWindowProperty(
                    dpy,
                    win,
                    a_pid,
                    0,
                    1,
                    0,
                    0,
                    ctypes.byref(a_type),
                    ctypes.byref(fmt),
                    ctypes.byref(nitems),
                    ctypes.byref(after),
                    ctypes.byref(data),
                )
                != 0
            ):
                continue
            wpid = ctypes.cast(data, ctypes.POINTER(ctypes.c_long))[0] if data and nitems.value else None
            if data:
                x.XFree(data)
            if wpid != pid:
                continue
            title_p = ctypes.c_char_p()
            title = ""
            if x.XFetchName(dpy, win, ctypes.byref(title_p)) and title_p.value is not None:
                title = title_p.value.decode("utf-8", "replace")
                x.XFree(title_p)
            ev = _XEvent()
            ev.xclient.type = 33  # ClientMessage
            ev.xclient.window = win
            ev.xclient.message_type = a_protocols
            ev.xclient.format = 32
            ev.xclient.l[0] = a_delete
            ev.xclient.l[1] = 0  # CurrentTime
            x.XSendEvent(dpy, win, 0, 0, ctypes.byref(ev))
            sent.append(title or hex(win))
        x.XFlush(dpy)
    finally:
        x.XCloseDisplay(dpy)
    return sent


# --------------------------------------------------------------------------- the app


def tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def tree_mem(procs: list[psutil.Process]) -> dict[str, float]:
    rss = pss = uss = 0
    for p in procs:
        try:
            rss += p.memory_info().rss
            try:
                full = p.memory_full_info()
                pss += getattr(full, "pss", 0)
                uss += full.uss
            except (psutil.AccessDenied, AttributeError):
                pass
        except psutil.NoSuchProcess:
            pass
    mb = 1024 * 1024
    return {"rss_mb": rss / mb, "pss_mb": pss / mb, "uss_mb": uss / mb, "processes": len(procs)}


def thread_snapshot(pid: int) -> dict[int, tuple[str, float, int]]:
    """tid -> (name, cpu seconds, context switches) from /proc; CPU from
    schedstat (ns resolution) when available, else stat (clock ticks)."""
    out: dict[int, tuple[str, float, int]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            name = (task / "comm").read_text().strip()
            try:
                cpu = int((task / "schedstat").read_text().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                stat = (task / "stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                cpu = (int(fields[11]) + int(fields[12])) / tick
            switches = 0
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    switches += int(line.split()[1])
            out[int(task.name)] = (name, cpu, switches)
        except (OSError, ValueError, IndexError):
            continue
    return out


def softclock_bin() -> list[str]:
    exe = ROOT / ".venv" / "bin" / "softclock"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "softclock.cli"]


class App:
    def __init__(self, workdir: Path, config: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.data = workdir / "data"
        self.cmd = [*softclock_bin(), "--config", str(config), "--data-dir", str(self.data)]
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.ps: psutil.Process | None = None
        self.log: LogReader | None = None
        self.t0_mono = 0.0
        self.t0_wall = 0.0

    def start(self) -> None:
        self.t0_wall = time.time()
        self.t0_mono = time.monotonic()
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=str(self.workdir),
            start_new_session=True,
        )
        self.ps = psutil.Process(self.proc.pid)
        self.log = LogReader(self.proc.stderr, self.workdir / "app.stderr.log")

    def all_pids(self) -> set[int]:
        return {p.pid for p in tree(self.ps)} if self.ps else set()

    def quit(self, display: str, timeout: float = 15.0) -> dict[str, object]:
        """Close the main window; escalate to SIGTERM / SIGKILL if needed."""
        assert self.proc is not None
        pids = self.all_pids()
        result: dict[str, object] = {"method": None, "exit_s": None, "returncode": None}
        t = time.monotonic()
        steps = [
            ("close window", lambda: close_windows_of(display, self.proc.pid), timeout),
            ("SIGTERM", lambda: self.proc.send_signal(signal.SIGTERM), 5.0),
            ("SIGKILL", lambda: os.killpg(self.proc.pid, signal.SIGKILL), 5.0),
        ]
        for method, action, wait in steps:
            if self.proc.poll() is not None:
                break
            try:
                sent = action()
            except ProcessLookupError:
                sent = None
            if method == "close window" and not sent:
                note("no window of the app found to close; using SIGTERM")
                continue
            result["method"] = method
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                note(f"app still running {wait:.0f} s after {method}")
        result["exit_s"] = time.monotonic() - t
        result["returncode"] = self.proc.poll()
        if self.log:
            self.log.join()
        # nothing of it may survive
        left = [p for p in pids if psutil.pid_exists(p) and _alive(p)]
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        result["leftover_processes"] = len(left)
        return result

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# --------------------------------------------------------------------------- one run


def incoming_call(kam: Kamailio, app: App, cancel_after_ms: int, keep: bool = False) -> dict[str, object]:
    assert app.log is not None
    mark = app.log.mark()
    variables = {
        "domain": kam.domain,
        "from_user": "caller",
        "from_domain": "external.test",
        "display": '"Pat Caller" ',
        "talk_ms": 0,
        "cancel_after_ms": cancel_after_ms,
    }
    # scenario() joins SCENARIO_DIR with the name: an absolute name selects our file
    sipp = SippProcess(
        "bench-uac-cancel-alice",
        str(SCENARIO),
        f"{kam.host}:{kam.port}",
        service="alice",
        variables=variables,
        timeout_s=30,
    )
    try:
        ring = app.log.wait_for("ringing window shown for ", 15, mark)
        rc = sipp.wait(30)
        ended = app.log.wait_for(" ended: ", 10, mark)
    except BaseException:
        sipp.stop()
        note(f"sipp log ({sipp.logdir}):\n{sipp.log_text()[-3000:]}")
        raise
    events = sipp.events()
    messages = sipp.messages_text()
    if not keep:
        shutil.rmtree(sipp.logdir, ignore_errors=True)
    call_id = ring.text.rsplit("ringing window shown for ", 1)[1].strip()
    sent = events.get("INVITE_SENT")
    stamp = app_stamp(ring.text)
    out: dict[str, object] = {
        "sipp_rc": rc,
        "call_id_matches": call_id in messages,
        "missed": "missed" in ended.text,
        "app_end_line": ended.text.split(": ", 1)[-1],
    }
    if sent is not None:
        out["ringing_ms_app_stamp"] = (stamp - sent) * 1000 if stamp is not None else None
        out["ringing_ms_arrival"] = (ring.wall - sent) * 1000
        if "RINGING_RECEIVED" in events:
            out["invite_to_180_ms"] = (events["RINGING_RECEIVED"] - sent) * 1000
    return out


def one_run(i: int, kam: Kamailio, base: Path, config: Path, env: dict[str, str], args) -> dict[str, object]:
    wd = base / f"run{i}"
    wd.mkdir()
    app = App(wd, config, env)
    res: dict[str, object] = {"run": i}
    app.start()
    assert app.log is not None
    try:
        shown = app.log.wait_for("main window shown", 60)
        res["window_s"] = shown.mono - app.t0_mono
        reg = app.log.wait_for("registration shown: ", 30)
        while "registration shown: Registered as" not in reg.text:
            if "registration shown: Registering as" not in reg.text:
                raise RuntimeError(f"registration failed: {reg.text}")
            reg = app.log.wait_for("registration shown: ", 30, reg.index + 1)
        res["registered_s"] = reg.mono - app.t0_mono
        procs = tree(app.ps)
        res["startup_cpu_s"] = tree_cpu(procs)
        res["mem_registered"] = tree_mem(procs)

        if i == 1 and args.idle_seconds > 0:
            note(f"run {i}: idle for {args.idle_seconds:g} s ...")
            th0 = thread_snapshot(app.proc.pid)
            c0, w0 = tree_cpu(procs), time.monotonic()
            time.sleep(args.idle_seconds)
            procs = tree(app.ps)
            c1, w1 = tree_cpu(procs), time.monotonic()
            th1 = thread_snapshot(app.proc.pid)
            wall = w1 - w0
            res["idle_cpu_pct"] = 100.0 * (c1 - c0) / wall
            res["idle_wall_s"] = wall
            threads = []
            for tid, (name, cpu1, sw1) in th1.items():
                name0, cpu0, sw0 = th0.get(tid, (name, 0.0, 0))
                threads.append(
                    {
                        "thread": name,
                        "tid": tid,
                        "cpu_pct": 100.0 * (cpu1 - cpu0) / wall,
                        "wakeups_per_s": (sw1 - sw0) / wall,
                    }
                )
            threads.sort(key=lambda t: (-t["wakeups_per_s"], -t["cpu_pct"]))
            res["idle_threads"] = threads
            res["idle_wakeups_per_s"] = sum(t["wakeups_per_s"] for t in threads)
            res["idle_cpu_pct_schedstat"] = sum(t["cpu_pct"] for t in threads)
            res["mem_idle"] = tree_mem(procs)

        calls = []
        for _ in range(args.calls):
            calls.append(incoming_call(kam, app, args.cancel_after_ms, args.keep))
        res["calls"] = calls
        res["mem_after_calls"] = tree_mem(tree(app.ps))
    except BaseException:
        note(f"run {i} failed; app log tail:\n{app.log.tail()}")
        app.kill()
        raise
    res["quit"] = app.quit(env["DISPLAY"])
    warnings = [
        ln.text for ln in app.log.lines if " WARNING " in ln.text or " ERROR " in ln.text or "Traceback" in ln.text
    ]
    res["app_warnings"] = warnings[:10]
    return res


# --------------------------------------------------------------------------- report


def med(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarize(runs: list[dict]) -> dict[str, object]:
    first_calls = [r["calls"][0] for r in runs if r.get("calls")]
    later = [c for r in runs for c in r.get("calls", [])[1:]]
    idle = next((r for r in runs if "idle_cpu_pct" in r), None)
    mem_key = "mem_idle" if idle else "mem_registered"
    return {
        "runs": len(runs),
        "window_s": med([r["window_s"] for r in runs]),
        "registered_s": med([r["registered_s"] for r in runs]),
        "startup_cpu_s": med([r["startup_cpu_s"] for r in runs]),
        "rss_mb": (idle or {}).get(mem_key, {}).get("rss_mb")
        if idle
        else med([r["mem_registered"]["rss_mb"] for r in runs]),
        "rss_registered_mb": med([r["mem_registered"]["rss_mb"] for r in runs]),
        "pss_registered_mb": med([r["mem_registered"]["pss_mb"] for r in runs]),
        "uss_registered_mb": med([r["mem_registered"]["uss_mb"] for r in runs]),
        "rss_after_calls_mb": med([r["mem_after_calls"]["rss_mb"] for r in runs]),
        "idle_cpu_pct": idle["idle_cpu_pct"] if idle else None,
        "idle_seconds": idle["idle_wall_s"] if idle else None,
        "idle_wakeups_per_s": idle["idle_wakeups_per_s"] if idle else None,
        "idle_cpu_pct_schedstat": idle.get("idle_cpu_pct_schedstat") if idle else None,
        "ringing_ms": med([c.get("ringing_ms_app_stamp") for c in first_calls]),
        "ringing_ms_arrival": med([c.get("ringing_ms_arrival") for c in first_calls]),
        "ringing_ms_later_calls": med([c.get("ringing_ms_app_stamp") for c in later]),
        "ringing_ms_later_calls_arrival": med([c.get("ringing_ms_arrival") for c in later]),
        "invite_to_180_ms": med([c.get("invite_to_180_ms") for c in first_calls]),
        "quit_s": med([r["quit"]["exit_s"] for r in runs]),
    }


def fmt(v: float | None, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def print_report(summary: dict, runs: list[dict], meta: dict) -> None:
    print(f"softclock desktop benchmark -- {meta['when']}")
    print(
        f"  {meta['machine']}; Xvfb {meta['display']} (xcb); Kamailio 127.0.0.1:{meta['kamailio_port']}; "
        f"{summary['runs']} cold start(s), fresh data dir each"
    )
    print()
    print("per run:")
    print(
        "  run  window  registered  start CPU  RSS reg.  PSS reg.  ring#1 (stamp/arrival)  ring#2+      "
        "INVITE->180  quit"
    )
    for r in runs:
        calls = r.get("calls", [])
        c1 = calls[0] if calls else {}
        later = [c.get("ringing_ms_app_stamp") for c in calls[1:]]
        later_s = ",".join(fmt(v, ".0f") for v in later) or "-"
        q = r["quit"]
        print(
            f"  {r['run']:>3}  {r['window_s']:5.3f}s  {r['registered_s']:9.3f}s  {r['startup_cpu_s']:8.2f}s "
            f"{r['mem_registered']['rss_mb']:7.1f}MB {r['mem_registered']['pss_mb']:7.1f}MB  "
            f"{fmt(c1.get('ringing_ms_app_stamp'), '6.0f')} / {fmt(c1.get('ringing_ms_arrival'), '6.1f')} ms"
            f"       {later_s:>6} ms   {fmt(c1.get('invite_to_180_ms'), '6.1f')} ms  "
            f"{q['exit_s']:.2f}s ({q['method']}, rc {q['returncode']})"
        )
    bad = [
        (r["run"], n, c)
        for r in runs
        for n, c in enumerate(r.get("calls", []), 1)
        if c["sipp_rc"] != 0 or not c["call_id_matches"] or not c["missed"]
    ]
    for run, n, c in bad:
        print(
            f"  ! run {run} call {n}: sipp rc {c['sipp_rc']}, call-id match {c['call_id_matches']}, "
            f"app: {c['app_end_line']}"
        )
    left = [r["run"] for r in runs if r["quit"]["leftover_processes"]]
    if left:
        print(f"  ! processes left after quit in run(s) {left} (killed)")
    print()
    ref = REFERENCE

    def row(label: str, value: str, key: str, unit: str, spec: str) -> None:
        rr = ref[key]
        print(
            f"  {label:<34} {value:>10}   {format(rr['linphone'], spec) + unit:>10}   "
            f"{format(rr['twinkle'], spec) + unit:>10}   {'<= ' + format(rr['target'], spec) + unit:>11}"
        )

    print(f"summary (median of {summary['runs']}):")
    print(f"  {'':<34} {'softclock':>10}   {'Linphone 4.4':>10}   {'Twinkle':>10}   {'target':>11}")
    row("start -> main window shown", fmt(summary["window_s"], ".2f") + " s", "window_s", " s", ".1f")
    print(f"  {'start -> registered':<34} {fmt(summary['registered_s'], '.2f') + ' s':>10}")
    row("RSS, idle after registration", fmt(summary["rss_mb"], ".0f") + " MB", "rss_mb", " MB", ".0f")
    idle_label = f"idle CPU ({fmt(summary['idle_seconds'], '.0f')} s, run 1)"
    row(idle_label, fmt(summary["idle_cpu_pct"], ".2f") + " %", "idle_cpu_pct", " %", ".1f")
    row("INVITE -> ringing window (1st call)", fmt(summary["ringing_ms"], ".0f") + " ms", "ringing_ms", " ms", ".0f")
    print()
    print("details:")
    print(f"  ringing window, 1st call, by line arrival here:  {fmt(summary['ringing_ms_arrival'], '.1f')} ms")
    print(
        f"  ringing window, later calls (stamp / arrival):   {fmt(summary['ringing_ms_later_calls'], '.0f')} ms / "
        f"{fmt(summary['ringing_ms_later_calls_arrival'], '.1f')} ms"
    )
    print(f"  INVITE -> 180 at sipp (SIP path only):           {fmt(summary['invite_to_180_ms'], '.1f')} ms")
    print(f"  CPU time spent up to registration:               {fmt(summary['startup_cpu_s'], '.2f')} s")
    print(
        f"  memory once registered (RSS / PSS / USS):        {fmt(summary['rss_registered_mb'], '.0f')} / "
        f"{fmt(summary['pss_registered_mb'], '.0f')} / {fmt(summary['uss_registered_mb'], '.0f')} MB"
    )
    print(f"  RSS after the incoming calls:                    {fmt(summary['rss_after_calls_mb'], '.0f')} MB")
    print(f"  quit (close window -> process gone):             {fmt(summary['quit_s'], '.2f')} s")
    idle = next((r for r in runs if "idle_threads" in r), None)
    if idle:
        print(f"  idle CPU by per-thread schedstat (ns clock):     {fmt(summary['idle_cpu_pct_schedstat'], '.3f')} %")
        print(
            f"  idle wake-ups (context switches, all threads):   {idle['idle_wakeups_per_s']:.1f} /s; busiest threads "
            "(OS thread names; Python threads show as 'softclock'):"
        )
        for t in idle["idle_threads"][:6]:
            print(f"    {t['thread']:<18} {t['wakeups_per_s']:7.1f} wake-ups/s  {t['cpu_pct']:6.3f} % CPU")
    warns = sorted({w.split(": ", 1)[-1][:150] for r in runs for w in r.get("app_warnings", [])})
    if warns:
        print("  app warnings/errors seen in its log:")
        for w in warns[:8]:
            print(f"    {w}")


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="cold starts (default 5)")
    ap.add_argument(
        "--idle-seconds",
        type=float,
        default=30.0,
        help="idle CPU window after registration, on run 1 (default 30; 0 skips)",
    )
    ap.add_argument("--calls", type=int, default=2, help="incoming calls per run (default 2; the first is reported)")
    ap.add_argument("--cancel-after-ms", type=int, default=1000, help="sipp CANCELs this long after the 180")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    ap.add_argument(
        "--log-level",
        default="INFO",
        help="SOFTCLOCK_LOG_LEVEL for the app (INFO is what the figures are read from; DEBUG "
        "adds pjsip's log, for diagnosis only: it slows the app down)",
    )
    args = ap.parse_args()
    if args.runs < 1 or args.calls < 1:
        ap.error("--runs and --calls must be >= 1")
    for tool in ("Xvfb", "sipp"):
        if not shutil.which(tool):
            ap.error(f"{tool} is not installed")

    base = Path(tempfile.mkdtemp(prefix="softclock-bench-desktop-"))
    kam = Kamailio(base / "kamailio", USERS)
    xvfb = Xvfb(base)
    runs: list[dict] = []
    try:
        kam.start()
        xvfb.start()
        note(f"Kamailio on {kam.host}:{kam.port}, Xvfb on {xvfb.display}, work dir {base}")

        config = base / "settings.toml"
        config.write_text(
            "[account]\n"
            f'server = "{kam.host}:{kam.port}"\n'
            'user = "alice"\n'
            f'domain = "{kam.domain}"\n'
            "[sip]\n"
            f'bind_address = "{kam.host}"\n'
        )
        keyring_file = base / "keyring.json"
        os.environ["SOFTCLOCK_TEST_KEYRING"] = str(keyring_file)
        from tests.helpers.keyring_backend import MemoryKeyring

        MemoryKeyring().set_password("softclock", f"sip:alice@{kam.domain}", USERS["alice"])

        runtime = base / "xdg-runtime"
        runtime.mkdir(mode=0o700)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOFTCLOCK_", "QT_"))}
        env.update(
            {
                "DISPLAY": xvfb.display,
                "QT_QPA_PLATFORM": "xcb",
                "XDG_RUNTIME_DIR": str(runtime),
                "PYTHONPATH": str(ROOT),
                "PYTHON_KEYRING_BACKEND": KEYRING_BACKEND,
                "SOFTCLOCK_TEST_KEYRING": str(keyring_file),
                "SOFTCLOCK_LOG_LEVEL": args.log_level,
            }
        )

        for i in range(1, args.runs + 1):
            r = one_run(i, kam, base, config, env, args)
            runs.append(r)
            c1 = r["calls"][0]
            note(
                f"run {i}: window {r['window_s']:.3f} s, registered {r['registered_s']:.3f} s, "
                f"RSS {r['mem_registered']['rss_mb']:.0f} MB, ringing {fmt(c1.get('ringing_ms_app_stamp'), '.0f')} ms"
                + (f", idle CPU {r['idle_cpu_pct']:.2f} %" if "idle_cpu_pct" in r else "")
                + f", quit {r['quit']['exit_s']:.2f} s ({r['quit']['method']})"
            )
        summary = summarize(runs)
        meta = {
            "when": datetime.now().isoformat(timespec="seconds"),
            "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}",
            "display": xvfb.display,
            "kamailio_port": kam.port,
            "command": " ".join([sys.executable, *sys.argv]),
            "reference": REFERENCE,
        }
        if args.json:
            print(json.dumps({"meta": meta, "summary": summary, "runs": runs}, indent=1))
        else:
            print_report(summary, runs, meta)
        return 0
    finally:
        xvfb.stop()
        kam.stop()
        if args.keep:
            note(f"logs kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
