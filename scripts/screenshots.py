"""The README's pictures: the Phone tab during a call, Review, History and the tray menu.

The real windows over a temporary store seeded like a morning at a firm (calls and
drafts of today, one flagged, a split call, a missed call, a week of approved
entries; every time relative to now), grabbed with ``QWidget.grab()``. Under Xvfb
when it is installed (started here on a free display when there is no
``DISPLAY``), else on Qt's offscreen platform. Nothing outside the temporary
directory is touched but the pictures.

    .venv/bin/python scripts/screenshots.py [--out docs/images] [--platform auto|xcb|offscreen]

Writes phone.png, review.png, history.png and tray.png (each kept under 150 KB).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LIMIT = 150_000  # bytes a picture may take in the repository
SIZE = (900, 640)  # the window, in logical pixels
ME = "alice@firm.example"


def _start_xvfb() -> subprocess.Popen[bytes] | None:
    """Xvfb on a free display (it picks one and says which); None if it is not installed."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        return None
    read, write = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as said:
        number = said.readline().strip()
    if not number:
        proc.kill()
        return None
    os.environ["DISPLAY"] = f":{number}"
    return proc


def choose_platform(platform: str, script: str) -> tuple[str, subprocess.Popen[bytes] | None]:
    """Qt's platform for ``--platform auto|xcb|offscreen`` (set in QT_QPA_PLATFORM), and the Xvfb
    started for it when there was no DISPLAY (the caller terminates it)."""
    xvfb = None
    if platform in ("auto", "xcb") and not os.environ.get("DISPLAY"):
        xvfb = _start_xvfb()
        if xvfb is None and platform == "xcb":
            raise SystemExit(f"{script}: --platform xcb needs a DISPLAY or Xvfb")
    if platform == "auto":
        platform = "xcb" if os.environ.get("DISPLAY") else "offscreen"
    os.environ["QT_QPA_PLATFORM"] = platform
    return platform, xvfb


# ---------------------------------------------------------------------- the seeded store


