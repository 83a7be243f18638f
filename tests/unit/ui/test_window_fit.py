"""The main window fits the screen at 200 % scaling, and opening the matter prompt
never grows it (its content scrolls instead)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from softclock.ui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[3]


class _Controller:
    account_configured = True
    demo_running = False
    region = "US"
    recording_policy = "off"


def _settle() -> None:
    """Deliver the layout requests a shown widget posts (a window grows, if it does, here)."""
    for _ in range(3):
        QApplication.sendPostedEvents()
        QApplication.processEvents()


def test_opening_the_matter_prompt_does_not_grow_the_window_and_brings_it_into_view(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = MainWindow(_Controller())  # type: ignore[arg-type]
    qtbot.addWidget(window, before_close_func=lambda w: setattr(w, "quitting", True))
    window.show()
    qtbot.waitExposed(window)
    for width, height in ((760, 620), (520, 330)):  # the default, and a window made small by its person
        window.resize(width, height)
        _settle()
        before = window.size()
        assert (before.width(), before.height()) == (width, height)
        with qtbot.waitSignal(window.prompt.results_shown, timeout=5000):
            window.prompt.open_for("7", "Pat")
        _settle()
        assert window.prompt.isVisible() and window.size() == before
        later = window.prompt.later_button  # scrolled into view where the window is small
        qtbot.waitUntil(lambda: not later.visibleRegion().isEmpty(), timeout=2000)  # noqa: B023 - waited here
        window.prompt.close_prompt()


_PROBE = """
import json, sys
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv)
from softclock.ui.palette import style_sheet
app.setStyleSheet(style_sheet())
from softclock.ui.main_window import MainWindow

class Controller:
    account_configured = True
    demo_running = False
    region = "US"
    recording_policy = "off"

def settle():
    for _ in range(3):
        QApplication.sendPostedEvents()
        QApplication.processEvents()

window = MainWindow(Controller())
window.refresh_welcome()  # an account is set up: no welcome panel
window.show()
settle()
free = app.primaryScreen().availableGeometry()
seen = {"screen": [free.width(), free.height()], "scale": app.primaryScreen().devicePixelRatio()}
seen["window"] = [window.width(), window.height()]
seen["minimum"] = [window.minimumSizeHint().width(), window.minimumSizeHint().height()]
window.prompt.open_for("7", "Pat")
settle()
seen["with prompt"] = [window.width(), window.height()]
seen["pages"] = []
for i in range(window.tabs.count()):
    page = window.tabs.widget(i).minimumSizeHint()
    seen["pages"].append([window.tabs.tabText(i), page.width()])
seen["tabs width"] = window.tabs.parentWidget().width()  # the window's scroll area's viewport
phone = window.tabs.widget(0)  # the Phone page's own scroll area
seen["phone content"] = phone.widget().minimumSizeHint().width()
seen["phone viewport"] = phone.viewport().width()
seen["prompt in view"] = all(
    not w.visibleRegion().isEmpty() for w in (window.prompt.filter_edit, window.prompt.later_button)
)
window.quitting = True
print(json.dumps(seen))
"""


def test_the_default_window_fits_a_laptop_screen_at_200_percent(tmp_path: Path) -> None:
    """1366x768 at 200 %: 683x384 logical pixels."""
    config = tmp_path / "screen.json"
    config.write_text(json.dumps({"screens": [{"name": "laptop", "width": 1366, "height": 768, "dpr": 1}]}))
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": f"offscreen:configfile={config}",
        "QT_SCALE_FACTOR": "2",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["scale"] == 2 and seen["screen"] == [683, 384]
    width, height = seen["window"]
    assert width <= 683 - 20 and height <= 384 * 0.9  # room left for the title bar and borders
    assert seen["minimum"][0] <= width and seen["minimum"][1] <= height
    assert seen["with prompt"] == seen["window"]
    for name, page_width in seen["pages"]:  # no page needs a horizontal scroll bar ...
        assert page_width <= seen["tabs width"], name
    assert seen["phone content"] <= seen["phone viewport"]  # ... not even with a call and the prompt open
    assert seen["prompt in view"]  # the Phone page scrolled to the prompt, its search box and Decide later
