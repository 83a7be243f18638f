"""The matter prompt searches off the UI thread: typing never waits on the store."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt

from softclock.store import queries
from softclock.store.db import open_memory_store
from softclock.ui.background import BackgroundRunner
from softclock.ui.matter_prompt import MatterPrompt
from tests.helpers.entries import make_matter


def test_slow_search_does_not_block_typing_and_enter_picks_the_newest_results(qtbot) -> None:  # type: ignore[no-untyped-def]
    store = open_memory_store()
    for code, client in (("ACME-1", "Acme"), ("ACME-2", "Acme"), ("BETA-1", "Beta")):
        make_matter(store, code, client=client)
    gate = threading.Event()
    asked: list[str] = []

    def slow_search(text: str):  # type: ignore[no-untyped-def]
        asked.append(text)
        gate.wait(10)  # the store is slow until the test says otherwise
        with store.session() as s:
            return queries.search_matters(s, text)

    runner = BackgroundRunner.shared()
    prompt = MatterPrompt(slow_search, runner=runner)
    qtbot.addWidget(prompt)
    chosen: list[object] = []
    prompt.matter_chosen.connect(lambda call_id, matter: chosen.append((call_id, matter)))
    prompt.open_for("call-1", "Bob")
    qtbot.keyClicks(prompt.filter_edit, "beta")  # returns while the first search is still blocked
    assert prompt.searching and prompt.filter_edit.text() == "beta"
    qtbot.keyClick(prompt.filter_edit, Qt.Key.Key_Return)
    assert chosen == []  # nothing picked from stale results
    with qtbot.waitSignal(prompt.matter_chosen, timeout=5000):
        gate.set()
    beta = next(r.id for r in queries.search_matters(store.session(), "BETA-1"))
    assert chosen == [("call-1", beta)] and not prompt.searching
    assert asked[0] == "" and asked[-1] == "beta"