class Clock:
    """The monotonic clock the seeded calls were timed with: seconds since a fixed UTC instant."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._zero = now - timedelta(days=30)

    def at(self, utc: datetime) -> tuple[float, datetime]:
        return (utc - self._zero).total_seconds(), utc

    def mono(self) -> float:
        return self.at(self.now)[0]


@dataclass(frozen=True)
class Live:
    """The call on screen in the Phone picture."""

    handle: int
    call_id: str
    uri: str
    name: str
    answered: datetime


MATTERS = [
    ("HART-014", "Warehouse lease renewal", "Hartley & Sons"),
    ("HART-019", "Delivery dispute with Norcross", "Hartley & Sons"),
    ("MERI-022", "Employment claim (Okafor)", "Meridian Health"),
    ("BROO-003", "Estate of Joan Brook", "Brookline Trust"),
    ("BROO-007", "Sale of 12 Elm Street", "Brookline Trust"),
    ("CAST-108", "Supplier contract review", "Castellan Foods"),
]
NUMBERS = [
    ("+1 202 555 0143", "Hartley & Sons", "HART-014"),
    ("+1 312 555 0178", "Meridian Health", "MERI-022"),
    ("+1 617 555 0199", "Brookline Trust", ""),
]


def seed(data_dir: Path, now: datetime) -> tuple[Any, Any, Any, Clock, Live]:
    """The store, its facades, a capture that recorded the calls, its clock, and the call still going on."""
    from softclock import events as ev
    from softclock.capture import Capture
    from softclock.changes import ChangeBus
    from softclock.facades import facades
    from softclock.store.db import open_store
    from softclock.store.queries import add_matter, add_number

    store = open_store(data_dir)
    with store.session() as s, s.begin():
        ids = {code: add_matter(s, code, name, client).id for code, name, client in MATTERS}
        for number, client, code in NUMBERS:
            add_number(s, number, client, code)
    clock = Clock(now)
    capture = Capture(store, timekeeper=lambda: ME, mono=clock.mono, short_call_s=lambda: 30.0)
    views = facades(store, lambda: ME, _policy, ChangeBus())
    handles = iter(range(100, 1000))

    def call(
        start: datetime,
        talk_s: float,
        uri: str,
        name: str = "",
        incoming: bool = False,
        matter: str | None = None,
        answered: bool = True,
        ring_s: float = 6.0,
    ) -> int:
        handle = next(handles)
        call_id = f"shot-{handle}"
        direction = ev.Direction.INCOMING if incoming else ev.Direction.OUTGOING
        if not incoming:
            capture.handle(ev.CallStarted(*clock.at(start), call_id, handle, ME, uri, name))
        capture.handle(ev.CallRinging(*clock.at(start), call_id, handle, direction, ME, uri, name))
        end = start + timedelta(seconds=ring_s)
        if answered:
            capture.handle(ev.CallConnected(*clock.at(end), call_id, handle))
            if matter is not None:
                capture.assign_matter(handle, ids[matter])
            end += timedelta(seconds=talk_s)
            capture.handle(ev.CallEnded(*clock.at(end), call_id, handle, 200, "Normal call clearing", talk_s, True))
        else:
            capture.handle(ev.CallEnded(*clock.at(end), call_id, handle, 487, "Request Terminated", 0.0, False))
        return handle

    def say(handle: int, narrative: str) -> str:
        """The narrative of the call's (one) entry; its id."""
        entry_id = next(e.id for e in views.review.entries("draft") if e.sip_call_id == f"shot-{handle}")
        views.review.edit(entry_id, narrative=narrative)
        return entry_id

    # A week of settled calls (approved): the History picture.
    approved = []
    for days, clock_time, talk, matter, number, name, text in [
        (6, "09:30", 1260, "HART-014", "+12025550143", "Dana Hartley", "Heads of terms for the lease renewal."),
        (5, "11:10", 540, "CAST-108", "+13125550111", "Castellan Foods", "Liability cap in the supply terms."),
        (4, "14:05", 1830, "MERI-022", "+13125550178", "Meridian HR", "Witness statements: timetable."),
        (3, "10:15", 300, "BROO-003", "+16175550199", "Margaret Brook", "Grant of probate: documents needed."),
        (2, "15:40", 960, "HART-019", "+12025550143", "Dana Hartley", "Norcross's reply on the damaged pallets."),
        (1, "09:50", 720, "BROO-007", "+16175550199", "Margaret Brook", "Completion date and the searches."),
        (1, "16:20", 420, "MERI-022", "+13125550178", "Meridian HR", "Settlement figure: instructions confirmed."),
    ]:
        hour, minute = (int(part) for part in clock_time.split(":"))
        local = (now.replace(tzinfo=UTC).astimezone() - timedelta(days=days)).replace(hour=hour, minute=minute)
        start = local.astimezone(UTC).replace(tzinfo=None)  # a past day at office hours, local time
        handle = call(start, talk, f"sip:{number}@firm.example", name, matter=matter, incoming=days % 2 == 0)
        approved.append(say(handle, text))
    outcome = views.review.approve(approved)
    if outcome.refused:
        raise SystemExit(f"screenshots: the seeded entries were not approved: {outcome.refused}")

    # This morning: drafts for the Review picture and the Today list, times counted back from now.
    def ago(minutes: float) -> datetime:
        return now - timedelta(minutes=minutes)

    lease = call(ago(155), 846, "sip:+12025550143@firm.example", "Dana Hartley", matter="HART-014")
    say(lease, "Rent review clause and the break option; Dana to confirm the dates.")
    both = call(ago(128), 1322, "sip:+13125550178@firm.example", "Meridian HR", incoming=True, matter="MERI-022")
    first = say(both, "Tribunal hearing: bundle and witness availability.")
    views.review.split(first, [902, 420], matters=[ids["MERI-022"], ids["CAST-108"]])
    call(ago(83), 0, "sip:+16465550110@firm.example", "", incoming=True, answered=False, ring_s=21)
    call(ago(61), 14, "sip:+13125550111@firm.example", "Castellan Foods")  # short: not billable
    call(ago(36), 372, "sip:+442079460958@firm.example", "", incoming=True)  # no matter chosen yet
    views.review.add_manual(
        ago(60 * 20).replace(tzinfo=UTC), 540, "+1 617 555 0199", ids["BROO-007"], "From the car: buyer's solicitor."
    )

    # Now: a call to the Brookline trust, four minutes in, its matter still to choose.
    started = ago(4.4)
    handle = next(handles)
    uri, name = "sip:+16175550199@firm.example", "Margaret Brook"
    capture.handle(ev.CallStarted(*clock.at(started), "shot-live", handle, ME, uri, name))
    answered = started + timedelta(seconds=9)
    capture.handle(ev.CallConnected(*clock.at(answered), "shot-live", handle))
    return store, views, capture, clock, Live(handle, "shot-live", uri, name, answered)


def _policy() -> Any:
    from softclock.billing import Policy

    return Policy()


# ---------------------------------------------------------------------- the windows


class _Controller:
    account_configured = True
    demo_running = False
    region = "US"
    recording_policy = "off"

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None  # nothing is clicked


class _Phone:
    ready = True
    last_dialled = "+12025550143"


