#!/usr/bin/env python3
"""Where Softclock's idle memory goes: RSS and USS layer by layer, and by mapping.

Layers (one fresh process, each step measured after ``gc.collect()``; psutil's
RSS and USS, USS = pages only this process has):

1. the interpreter and site;
2. PySide6 (QtCore, QtGui, QtWidgets) imported;
3. the QApplication (platform plugin: ``$QT_QPA_PLATFORM``, ``offscreen``
   without a display) with the style sheet;
4. the desktop shell imported and the main window built, shown and painted
   (``DesktopApp(background=True)``, the core not started);
5. SQLAlchemy and the store's models imported;
6. the rest of the core imported (capture, facades, audit, matching with
   phonenumbers, the SIP engine module ...) and pjsua2 imported;
7. the core built as the app builds it (store opened and migrated in a fresh
   data directory, the SIP engine started with one UDP transport, capture,
   facades, the database worker), attached to the window;
8. the sound controller (PortAudio, pulsectl), unless ``--null-audio``.

Then the process's mappings (``/proc/self/smaps``) grouped by what they belong
to: Qt and PySide6's libraries, pjsua2's, Python's extension modules, the
interpreter, other shared libraries, fonts and caches, and anonymous memory
(Python's objects and every library's malloc heap).

``--pid PID`` instead groups a running process's mappings (the same groups),
e.g. the app that bench/desktop.py started.

Usage::

    .venv/bin/python bench/startup_memory.py [--null-audio] [--pid PID]

It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

GROUPS = (
    ("Qt (+ PySide6) libraries", re.compile(r"libQt[56]|/PySide6/|/shiboken6|libicu|libxcb|libX|libGL|libEGL|libxkb")),
    ("pjsua2 (+ its OpenSSL)", re.compile(r"pjsua2")),
    ("SQLAlchemy extensions", re.compile(r"/sqlalchemy/")),
    ("Python extension modules", re.compile(r"site-packages/.*\.so|lib-dynload/")),
    ("Python interpreter", re.compile(r"libpython|/bin/python")),
    ("fonts, caches, locale", re.compile(r"\.ttf|\.otf|fontconfig|\.cache|locale|\.pcf")),
    ("other shared libraries", re.compile(r"\.so")),
)


def smaps_groups(pid: int | str = "self") -> dict[str, list[float]]:
    """MB of [RSS, private (USS)] per group, from /proc/PID/smaps."""
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    name = "anonymous (Python objects, malloc heaps, stacks)"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        first = line.split(None, 1)[0]
        if "-" in first and not first.endswith(":"):  # a mapping's header line
            parts = line.split(None, 5)
            path = parts[5].strip() if len(parts) > 5 else ""
            name = "anonymous (Python objects, malloc heaps, stacks)"
            if path and not path.startswith("["):
                name = next((g for g, rx in GROUPS if rx.search(path)), "other files")
            elif path.startswith("[stack"):
                name = "anonymous (Python objects, malloc heaps, stacks)"
            elif path in ("[vdso]", "[vvar]", "[vsyscall]"):
                name = "kernel ([vdso], [vvar])"
        elif first == "Rss:":
            out[name][0] += int(line.split()[1]) / 1024
        elif first in ("Private_Clean:", "Private_Dirty:"):
            out[name][1] += int(line.split()[1]) / 1024
    return dict(out)


def print_groups(groups: dict[str, list[float]]) -> None:
    total = [sum(v[0] for v in groups.values()), sum(v[1] for v in groups.values())]
    print(f"  {'mappings':<52} {'RSS MB':>8} {'USS MB':>8}")
    for name, (rss, uss) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
        print(f"  {name:<52} {rss:8.1f} {uss:8.1f}")
    print(f"  {'total':<52} {total[0]:8.1f} {total[1]:8.1f}")


class Steps:
    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.rows: list[tuple[str, float, float]] = []

    def __call__(self, label: str) -> None:
        gc.collect()
        full = self.proc.memory_full_info()
        self.rows.append((label, full.rss / 2**20, full.uss / 2**20))

    def print(self) -> None:
        print(f"  {'layer':<60} {'RSS MB':>8} {'+':>6} {'USS MB':>8} {'+':>6}")
        prev = (0.0, 0.0)
        for label, rss, uss in self.rows:
            print(f"  {label:<60} {rss:8.1f} {rss - prev[0]:+6.1f} {uss:8.1f} {uss - prev[1]:+6.1f}")
            prev = (rss, uss)


def layers(null_audio: bool) -> None:
    step = Steps()
    step("1 interpreter and site")
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
    from PySide6 import QtCore, QtGui, QtWidgets  # noqa: F401

    step("2 PySide6 QtCore, QtGui, QtWidgets imported")
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv)
    from softclock.ui.application import DesktopApp, _style_sheet

    app.setStyleSheet(_style_sheet())
    step(f"3 QApplication ({os.environ['QT_QPA_PLATFORM']}) + style sheet (+ the shell's imports)")
    work = Path(tempfile.mkdtemp(prefix="softclock-bench-memory-"))
    (work / "settings.toml").write_text(
        f'[sip]\nbind_address = "127.0.0.1"\nnull_audio = {"true" if null_audio else "false"}\n'
    )
    desktop = DesktopApp(work / "settings.toml", work / "data", listen=False, background=True)
    desktop.window.show()
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        app.processEvents()
    step("4 main window built, shown and painted (no core)")
    import sqlalchemy  # noqa: F401

    import softclock.store.models

    step("5 SQLAlchemy + the store's models imported")
    import pjsua2  # noqa: F401

    import softclock.app
    import softclock.sip.engine  # noqa: F401

    step("6 the rest of the core + pjsua2 imported")
    desktop._started = True
    desktop._attach(*desktop._build())
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        app.processEvents()
    step("7 core built (store open, SIP engine started, capture, worker)" + (" + sound" if not null_audio else ""))
    import ctypes

    ctypes.CDLL(None).malloc_trim(0)
    step("8 malloc_trim(0): free heap pages handed back")
    print("Softclock's memory, layer by layer (one process, after gc.collect()):")
    step.print()
    print()
    print("by mapping, at the end:")
    print_groups(smaps_groups())
    desktop.shutdown()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--null-audio", action="store_true", help="no sound controller (PortAudio, pulsectl)")
    ap.add_argument("--pid", type=int, help="group the mappings of this running process instead")
    args = ap.parse_args()
    if args.pid:
        print(f"process {args.pid} ({psutil.Process(args.pid).name()}), by mapping:")
        print_groups(smaps_groups(args.pid))
        return 0
    layers(args.null_audio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
