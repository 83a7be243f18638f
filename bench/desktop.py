#!/usr/bin/env python3
"""Desktop benchmark, measured from outside the process: Softclock beside Twinkle and a bare window.

What a person sees and what the wire carries, for three softphones in the same
run, against one Kamailio on 127.0.0.1 (tests/helpers/kamailio.py), under one
private Xvfb with one D-Bus session bus:

* **softclock**: the real desktop app (``.venv/bin/softclock``);
* **twinkle**: Debian's Twinkle (``apt-get install twinkle``), when installed,
  in a fresh HOME: ``~/.twinkle/twinkle.sys`` with ALSA's null device for
  ringtone, speaker and microphone and no tray, and a user profile pointing at
  the test Kamailio as registrar and outbound proxy, started ``twinkle -f
  PROFILE``;
* **bare**: bench/startup_bare.py, a PySide6 window and pjsua2 and nothing
  else (window first, pjsua2 after it, a 10 ms libHandleEvents timer).

Every run is a cold start of one of them with a fresh SIP user (no stale
registrations), a fresh data directory or HOME; the rounds interleave the three
(softclock, twinkle, bare, softclock, ...) so a change in the machine's load
falls on all of them; one warm-up round first, then ``--runs`` (median of 5 by
default). Per run:

1. **start -> main window mapped**: the X server's MapNotify of the program's
   first managed top-level window (_NET_WM_PID = the process), seen by a
   thread subscribed with SubstructureNotifyMask on the root window (no window
   manager: top-level windows are the root's children), minus the time taken
   just before ``Popen``; CreateNotify of its first window is kept too;
2. **ready** = registered: the ``200`` answering its REGISTER, seen on the
   loopback interface (an AF_PACKET socket, kernel timestamps; root needed);
   **CPU until ready** is the process's utime + stime from /proc/PID/stat
   read the moment that packet is seen (10 ms ticks);
3. **idle RSS / USS** (psutil, smem's USS: pages only this process has) 2 s
   after registering, and on the first measured run where it goes by mapping
   (bench/startup_memory.py's groups: Qt, pjsua2, Python's heap ...);
   on the first measured run of each, **idle CPU** over
   ``--idle-seconds`` (30 by default) from per-thread schedstat (ns), with the
   busiest threads' wake-ups;
4. ``--calls`` incoming calls (2 by default; the first is the cold path):
   sipp (bench/scenarios/desktop_uac_cancel.xml) calls the user through
   Kamailio and CANCELs ~1 s after the 180 (a missed call). **INVITE -> 180
   Ringing on the wire**: from Kamailio's INVITE to the phone to the phone's
   180, both on the wire (kernel timestamps); **INVITE -> ringing window
   mapped**: from that INVITE to the MapNotify of the phone's next top-level
   window at least 50 px each way, override-redirect ones too (Twinkle's
   popup is one) (X events are stamped on arrival here; both are
   CLOCK_REALTIME);
5. quit: Softclock's main window gets WM_DELETE_WINDOW (what a window
   manager's close button sends), the others SIGTERM; SIGKILL if that fails.

Usage (as root, from the project root)::

    .venv/bin/python bench/desktop.py [--runs 5] [--idle-seconds 30] [--calls 2] [--only softclock,bare] [--json]
        [--store DATA_DIR]

``--store``: each Softclock run starts with a copy of that data directory's
``softclock.db`` (issue 13's memory goal is with 1,000,000 entries: build one
with ``bench/store_scale.py --calls 1000000 --runs 1 --keep``).

It prints a table with the medians and Softclock's ratio to each of the
others, the machine, and how loaded it was (the kernel's CPU pressure, the
share of time some task waited for a CPU: wall-clock figures stretch with it,
CPU-time figures much less). It is not a test and asserts nothing.
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
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.startup import MapWatcher, Xvfb, _XWindowAttributes, proc_cpu  # noqa: E402
from bench.startup_memory import smaps_groups  # noqa: E402
from tests.helpers.kamailio import Kamailio, free_udp_port  # noqa: E402
from tests.helpers.sipp import SippProcess  # noqa: E402

SCENARIO = ROOT / "bench" / "scenarios" / "desktop_uac_cancel"  # .xml
KEYRING_BACKEND = "tests.helpers.keyring_backend.MemoryKeyring"
SUBJECTS = ("softclock", "twinkle", "bare")

# Issue 13's goals for Softclock, printed beside the figures.
GOALS = {
    "map_s": "<= 0.29 s",
    "ready_cpu_s": "< 0.3 s",
    "rss_mb": "<= 100 MB",
    "idle_cpu_pct": "<= 0.03 %",
    "ring_window_ms": "<= 14 ms",
    "ring_180_ms": "<= 2 ms",
}


def note(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the wire


@dataclass
class Packet:
    wall: float  # kernel timestamp, CLOCK_REALTIME
    src: int  # UDP ports
    dst: int
    first: str  # request or status line
    call_id: str
    cseq: str  # e.g. "1 INVITE"
    to: str
    index: int = 0


_HEADER = re.compile(rb"^(call-id|i|cseq|to|t)\s*:\s*(.*)$", re.I | re.M)
SO_TIMESTAMPNS = 35
PACKET_OUTGOING = 4


class Wire:
    """SIP over UDP on the loopback interface, each packet once (as sent), with
    the kernel's receive timestamp. Needs CAP_NET_RAW (root)."""

    def __init__(self) -> None:
        self.packets: list[Packet] = []
        self._cond = threading.Condition()
        self._stop = False
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
        self.sock.bind(("lo", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self.sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._run, name="wire", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        space = socket.CMSG_SPACE(16)
        while not self._stop:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(65535, space)
            except TimeoutError:
                continue
            except OSError:
                return
            if addr[2] != PACKET_OUTGOING or len(data) < 42:
                continue
            wall = time.time()
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
                    sec, nsec = struct.unpack("qq", payload[:16])
                    wall = sec + nsec / 1e9
            if data[12:14] != b"\x08\x00":  # IPv4 only
                continue
            ihl = (data[14] & 0x0F) * 4
            if data[23] != 17:  # UDP
                continue
            udp = 14 + ihl
            src, dst = struct.unpack("!HH", data[udp : udp + 4])
            body = data[udp + 8 :]
            line_end = body.find(b"\r\n")
            if line_end < 0:
                continue
            first = body[:line_end]
            if not (first.startswith(b"SIP/2.0 ") or first.endswith(b" SIP/2.0")):
                continue
            head = body[: body.find(b"\r\n\r\n")] if b"\r\n\r\n" in body else body
            fields = {}
            for name, value in _HEADER.findall(head):
                key = {b"i": b"call-id", b"t": b"to"}.get(name.lower(), name.lower())
                fields.setdefault(key, value.strip().decode("utf-8", "replace"))
            pkt = Packet(
                wall,
                src,
                dst,
                first.decode("utf-8", "replace"),
                fields.get(b"call-id", ""),
                fields.get(b"cseq", ""),
                fields.get(b"to", ""),
            )
            with self._cond:
                pkt.index = len(self.packets)
                self.packets.append(pkt)
                self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self.packets)

    def wait(self, pred: Callable[[Packet], bool], timeout: float, start: int = 0) -> Packet:
        deadline = time.monotonic() + timeout
        i = start
        with self._cond:
            while True:
                while i < len(self.packets):
                    if pred(self.packets[i]):
                        return self.packets[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no such packet on the wire in time")
                self._cond.wait(left)

    def stop(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()


# --------------------------------------------------------------------------- closing a window like a window manager


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


# --------------------------------------------------------------------------- memory, threads


def tree(pid: int) -> list[psutil.Process]:
    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_mem(pid: int) -> dict[str, float]:
    rss = pss = uss = 0
    procs = tree(pid)
    for p in procs:
        try:
            full = p.memory_full_info()
            rss += full.rss
            pss += getattr(full, "pss", 0)
            uss += full.uss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    mb = 1024 * 1024
    return {"rss_mb": rss / mb, "pss_mb": pss / mb, "uss_mb": uss / mb, "processes": len(procs)}


def cpu_pressure() -> float | None:
    """The kernel's cumulative 'some' CPU pressure (us a task waited for a CPU)."""
    try:
        for line in Path("/proc/pressure/cpu").read_text().splitlines():
            if line.startswith("some"):
                return float(line.rsplit("total=", 1)[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


# --------------------------------------------------------------------------- the programs


@dataclass
class Ctx:
    """One run's surroundings."""

    work: Path
    user: str
    password: str
    kam: Kamailio
    env: dict[str, str]
    store: Path | None = None  # a data directory whose softclock.db Softclock starts with (--store)


def softclock_cmd(ctx: Ctx) -> tuple[list[str], dict[str, str]]:
    exe = ROOT / ".venv" / "bin" / "softclock"
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "softclock"]
    config = ctx.work / "settings.toml"
    config.write_text(
        "[account]\n"
        f'server = "{ctx.kam.host}:{ctx.kam.port}"\n'
        f'user = "{ctx.user}"\n'
        f'domain = "{ctx.kam.domain}"\n'
        "[sip]\n"
        f'bind_address = "{ctx.kam.host}"\n'
    )
    if ctx.store is not None:  # a copy: the run writes its calls into it
        data = ctx.work / "data"
        data.mkdir(mode=0o700)
        shutil.copyfile(ctx.store / "softclock.db", data / "softclock.db")
    keyring = ctx.work / "keyring.json"
    old = os.environ.get("SOFTCLOCK_TEST_KEYRING")
    os.environ["SOFTCLOCK_TEST_KEYRING"] = str(keyring)
    try:
        from tests.helpers.keyring_backend import MemoryKeyring

        MemoryKeyring().set_password("softclock", f"sip:{ctx.user}@{ctx.kam.domain}", ctx.password)
    finally:
        if old is None:
            os.environ.pop("SOFTCLOCK_TEST_KEYRING", None)
        else:
            os.environ["SOFTCLOCK_TEST_KEYRING"] = old
    env = dict(
        ctx.env,
        PYTHON_KEYRING_BACKEND=KEYRING_BACKEND,
        SOFTCLOCK_TEST_KEYRING=str(keyring),
        PYTHONPATH=str(ROOT),
        SOFTCLOCK_LOG_LEVEL="INFO",
    )
    return [*base, "--config", str(config), "--data-dir", str(ctx.work / "data")], env


def twinkle_cmd(ctx: Ctx) -> tuple[list[str], dict[str, str]]:
    home = ctx.work / "home"
    conf = home / ".twinkle"
    conf.mkdir(parents=True)
    server = f"{ctx.kam.host}:{ctx.kam.port}"
    (conf / "twinkle.sys").write_text(
        "dev_ringtone=alsa:null\ndev_speaker=alsa:null\ndev_mic=alsa:null\n"
        "gui_use_systray=no\ngui_hide_on_close=no\nstart_hidden=no\n"
        f"sip_udp_port={free_udp_port()}\nrtp_port={free_udp_port() & ~1}\n"
        "log_show_sip=no\nlog_show_debug=no\n"
    )
    (conf / f"{ctx.user}.cfg").write_text(
        f"user_name={ctx.user}\nuser_domain={ctx.kam.domain}\nuser_display={ctx.user}\n"
        f"auth_realm=\nauth_name={ctx.user}\nauth_pass={ctx.password}\n"
        f"registrar={server}\nregister_at_startup=yes\nregistration_time=3600\n"
        f"outbound_proxy=sip:{server}\nall_requests_to_proxy=yes\n"
    )
    return ["twinkle", "--force", "-f", ctx.user], dict(ctx.env, HOME=str(home))


def bare_cmd(ctx: Ctx) -> tuple[list[str], dict[str, str]]:
    return [
        sys.executable,
        str(ROOT / "bench" / "startup_bare.py"),
        "--server",
        f"{ctx.kam.host}:{ctx.kam.port}",
        "--domain",
        ctx.kam.domain,
        "--user",
        ctx.user,
        "--password",
        ctx.password,
        "--bind",
        ctx.kam.host,
    ], ctx.env


COMMANDS = {"softclock": softclock_cmd, "twinkle": twinkle_cmd, "bare": bare_cmd}


# --------------------------------------------------------------------------- one run


class Bench:
    def __init__(
        self,
        args: argparse.Namespace,
        base: Path,
        kam: Kamailio,
        xvfb: Xvfb,
        watcher: MapWatcher,
        wire: Wire,
        env: dict[str, str],
        users: list[tuple[str, str]],
    ) -> None:
        self.args, self.base, self.kam, self.xvfb = args, base, kam, xvfb
        self.watcher, self.wire, self.env, self.users = watcher, wire, env, users

    def run(self, subject: str, label: str, idle: bool) -> dict[str, Any]:
        user, password = self.users.pop(0)
        work = self.base / f"{label}-{subject}"
        work.mkdir()
        runtime = work / "xdg-runtime"
        runtime.mkdir(mode=0o700)
        ctx = Ctx(
            work,
            user,
            password,
            self.kam,
            dict(self.env, XDG_RUNTIME_DIR=str(runtime), HOME=str(work)),
            Path(self.args.store) if self.args.store else None,
        )
        cmd, env = COMMANDS[subject](ctx)
        res: dict[str, Any] = {"subject": subject, "run": label, "user": user}
        xmark, wmark = self.watcher.mark(), self.wire.mark()
        stderr = open(work / "stderr.log", "wb")
        wall0, mono0 = time.time(), time.monotonic()
        proc = subprocess.Popen(
            cmd, env=env, cwd=work, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, start_new_session=True
        )
        pid = proc.pid
        try:
            mapped = self.watcher.wait_map({pid}, 60, xmark)
            res["map_s"] = mapped.mono - mono0
            res["map_cpu_s"] = proc_cpu(pid)
            res["main_window"] = f"{mapped.title!r} {mapped.width}x{mapped.height}"
            created = self.watcher.first_create({pid}, xmark)
            res["create_s"] = created.mono - mono0 if created else None
            reg = self.wire.wait(
                lambda p: (
                    p.src == self.kam.port
                    and p.first.startswith("SIP/2.0 200")
                    and p.cseq.endswith("REGISTER")
                    and f"sip:{user}@" in p.to
                ),
                60,
                wmark,
            )
            res["ready_cpu_s"] = proc_cpu(pid)
            res["registered_s"] = reg.wall - wall0
            res["ready_s"] = max(res["registered_s"], mapped.wall - wall0)
            time.sleep(2.0)
            res["mem"] = tree_mem(pid)
            if idle:
                res["smaps"] = smaps_groups(pid)  # where the memory is, by mapping
            if idle and self.args.idle_seconds > 0:
                note(f"{subject}: idle for {self.args.idle_seconds:g} s ...")
                res.update(self.idle(pid))
            res["calls"] = [self.call(pid, user) for _ in range(self.args.calls)]
            res["mem_after_calls"] = tree_mem(pid)
        except BaseException:
            note(
                f"{label} {subject} failed; stderr tail:\n" + (work / "stderr.log").read_text(errors="replace")[-2500:]
            )
            raise
        finally:
            res["quit"] = self.quit(subject, proc)
            stderr.close()
        return res

    def idle(self, pid: int) -> dict[str, Any]:
        wall = self.args.idle_seconds
        th0 = thread_snapshot(pid)
        c0, w0 = proc_cpu(pid) or 0.0, time.monotonic()
        time.sleep(wall)
        c1, w1 = proc_cpu(pid) or 0.0, time.monotonic()
        th1 = thread_snapshot(pid)
        wall = w1 - w0
        threads = []
        for tid, (name, cpu1, sw1) in th1.items():
            _name0, cpu0, sw0 = th0.get(tid, (name, 0.0, 0))
            threads.append(
                {"thread": name, "cpu_pct": 100.0 * (cpu1 - cpu0) / wall, "wakeups_per_s": (sw1 - sw0) / wall}
            )
        threads.sort(key=lambda t: (-t["wakeups_per_s"], -t["cpu_pct"]))
        return {
            "idle_cpu_pct": sum(t["cpu_pct"] for t in threads),
            "idle_cpu_pct_ticks": 100.0 * (c1 - c0) / wall,
            "idle_wakeups_per_s": sum(t["wakeups_per_s"] for t in threads),
            "idle_threads": threads[:6],
            "idle_s": wall,
            "mem_idle": tree_mem(pid),
        }

    def call(self, pid: int, user: str) -> dict[str, Any]:
        kam = self.kam
        xmark, wmark = self.watcher.mark(), self.wire.mark()
        variables = {
            "domain": kam.domain,
            "from_user": "caller",
            "from_domain": "external.test",
            "display": '"Pat Caller" ',
            "talk_ms": 0,
            "cancel_after_ms": self.args.cancel_after_ms,
        }
        sipp = SippProcess(
            f"bench-{user}", str(SCENARIO), f"{kam.host}:{kam.port}", service=user, variables=variables, timeout_s=30
        )
        out: dict[str, Any] = {}
        try:
            invite = self.wire.wait(lambda p: p.src == kam.port and p.first.startswith("INVITE "), 10, wmark)
            ringing = self.wire.wait(
                lambda p: (
                    p.src == invite.dst
                    and p.dst == kam.port
                    and p.first.startswith("SIP/2.0 180")
                    and p.call_id == invite.call_id
                ),
                10,
                invite.index,
            )
            out["ring_180_ms"] = (ringing.wall - invite.wall) * 1000
            try:
                window = self.watcher.wait_map({pid}, 5, xmark, managed_only=False)
                out["ring_window_ms"] = (window.wall - invite.wall) * 1000
                out["ring_window"] = f"{window.title!r} {window.width}x{window.height}"
            except TimeoutError:
                out["ring_window_ms"] = None
                out["ring_window"] = "no window mapped within 5 s"
            out["sipp_rc"] = sipp.wait(30)
        except BaseException:
            sipp.stop()
            note(f"sipp log ({sipp.logdir}):\n{sipp.log_text()[-3000:]}")
            raise
        if not self.args.keep:
            shutil.rmtree(sipp.logdir, ignore_errors=True)
        time.sleep(0.5)  # the ringing window goes; the next call is a new one
        return out

    def quit(self, subject: str, proc: subprocess.Popen) -> dict[str, Any]:
        t = time.monotonic()
        method = "gone"
        if proc.poll() is None:
            method = "SIGTERM"
            if subject == "softclock" and close_windows_of(self.xvfb.display, proc.pid):
                method = "close window"
            else:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                method += ", then SIGKILL"
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        try:  # anything it left in its session
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return {"method": method, "exit_s": time.monotonic() - t, "returncode": proc.returncode}


# --------------------------------------------------------------------------- report


def med(values: list[Any]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    idle = next((r for r in runs if "idle_cpu_pct" in r), None)
    firsts = [r["calls"][0] for r in runs if r.get("calls")]
    later = [c for r in runs for c in r.get("calls", [])[1:]]
    return {
        "runs": len(runs),
        "map_s": med([r["map_s"] for r in runs]),
        "map_range": (min(r["map_s"] for r in runs), max(r["map_s"] for r in runs)) if runs else None,
        "create_s": med([r.get("create_s") for r in runs]),
        "map_cpu_s": med([r["map_cpu_s"] for r in runs]),
        "ready_s": med([r["ready_s"] for r in runs]),
        "ready_cpu_s": med([r["ready_cpu_s"] for r in runs]),
        "rss_mb": med([r["mem"]["rss_mb"] for r in runs]),
        "uss_mb": med([r["mem"]["uss_mb"] for r in runs]),
        "pss_mb": med([r["mem"]["pss_mb"] for r in runs]),
        "rss_after_calls_mb": med([r["mem_after_calls"]["rss_mb"] for r in runs]),
        "idle_cpu_pct": idle["idle_cpu_pct"] if idle else None,
        "idle_wakeups_per_s": idle["idle_wakeups_per_s"] if idle else None,
        "idle_threads": idle["idle_threads"] if idle else [],
        "smaps": next((r["smaps"] for r in runs if "smaps" in r), {}),
        "ring_window_ms": med([c.get("ring_window_ms") for c in firsts]),
        "ring_window_later_ms": med([c.get("ring_window_ms") for c in later]),
        "ring_180_ms": med([c.get("ring_180_ms") for c in firsts]),
        "ring_180_later_ms": med([c.get("ring_180_ms") for c in later]),
        "quit_s": med([r["quit"]["exit_s"] for r in runs]),
    }


def fmt(v: float | None, spec: str, unit: str = "") -> str:
    return "n/a" if v is None else format(v, spec) + unit


def print_report(summaries: dict[str, dict[str, Any]], runs: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    names = [s for s in SUBJECTS if s in summaries]
    label = {"softclock": "Softclock", "twinkle": "Twinkle", "bare": "bare PySide6+pjsua2"}
    print(f"softclock desktop benchmark -- {meta['when']}")
    print(f"  {meta['machine']}")
    print(
        f"  Xvfb (xcb, no window manager), one D-Bus session, Kamailio on 127.0.0.1:{meta['kamailio_port']}; "
        f"median of {meta['runs']} after a warm-up, rounds interleaved; fresh SIP user and data each run"
    )
    print(
        f"  load during the runs: CPU pressure {fmt(meta.get('cpu_pressure_pct'), '.0f', ' %')} (share of time "
        f"some task waited for a CPU), load average {meta['loadavg']}"
    )
    print(f"  command: {meta['command']}")
    print()
    print("per run (seconds from start; CPU = the process's user+system time):")
    for r in runs:
        calls = r.get("calls", [])
        ring = ", ".join(f"{fmt(c.get('ring_window_ms'), '.0f')}/{fmt(c.get('ring_180_ms'), '.1f')}" for c in calls)
        print(
            f"  {r['run']:>7} {r['subject']:<9} mapped {r['map_s']:.3f} (CPU {fmt(r['map_cpu_s'], '.2f')})  "
            f"registered {r['registered_s']:.3f} (CPU {fmt(r['ready_cpu_s'], '.2f')})  RSS "
            f"{r['mem']['rss_mb']:.0f} USS {r['mem']['uss_mb']:.0f} MB  ring window/180 ms: {ring}  "
            f"quit {r['quit']['exit_s']:.2f} s ({r['quit']['method']})"
        )
    print()
    w = 40
    head = f"  {'':<{w}}" + "".join(f"{label[n]:>22}" for n in names)
    others = [n for n in names if n != "softclock"]
    if "softclock" in names:
        head += "".join(f"{'Softclock / ' + label[n].split()[0]:>22}" for n in others) + f"{'goal (issue 13)':>18}"
    print("summary (medians):")
    print(head)

    def row(title: str, key: str, spec: str, unit: str, scale: float = 1.0, extra: Callable | None = None) -> None:
        vals = {n: summaries[n].get(key) for n in names}
        line = f"  {title:<{w}}"
        for n in names:
            v = vals[n]
            cell = fmt(None if v is None else v * scale, spec, unit)
            if extra is not None:
                cell += extra(summaries[n])
            line += f"{cell:>22}"
        if "softclock" in names:
            for n in others:
                a, b = vals["softclock"], vals[n]
                line += f"{(f'{a / b:.2f}x' if a is not None and b else 'n/a'):>22}"
            line += f"{GOALS.get(key, ''):>18}"
        print(line)

    row(
        "start -> main window mapped",
        "map_s",
        ".3f",
        " s",
        extra=lambda s: f" ({s['map_range'][0]:.2f}-{s['map_range'][1]:.2f})" if s.get("map_range") else "",
    )
    row("  CPU until the window was mapped", "map_cpu_s", ".2f", " s")
    row("start -> ready (registered)", "ready_s", ".3f", " s")
    row("CPU spent until ready", "ready_cpu_s", ".2f", " s")
    row("idle RSS (2 s after registering)", "rss_mb", ".1f", " MB")
    row("idle USS", "uss_mb", ".1f", " MB")
    row(f"idle CPU ({meta['idle_seconds']:g} s, first run)", "idle_cpu_pct", ".3f", " %")
    row("  wake-ups per second", "idle_wakeups_per_s", ".1f", "")
    row("INVITE -> ringing window mapped (1st)", "ring_window_ms", ".1f", " ms")
    row("  later calls", "ring_window_later_ms", ".1f", " ms")
    row("INVITE -> 180 Ringing on the wire (1st)", "ring_180_ms", ".2f", " ms")
    row("  later calls", "ring_180_later_ms", ".2f", " ms")
    row("RSS after the calls", "rss_after_calls_mb", ".1f", " MB")
    print()
    for n in names:
        threads = summaries[n].get("idle_threads") or []
        if threads:
            busy = ", ".join(f"{t['thread']} {t['wakeups_per_s']:.1f}/s {t['cpu_pct']:.3f}%" for t in threads[:4])
            print(f"  idle threads, {label[n]}: {busy}")
    for n in names:
        groups = summaries[n].get("smaps") or {}
        if groups:
            top = sorted(groups.items(), key=lambda kv: -kv[1][0])[:5]
            print(
                f"  memory by mapping, {label[n]} (RSS/USS MB): "
                + "; ".join(f"{g} {rss:.0f}/{uss:.0f}" for g, (rss, uss) in top)
            )
    odd = [(r["run"], r["subject"], c) for r in runs for c in r.get("calls", []) if c.get("sipp_rc") != 0]
    for run, subject, c in odd:
        print(f"  ! {run} {subject}: sipp exited {c.get('sipp_rc')}")


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="measured cold starts of each (after a warm-up round)")
    ap.add_argument("--idle-seconds", type=float, default=30.0, help="idle CPU window, first measured run (0 skips)")
    ap.add_argument("--calls", type=int, default=2, help="incoming calls per run (the first is reported)")
    ap.add_argument("--cancel-after-ms", type=int, default=1000, help="sipp CANCELs this long after the 180")
    ap.add_argument("--only", default="", help="comma-separated subset of softclock,twinkle,bare")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    ap.add_argument(
        "--store",
        default="",
        help="a data directory whose softclock.db each Softclock run starts with, copied "
        "(e.g. 1,000,000 entries: bench/store_scale.py --keep prints one)",
    )
    args = ap.parse_args()
    subjects = [s for s in SUBJECTS if not args.only or s in args.only.split(",")]
    if "twinkle" in subjects and not shutil.which("twinkle"):
        note("Twinkle is not installed (apt-get install -y twinkle): measuring without it")
        subjects.remove("twinkle")
    for tool in ("Xvfb", "sipp"):
        if not shutil.which(tool):
            ap.error(f"{tool} is not installed")
    if os.geteuid() != 0:
        ap.error("the wire is read with an AF_PACKET socket: run as root")

    base = Path(tempfile.mkdtemp(prefix="softclock-bench-desktop-"))
    n_users = (args.runs + 1) * len(subjects) + 2
    users = [(f"u{i:03d}", f"pw-{i:03d}-{os.getpid()}") for i in range(n_users)]
    kam = Kamailio(base / "kamailio", dict(users))
    xvfb = Xvfb(base)
    bus: subprocess.Popen | None = None
    watcher = wire = None
    runs: list[dict[str, Any]] = []
    try:
        kam.start()
        xvfb.start()
        watcher = MapWatcher(xvfb.display)
        wire = Wire()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOFTCLOCK_", "QT_", "DBUS_"))}
        # An installed app has its bytecode compiled: a shell that turns writing it off would
        # measure compiling softclock at every start.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update({"DISPLAY": xvfb.display, "QT_QPA_PLATFORM": "xcb"})
        if shutil.which("dbus-daemon"):
            r, w = os.pipe()
            bus = subprocess.Popen(
                ["dbus-daemon", "--session", "--nofork", f"--print-address={w}"],
                pass_fds=(w,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            os.close(w)
            with os.fdopen(r) as fh:
                env["DBUS_SESSION_BUS_ADDRESS"] = fh.readline().strip()
        note(f"Kamailio {kam.host}:{kam.port}, Xvfb {xvfb.display}, subjects {subjects}, work dir {base}")
        bench = Bench(args, base, kam, xvfb, watcher, wire, env, users)
        p0, t0 = cpu_pressure(), time.monotonic()
        for k in range(args.runs + 1):
            label = "warm-up" if k == 0 else f"run {k}"
            for subject in subjects:
                r = bench.run(subject, label, idle=(k == 1))
                note(
                    f"{label} {subject}: mapped {r['map_s']:.3f} s, ready {r['ready_s']:.3f} s "
                    f"(CPU {fmt(r['ready_cpu_s'], '.2f')} s), RSS {r['mem']['rss_mb']:.0f} MB, ring "
                    f"{fmt(r['calls'][0].get('ring_window_ms'), '.1f')} ms / 180 {fmt(r['calls'][0].get('ring_180_ms'), '.2f')} ms"
                )
                if k:
                    runs.append(r)
        p1, t1 = cpu_pressure(), time.monotonic()
        summaries = {s: summarize([r for r in runs if r["subject"] == s]) for s in subjects}
        meta = {
            "when": datetime.now().isoformat(timespec="seconds"),
            "machine": f"{platform.node()}: {platform.machine()}, {os.cpu_count()} CPUs, "
            f"{psutil.virtual_memory().total / 2**30:.1f} GiB, Linux {platform.release()}, "
            f"Python {platform.python_version()}",
            "kamailio_port": kam.port,
            "runs": args.runs,
            "idle_seconds": args.idle_seconds,
            "cpu_pressure_pct": (100.0 * (p1 - p0) / 1e6 / (t1 - t0)) if p0 is not None and p1 is not None else None,
            "loadavg": " ".join(f"{v:.1f}" for v in os.getloadavg()),
            "command": " ".join([os.path.relpath(sys.executable, ROOT), *sys.argv]),
        }
        if args.json:
            print(json.dumps({"meta": meta, "summaries": summaries, "runs": runs}, indent=1, default=str))
        else:
            print_report(summaries, runs, meta)
        return 0
    finally:
        if wire is not None:
            wire.stop()
        if watcher is not None:
            watcher.stop()
        if bus is not None:
            bus.terminate()
            bus.wait(5)
        xvfb.stop()
        kam.stop()
        if args.keep:
            note(f"logs kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