def _wait(done: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    """Turn the event loop until ``done()`` (a script, not a test: a deadline, no fixed sleep)."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def _settle() -> None:
    from PySide6.QtWidgets import QApplication

    for _ in range(5):
        QApplication.sendPostedEvents()
        QApplication.processEvents()


def _save(image: Any, path: Path) -> int:
    """``image`` as PNG, compressed hard; in 256 colours if it is still over the limit."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage

    image.save(str(path), "PNG", 0)
    if path.stat().st_size > LIMIT:
        image.convertToFormat(QImage.Format.Format_Indexed8, Qt.ImageConversionFlag.ThresholdDither).save(
            str(path), "PNG", 0
        )
    size = path.stat().st_size
    if size > LIMIT:
        raise SystemExit(f"screenshots: {path.name} is {size} bytes, over {LIMIT}")
    return size


def _tray_picture(window: Any) -> Any:
    """The tray as a person sees it: a panel strip with Softclock's icon (on a call, with
    its tooltip), and the icon's menu open beneath it. The strip is drawn (no tray runs
    under Xvfb); the icon, the tooltip text and the menu are the app's own."""
    from PySide6.QtCore import QPoint, QRect, Qt
    from PySide6.QtGui import QColor, QFont, QImage, QPainter

    from softclock.ui.tray import Tray

    tray = Tray(window)
    window.tray = tray
    window._update_tray()
    menu = tray.menu
    menu.popup(QPoint(0, 0))
    _wait(menu.isVisible, "the tray menu")
    _settle()
    shot = menu.grab()
    menu.hide()
    scale = shot.devicePixelRatio()
    width, strip, pad = max(520, shot.width() / scale + 240), 30, 8
    image = QImage(int(width * scale), int((strip + shot.height() / scale + pad) * scale), QImage.Format.Format_RGB32)
    image.setDevicePixelRatio(scale)
    image.fill(QColor("#3c4043"))  # a desktop: the panel's and the wallpaper's colours, not the app's
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.fillRect(QRect(0, 0, int(width), strip), QColor("#202124"))
    icon_x = int(width) - 3 * strip
    painter.drawPixmap(icon_x + 4, 4, tray.icon.icon().pixmap(strip - 8, strip - 8))
    font = QFont(painter.font())
    font.setPointSizeF(font.pointSizeF() * 0.95)
    painter.setFont(font)
    painter.setPen(QColor("#e8eaed"))
    painter.drawText(QRect(pad, 0, icon_x - 2 * pad, strip), Qt.AlignmentFlag.AlignVCenter, tray.tooltip)
    painter.drawPixmap(int(icon_x + strip - shot.width() / scale), strip, shot)
    painter.end()
    return image


def take(out: Path) -> dict[str, int]:
    from PySide6.QtWidgets import QApplication

    from softclock import events as ev
    from softclock.ui.background import BackgroundRunner
    from softclock.ui.branding import brand
    from softclock.ui.main_window import MainWindow
    from softclock.ui.palette import style_sheet

    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setApplicationName("Softclock")
    brand(app)
    app.setStyleSheet(style_sheet())
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="softclock-shots-") as tmp:
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        store, views, capture, clock, live = seed(Path(tmp) / "data", now)
        window = MainWindow(_Controller())
        window.quitting = True  # closing at the end neither asks nor hides
        window.resize(*SIZE)
        window.show()
        window.attach(_Phone(), views, capture)  # type: ignore[arg-type]
        window.on_sip_event(
            ev.RegistrationChanged(*clock.at(now), ev.RegState.REGISTERED, ME, 200, "OK", f"Registered as {ME}")
        )
        window.on_sip_event(ev.CallStarted(*clock.at(now), live.call_id, live.handle, ME, live.uri, live.name))
        window.on_sip_event(ev.CallConnected(*clock.at(live.answered), live.call_id, live.handle))
        prompt = window.prompt
        _wait(lambda: prompt.isVisible() and not prompt.searching, "the matter prompt")
        prompt.filter_edit.setText("broo")  # as typed: the Brookline matters
        _wait(lambda: not prompt.searching and prompt.results.count() > 0, "the prompt's matches")
        _wait(lambda: window.today.topLevelItemCount() >= 6, "the Today list")
        _settle()
        sizes["phone.png"] = _save(window.grab().toImage(), out / "phone.png")

        window.tabs.setCurrentIndex(1)
        _wait(lambda: window.review.table.rowCount() >= 6, "the Review tab")
        _settle()
        sizes["review.png"] = _save(window.grab().toImage(), out / "review.png")

        window.tabs.setCurrentIndex(2)
        _wait(lambda: window.history.model.rowCount() >= 10, "the History tab")
        table = window.history.table
        table.resizeColumnsToContents()
        table.setColumnWidth(3, min(table.columnWidth(3), 230))  # the matter elided; the narrative in sight
        _settle()
        sizes["history.png"] = _save(window.grab().toImage(), out / "history.png")

        window.tabs.setCurrentIndex(0)
        sizes["tray.png"] = _save(_tray_picture(window), out / "tray.png")
        window.close()
        closed: list[bool] = []
        BackgroundRunner.shared().submit(store.close, closed.append)  # after the worker's last read
        _wait(lambda: bool(closed), "the store to close")
        BackgroundRunner.shared().stop()
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="where the PNGs go")
    parser.add_argument("--platform", choices=("auto", "xcb", "offscreen"), default="auto")
    args = parser.parse_args(argv)
    platform, xvfb = choose_platform(args.platform, "screenshots")
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")  # never the person's keyring
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        sizes = take(args.out)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(timeout=10)
    for name, size in sizes.items():
        print(f"{args.out / name}: {size // 1024} KB ({platform})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
