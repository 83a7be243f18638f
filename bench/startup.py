#!/usr/bin/env python3
"""Start-up benchmark seen from outside: process start -> its window mapped by the X server.

A private Xvfb; a thread with its own X connection selects
SubstructureNotifyMask on the root window and stamps every CreateNotify and
MapNotify the moment it arrives (CLOCK_MONOTONIC and CLOCK_REALTIME), then
reads the window's ``_NET_WM_PID``, title and class. With no window manager a
top-level window is a child of the root, so its MapNotify is the moment it is
on the screen. The time origin is taken just before ``fork``/``exec`` of the
program (``Popen``); CPU time is the process's own (``/proc/PID/stat`` utime +
stime, clock ticks) read when the window was mapped and again when it has
settled (``--settle`` seconds later).

Usage::

    .venv/bin/python bench/startup.py [--runs 5] [softclock | bare | twinkle | -- CMD ...]

``softclock``: the desktop app (``softclock --config ... --data-dir ...`` in a
fresh data directory, no account); ``bare``: a PySide6 window and nothing
else (bench/startup_bare.py ``--no-sip``); ``twinkle``: Debian's Twinkle in a
fresh HOME (no profile: it shows its profile chooser). One warm-up run first,
then the median of ``--runs``. It prints figures; it asserts nothing.

``bench/desktop.py`` uses :class:`Xvfb` and :class:`MapWatcher` from here for
the whole comparison (registered, idle, incoming calls).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")

# --------------------------------------------------------------------------- Xvfb


class Xvfb:
    """A private X server (``-displayfd``); ``stop`` ends it."""

    def __init__(self, workdir: Path, size: str = "1280x800x24") -> None:
        self.workdir = workdir
        self.size = size
        self.proc: subprocess.Popen | None = None
        self.display = ""

    def start(self) -> Xvfb:
        r, w = os.pipe()
        self._log = open(self.workdir / "xvfb.log", "wb")
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-screen", "0", self.size, "-nolisten", "tcp", "-noreset"],
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


# --------------------------------------------------------------------------- Xlib through ctypes

_CREATE_NOTIFY, _MAP_NOTIFY = 16, 19
_SUBSTRUCTURE_NOTIFY_MASK = 1 << 19
_ANY_PROPERTY_TYPE = 0


class _XAnyEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
    ]


class _XCreateWindowEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("parent", ctypes.c_ulong),
        ("window", ctypes.c_ulong),
        ("x", ctypes.c_int),
        ("y", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("border_width", ctypes.c_int),
        ("override_redirect", ctypes.c_int),
    ]


class _XMapEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("event", ctypes.c_ulong),
        ("window", ctypes.c_ulong),
        ("override_redirect", ctypes.c_int),
    ]


class _XEvent(ctypes.Union):
    _fields_ = [
        ("type", ctypes.c_int),
        ("xany", _XAnyEvent),
        ("xcreatewindow", _XCreateWindowEvent),
        ("xmap", _XMapEvent),
        ("pad", ctypes.c_long * 24),
    ]


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


_XLIB: ctypes.CDLL | None = None


def xlib() -> ctypes.CDLL:
    """libX11, its signatures declared, XInitThreads called (each thread here
    has its own Display, but Xlib keeps some global state)."""
    global _XLIB
    if _XLIB is not None:
        return _XLIB
    name = ctypes.util.find_library("X11")
    if not name:
        raise RuntimeError("libX11 is not installed (Debian: libx11-6)")
    x = ctypes.CDLL(name)
    x.XInitThreads.restype = ctypes.c_int
    x.XInitThreads()
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XDefaultRootWindow.restype = ctypes.c_ulong
    x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x.XConnectionNumber.argtypes = [ctypes.c_void_p]
    x.XSelectInput.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_long]
    x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x.XPending.argtypes = [ctypes.c_void_p]
    x.XNextEvent.argtypes = [ctypes.c_void_p, ctypes.POINTER(_XEvent)]
    x.XInternAtom.restype = ctypes.c_ulong
    x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
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
    x.XFree.argtypes = [ctypes.c_void_p]
    x.XFlush.argtypes = [ctypes.c_void_p]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]
    x.XSetErrorHandler.restype = ctypes.c_void_p
    x.XSetErrorHandler.argtypes = [ctypes.c_void_p]
    _XLIB = x
    # A window gone before its properties are read (BadWindow) must not end the process.
    global _ERROR_HANDLER
    _ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(lambda _d, _e: 0)
    x.XSetErrorHandler(ctypes.cast(_ERROR_HANDLER, ctypes.c_void_p))
    return x


_ERROR_HANDLER = None


def window_property(dpy: int, win: int, atom: int) -> bytes | None:
    x = xlib()
    a_type, fmt = ctypes.c_ulong(), ctypes.c_int()
    nitems, after = ctypes.c_ulong(), ctypes.c_ulong()
    data = ctypes.c_void_p()
    if (
        x.XGetWindowProperty(
            dpy,
            win,
            atom,
            0,
            1024,
            0,
            _ANY_PROPERTY_TYPE,
            ctypes.byref(a_type),
            ctypes.byref(fmt),
            ctypes.byref(nitems),
            ctypes.byref(after),
            ctypes.byref(data),
        )
        != 0
        or not data
    ):
        return None
    try:
        size = {8: 1, 16: ctypes.sizeof(ctypes.c_short), 32: ctypes.sizeof(ctypes.c_long)}.get(fmt.value, 1)
        return ctypes.string_at(data, nitems.value * size)
    finally:
        x.XFree(data)


@dataclass
class XWindowEvent:
    kind: str  # "create" | "map"
    mono: float
    wall: float
    window: int
    override_redirect: bool
    pid: int | None = None
    title: str = ""
    wm_class: str = ""
    width: int = 0
    height: int = 0


@dataclass
class MapWatcher:
    """Every CreateNotify and MapNotify of the root's children, stamped on arrival."""

    display: str
    events: list[XWindowEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._stop = False
        self._ready = threading.Event()
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, name="x-map-watch", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error:
            raise RuntimeError(f"cannot watch {self.display}: {self._error}")

    def _run(self) -> None:
        x = xlib()
        dpy = x.XOpenDisplay(self.display.encode())
        if not dpy:
            self._error = "XOpenDisplay failed"
            self._ready.set()
            return
        try:
            root = x.XDefaultRootWindow(dpy)
            atoms = {
                name: x.XInternAtom(dpy, name.encode(), 0)
                for name in ("_NET_WM_PID", "_NET_WM_NAME", "WM_NAME", "WM_CLASS")
            }
            x.XSelectInput(dpy, root, _SUBSTRUCTURE_NOTIFY_MASK)
            x.XSync(dpy, 0)
            fd = x.XConnectionNumber(dpy)
            self._ready.set()
            ev = _XEvent()
            while not self._stop:
                if not x.XPending(dpy):
                    ready, _, _ = select.select([fd], [], [], 0.1)
                    if not ready:
                        continue
                mono, wall = time.monotonic(), time.time()
                batch = []
                while x.XPending(dpy):
                    x.XNextEvent(dpy, ctypes.byref(ev))
                    if ev.type == _CREATE_NOTIFY:
                        c = ev.xcreatewindow
                        batch.append(
                            XWindowEvent(
                                "create",
                                mono,
                                wall,
                                c.window,
                                bool(c.override_redirect),
                                width=c.width,
                                height=c.height,
                            )
                        )
                    elif ev.type == _MAP_NOTIFY:
                        m = ev.xmap
                        batch.append(XWindowEvent("map", mono, wall, m.window, bool(m.override_redirect)))
                for item in batch:  # the stamps are taken; now the round trips
                    pid = window_property(dpy, item.window, atoms["_NET_WM_PID"])
                    item.pid = int.from_bytes(pid[: ctypes.sizeof(ctypes.c_long)], sys.byteorder) if pid else None
                    title = window_property(dpy, item.window, atoms["_NET_WM_NAME"]) or window_property(
                        dpy, item.window, atoms["WM_NAME"]
                    )
                    item.title = (title or b"").decode("utf-8", "replace")
                    item.wm_class = (
                        (window_property(dpy, item.window, atoms["WM_CLASS"]) or b"")
                        .replace(b"\0", b" ")
                        .decode("utf-8", "replace")
                        .strip()
                    )
                    if item.kind == "map":
                        attrs = _XWindowAttributes()
                        if x.XGetWindowAttributes(dpy, item.window, ctypes.byref(attrs)):
                            item.width, item.height = attrs.width, attrs.height
                if batch:
                    with self._cond:
                        self.events.extend(batch)
                        self._cond.notify_all()
        finally:
            x.XCloseDisplay(dpy)

    def mark(self) -> int:
        with self._cond:
            return len(self.events)

    def wait_map(
        self,
        pids: set[int] | None,
        timeout: float,
        start: int = 0,
        min_size: int = 50,
        title: str | None = None,
        managed_only: bool = True,
    ) -> XWindowEvent:
        """The first MapNotify from ``start`` on of a window at least ``min_size``
        pixels wide and high, managed (not override-redirect) unless not
        ``managed_only`` (Twinkle's incoming-call popup is override-redirect),
        whose _NET_WM_PID is in ``pids`` (None: any) and whose title contains
        ``title`` (None: any)."""
        deadline = time.monotonic() + timeout
        i = start
        with self._cond:
            while True:
                while i < len(self.events):
                    e = self.events[i]
                    i += 1
                    if (
                        e.kind == "map"
                        and not (managed_only and e.override_redirect)
                        and e.width >= min_size
                        and e.height >= min_size
                        and (pids is None or e.pid in pids)
                        and (title is None or title in e.title)
                    ):
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no window mapped within {timeout} s")
                self._cond.wait(left)

    def first_create(self, pids: set[int], start: int = 0) -> XWindowEvent | None:
        with self._cond:
            return next((e for e in self.events[start:] if e.kind == "create" and e.pid in pids), None)

    def stop(self) -> None:
        self._stop = True
        self._thread.join(2)


# --------------------------------------------------------------------------- /proc


def proc_cpu(pid: int, children: bool = True) -> float | None:
    """utime + stime (and, with ``children``, of waited-for children) in seconds,
    from /proc/PID/stat; None once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


def pid_tree(pid: int) -> set[int]:
    """``pid`` and its descendants (from /proc/*/stat's ppid)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(text[text.rindex(")") + 2 :].split()[1])
    out, frontier = {pid}, [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p and c not in out]
        out.update(kids)
        frontier.extend(kids)
    return out


def tree_cpu(pid: int) -> float:
    return sum(proc_cpu(p) or 0.0 for p in pid_tree(pid))


# --------------------------------------------------------------------------- the stand-alone bench


def softclock_cmd(work: Path) -> list[str]:
    exe = ROOT / ".venv" / "bin" / "softclock"
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "softclock"]
    (work / "settings.toml").write_text("")
    return [*base, "--config", str(work / "settings.toml"), "--data-dir", str(work / "data")]


def one(
    cmd: list[str], env: dict[str, str], watcher: MapWatcher, cwd: Path, settle: float, title: str | None
) -> dict[str, float | None]:
    mark = watcher.mark()
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(cwd / "stderr.log", "ab"),
        start_new_session=True,
    )
    try:
        mapped = watcher.wait_map(None, 60, mark, title=title)
        cpu_map = tree_cpu(proc.pid)
        pids = pid_tree(proc.pid)
        if mapped.pid not in pids:
            print(f"[startup] note: first window mapped has pid {mapped.pid}, not in {sorted(pids)}", file=sys.stderr)
        created = watcher.first_create(pids, mark)
        time.sleep(settle)
        return {
            "map_s": mapped.mono - t0,
            "create_s": created.mono - t0 if created else None,
            "cpu_at_map_s": cpu_map,
            "cpu_settled_s": tree_cpu(proc.pid),
        }
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--settle", type=float, default=3.0, help="seconds after the map before reading CPU again")
    ap.add_argument("what", nargs="*", default=["softclock"], help="softclock | bare | twinkle | -- CMD ...")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="softclock-bench-startup-"))
    xvfb = Xvfb(base).start()
    watcher = MapWatcher(xvfb.display)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOFTCLOCK_", "QT_"))}
    # An installed app has its bytecode compiled: a shell that turns writing it off would
    # measure compiling softclock at every start.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        {
            "DISPLAY": xvfb.display,
            "QT_QPA_PLATFORM": "xcb",
            "PYTHONPATH": str(ROOT),
            "PYTHON_KEYRING_BACKEND": "tests.helpers.keyring_backend.MemoryKeyring",
        }
    )
    results = []
    try:
        for k in range(args.runs + 1):
            work = base / f"run{k}"
            work.mkdir()
            runtime = work / "xdg-runtime"
            runtime.mkdir(mode=0o700)
            run_env = dict(
                env, XDG_RUNTIME_DIR=str(runtime), HOME=str(work), SOFTCLOCK_TEST_KEYRING=str(work / "keyring.json")
            )
            title = None
            if args.what == ["softclock"]:
                cmd = softclock_cmd(work)
            elif args.what == ["bare"]:
                cmd = [sys.executable, str(ROOT / "bench" / "startup_bare.py"), "--no-sip"]
            elif args.what == ["twinkle"]:
                cmd = ["twinkle"]
            else:
                cmd = args.what
            r = one(cmd, run_env, watcher, work, args.settle, title)
            print(
                f"[startup] {'warm-up' if k == 0 else f'run {k}'}: mapped {r['map_s']:.3f} s, "
                f"CPU at map {r['cpu_at_map_s']:.2f} s, settled {r['cpu_settled_s']:.2f} s",
                file=sys.stderr,
            )
            if k:
                results.append(r)
    finally:
        watcher.stop()
        xvfb.stop()
        shutil.rmtree(base, ignore_errors=True)
    med = {key: statistics.median(r[key] for r in results if r[key] is not None) for key in results[0]}
    print(
        f"{' '.join(args.what)}: median of {len(results)} after a warm-up: window mapped {med['map_s']:.3f} s "
        f"(first window created {med['create_s']:.3f} s), CPU at map {med['cpu_at_map_s']:.2f} s, "
        f"after {args.settle:g} s more {med['cpu_settled_s']:.2f} s; "
        f"map range {min(r['map_s'] for r in results):.3f}-{max(r['map_s'] for r in results):.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
