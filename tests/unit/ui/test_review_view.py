"""The Review tab's split dialog and merge action, driven through the real
widgets against a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from sqlalchemy import select

from softclock import audit
from softclock.billing import Policy
from softclock.store.db import Store, open_store
from softclock.store.models import Matter, TimeEntry
from softclock.ui.review_view import ReviewView
from tests.helpers.entries import NOW, make_entry, make_matter


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(tmp_path / "data")
    yield store
    store.close()


def attach(qtbot, view: ReviewView, store: Store, policy=Policy) -> None:  # type: ignore[no-untyped-def]
    """The view on the facades of ``store``, as the desktop app wires it (one database worker)."""
    from softclock.changes import ChangeBus
    from softclock.facades import facades
    from softclock.ui.background import BackgroundRunner

    views = facades(store, lambda: "alice", policy, ChangeBus())
    with qtbot.waitSignal(view.drafts_shown, timeout=5000):
        view.attach(views.review, views.matters, BackgroundRunner.shared())


def refresh(qtbot, view: ReviewView) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(view.drafts_shown, timeout=5000):
        view.refresh()


@pytest.fixture
def view(qtbot, store: Store) -> ReviewView:  # type: ignore[no-untyped-def]
    view = ReviewView()
    qtbot.addWidget(view)
    attach(qtbot, view, store)
    view.show()
    return view


def _entries(store: Store) -> list[tuple[str, float]]:
    with store.session() as s:
        rows = s.execute(select(Matter.code, TimeEntry.raw_seconds).outerjoin(Matter).order_by(TimeEntry.started_utc))
        return [(code, raw) for code, raw in rows]


def _type(qtbot, edit, text: str) -> None:  # type: ignore[no-untyped-def]
    edit.selectAll()
    qtbot.keyClicks(edit, text)


def test_split_dialog_shows_each_piece_billed_live_and_splits_across_matters(qtbot, view, store) -> None:  # type: ignore[no-untyped-def]
    lease = make_matter(store, "LEASE-1")
    tax = make_matter(store, "TAX-9", client="Beta")
    with store.session() as s, s.begin():
        s.get(Matter, tax).policy_json = json.dumps({"increment_min": 15})
    make_entry(store, 1000.4, lease)
    refresh(qtbot, view)
    view.table.selectRow(0)
    qtbot.mouseClick(view.split_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.split_dialog is not None, timeout=5000)  # read on the database worker
    dialog = view.split_dialog
    assert dialog is not None and dialog.isVisible()
    first, second = dialog.piece_rows
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    # 1000 s offered as two halves: the call rounds once to 3 units, allocated 2 + 1.
    assert (first.duration.text(), second.duration.text()) == ("8:20", "8:20")
    assert (first.billed.text(), second.billed.text()) == ("2 units", "1 unit") and ok.isEnabled()

    _type(qtbot, first.duration, "4:00")  # the last piece takes the rest
    assert second.duration.text() == "12:40" and ok.isEnabled()
    assert dialog.total_label.text() == "The pieces add up to the entry's 16:40."
    assert (first.billed.text(), second.billed.text()) == ("1 unit", "2 units")
    _type(qtbot, second.duration, "12:20")  # the last piece typed itself: nothing fills it
    assert not ok.isEnabled() and first.duration.text() == "4:00"
    assert dialog.total_label.text() == "0:20 of the entry's 16:40 is not in a piece yet."
    _type(qtbot, second.duration, "12:40")
    assert ok.isEnabled()

    with qtbot.waitSignal(dialog.matters_offered, timeout=2000):  # once typing pauses
        qtbot.keyClicks(dialog.filter_edit, "beta")
    tax_index = second.matter.findText("TAX-9", Qt.MatchFlag.MatchStartsWith)
    assert tax_index > 0 and first.matter.currentText().startswith("LEASE-1")
    second.matter.setCurrentIndex(tax_index)
    # On TAX-9's 15-minute increments the call is 2 units, both for the longer piece.
    assert second.billed.text() == "2 units"

    _type(qtbot, second.duration, "x")
    assert not ok.isEnabled() and dialog.total_label.text().startswith("Piece 2: type a duration")
    _type(qtbot, second.duration, "12:40")
    with qtbot.waitSignal(view.drafts_shown, timeout=5000):  # split on the worker, then shown again
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)

    assert _entries(store) == [("LEASE-1", 240.0), ("TAX-9", pytest.approx(760.4))]
    assert view.message.text().startswith("Split ") and view.table.rowCount() == 2
    with store.session() as s:
        assert audit.verify(s, full=True).ok


def _open_split(qtbot, view: ReviewView):  # type: ignore[no-untyped-def]
    refresh(qtbot, view)
    view.table.selectRow(0)
    qtbot.mouseClick(view.split_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.split_dialog is not None, timeout=5000)
    return view.split_dialog


def test_split_dialog_explains_a_piece_that_bills_no_units(qtbot, view, store) -> None:  # type: ignore[no-untyped-def]
    make_entry(store, 400, make_matter(store, "LEASE-1"))
    dialog = _open_split(qtbot, view)
    first, second = dialog.piece_rows
    assert dialog.zero_label.isHidden()
    _type(qtbot, first.duration, "6:00")  # 400 s rounds up to 2 units of 6 min; 6:00 and 0:40 share them
    assert second.duration.text() == "0:40"
    assert (first.billed.text(), second.billed.text()) == ("2 units", "0 units")
    said = (
        "Piece 2 bills 0 units: the call is rounded once, to 2 units of 6 min, shared by length, "
        "and the longer pieces take them."
    )
    assert not dialog.zero_label.isHidden() and dialog.zero_label.text() == said
    assert second.billed.toolTip().startswith("0 units: the call is rounded once")
    _type(qtbot, first.duration, "3:20")
    assert dialog.zero_label.isHidden() and second.billed.text() == "1 unit"


def test_split_dialog_add_and_remove_pieces_keep_the_total(qtbot, view, store) -> None:  # type: ignore[no-untyped-def]
    make_entry(store, 600, make_matter(store, "LEASE-1"))
    dialog = _open_split(qtbot, view)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    _type(qtbot, dialog.piece_rows[0].duration, "2:00")
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)  # the new piece halves the last one
    assert [p.duration.text() for p in dialog.piece_rows] == ["2:00", "4:00", "4:00"] and ok.isEnabled()
    _type(qtbot, dialog.piece_rows[1].duration, "1:30")  # a middle piece: the last takes the rest
    assert [p.duration.text() for p in dialog.piece_rows] == ["2:00", "1:30", "6:30"] and ok.isEnabled()
    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)  # its time goes back to the one before
    assert [p.duration.text() for p in dialog.piece_rows] == ["2:00", "8:00"] and ok.isEnabled()
    dialog.piece_rows[0].duration.setText("11:00")  # nothing left for the last piece: said, not filled
    assert dialog.piece_rows[1].duration.text() == "8:00" and not ok.isEnabled()
    assert dialog.total_label.text() == "The pieces are 9:00 longer than the entry's 10:00."


def test_merge_selected_rows_and_a_refusal_names_the_entry(qtbot, view, store) -> None:  # type: ignore[no-untyped-def]
    lease, other = make_matter(store, "LEASE-1"), make_matter(store, "OTHER-2")
    make_entry(store, 300, lease, narrative="Call one")
    make_entry(store, 200, lease, started=NOW + timedelta(minutes=30), narrative="Call two")
    stray = make_entry(store, 100, other, started=NOW + timedelta(minutes=60))
    refresh(qtbot, view)

    view.select_all_button.click()
    qtbot.mouseClick(view.merge_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.message.text().startswith("Not merged"), timeout=5000)
    assert view.message.text().startswith(f"Not merged — entry {stray[:8]} is on matter OTHER-2, not on matter LEASE-1")
    assert view.message.property("kind") == "error"
    assert view.table.rowCount() == 3

    view.table.clearSelection()
    for row in range(view.table.rowCount()):
        if view.table.item(row, 2).text().startswith("LEASE-1"):
            view.table.selectionModel().select(
                view.table.model().index(row, 0),
                view.table.selectionModel().SelectionFlag.Select | view.table.selectionModel().SelectionFlag.Rows,
            )
    with qtbot.waitSignal(view.drafts_shown, timeout=5000):
        qtbot.mouseClick(view.merge_button, Qt.MouseButton.LeftButton)
    assert view.message.text() == "Merged 2 entries into one of 0:08:20."  # no internal ids for people
    assert view.message.property("kind") == "info"  # a success is not shown in red
    assert sorted(_entries(store)) == [("LEASE-1", 500.0), ("OTHER-2", 100.0)]
    narratives = {view.table.item(r, 6).text() for r in range(view.table.rowCount())}
    assert "Call one; Call two" in narratives


def test_split_needs_exactly_one_selected_entry(qtbot, view, store) -> None:  # type: ignore[no-untyped-def]
    make_entry(store, 300)
    make_entry(store, 300, started=NOW + timedelta(minutes=5))
    refresh(qtbot, view)
    view.select_all_button.click()
    qtbot.mouseClick(view.split_button, Qt.MouseButton.LeftButton)
    assert view.split_dialog is None and view.message.text() == "Select the one entry to split."


def test_billed_column_shows_what_approval_will_fix_held_time_by_policy(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    """The preview and approval share one rule: with held time not billed, 700 s of which 400 s on hold is 1 unit."""
    from softclock import review

    view = ReviewView()
    qtbot.addWidget(view)
    policy = Policy(bill_hold=False)
    attach(qtbot, view, store, lambda: policy)
    entry_id = make_entry(store, 700.0, make_matter(store, "M-1"), hold=400.0)
    refresh(qtbot, view)
    assert view.table.item(0, 4).text() == "1 × 6 min"  # 2 × 6 min if the hold counted
    with store.session() as s, s.begin():
        review.approve(s, [entry_id], "alice", policy)
    with store.session() as s:
        assert s.get(TimeEntry, entry_id).billed_units == 1


def test_edit_dialog_changes_matter_codes_and_hand_set_units_with_a_reason(qtbot, view, store) -> None:  # type: ignore[no-untyped-def]
    """The Review tab edits what the CLI can: matter (found by typing), activity and task codes,
    billable, and billed units by hand, which need a reason; each change is in the trail."""
    lease = make_matter(store, "LEASE-1")
    make_matter(store, "TAX-9", client="Beta")
    entry_id = make_entry(store, 400, lease)
    refresh(qtbot, view)
    view.table.selectRow(0)
    qtbot.mouseClick(view.edit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.entry_dialog is not None and view.entry_dialog.isVisible(), timeout=5000)
    dialog = view.entry_dialog
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    with qtbot.waitSignal(dialog.matters_offered, timeout=5000):
        qtbot.keyClicks(dialog.filter_edit, "beta")
    dialog.matter_box.setCurrentIndex(dialog.matter_box.findText("TAX-9", Qt.MatchFlag.MatchStartsWith))
    dialog.activity_box.setCurrentIndex(dialog.activity_box.findData("A108"))
    dialog.units_box.setValue(3)
    assert not ok.isEnabled() and dialog.problem.text() == "Billed units set by hand need a reason."
    dialog.reason_edit.setText("agreed with the client")
    assert ok.isEnabled()
    with qtbot.waitSignal(view.drafts_shown, timeout=5000):
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert view.message.text() == "Entry changed."
    with store.session() as s:
        entry = s.get(TimeEntry, entry_id)
        assert (entry.matter.code, entry.activity_code, entry.billed_units, entry.billed_by_hand) == (
            "TAX-9",
            "A108",
            3,
            True,
        )
        fields = set(
            s.scalars(
                select(audit_model().field).where(audit_model().entity_id == entry_id, audit_model().actor == "alice")
            )
        )
    assert {"matter_id", "activity_code", "billed_units"} <= fields


def audit_model():  # type: ignore[no-untyped-def]
    from softclock.store.models import AuditEvent

    return AuditEvent


def test_approving_says_first_what_happens_to_unassigned_and_short_entries(qtbot, view, store) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QMessageBox

    from tests.helpers.qt import answer_when_shown

    make_entry(store, 400, None)  # billable, no matter
    short = make_entry(store, 10, make_matter(store, "M-1"), billable=False, started=NOW + timedelta(minutes=5))
    with store.session() as s, s.begin():
        s.get(TimeEntry, short).flag = "short"
    refresh(qtbot, view)
    view.select_all_button.click()
    said: list[str] = []
    answer_when_shown(lambda: view.confirm_box, QMessageBox.StandardButton.Cancel, said)
    qtbot.mouseClick(view.approve_button, Qt.MouseButton.LeftButton)
    assert said == [
        "1 entry has no matter: a billable entry needs one, so they stay drafts (Edit… chooses a matter)."
        "\n\n1 short call is approved as not billable (0 units)."
    ]
    with store.session() as s:
        assert {e.status for e in s.scalars(select(TimeEntry))} == {"draft"}  # cancelled: nothing approved
    answer_when_shown(lambda: view.confirm_box, QMessageBox.StandardButton.Ok)
    with qtbot.waitSignal(view.drafts_shown, timeout=5000):
        qtbot.mouseClick(view.approve_button, Qt.MouseButton.LeftButton)
    with store.session() as s:
        assert s.get(TimeEntry, short).status == "approved" and s.get(TimeEntry, short).billed_units == 0


def test_a_call_made_on_a_mobile_phone_is_added_by_hand_and_marked_so(qtbot, view, store) -> None:  # type: ignore[no-untyped-def]
    from softclock.store.models import AuditEvent, Call

    make_matter(store, "LEASE-1", client="Acme")
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    dialog = view.manual_dialog
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()  # no duration yet
    qtbot.keyClicks(dialog.duration_edit, "4:30")
    qtbot.keyClicks(dialog.number_edit, "+1 202 555 0143")
    with qtbot.waitSignal(dialog.matters_offered, timeout=5000):
        qtbot.keyClicks(dialog.filter_edit, "acme")
    qtbot.keyClicks(dialog.narrative_edit, "Called from the car")
    with qtbot.waitSignal(view.drafts_shown, timeout=5000):
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert view.message.text() == "Mobile call added as a draft."
    with store.session() as s:
        entry = s.scalars(select(TimeEntry)).one()
        call = s.get(Call, entry.call_id)
        assert (entry.raw_seconds, entry.flag, entry.matter.code, entry.narrative, entry.timekeeper) == (
            270.0,
            "manual",
            "LEASE-1",
            "Called from the car",
            "alice",
        )
        assert call.remote_number == "+12025550143" and call.sip_call_id.startswith("manual-")
        reasons = set(s.scalars(select(AuditEvent.reason).where(AuditEvent.entity_id == entry.id)))
        assert reasons == {"entered by hand: a call on a mobile phone with +12025550143"}
        assert audit.verify(s).ok  # the entry agrees with its trail
    assert view.table.item(0, 5).text() == "manual"


def test_column_widths_stay_as_the_person_set_them_across_refreshes(qtbot, view, store) -> None:  # type: ignore[no-untyped-def]
    make_entry(store, 300, make_matter(store, "M-1"))
    refresh(qtbot, view)
    view.table.setColumnWidth(2, 333)
    make_entry(
        store,
        300,
        make_matter(store, "A-VERY-LONG-MATTER-CODE-THAT-WOULD-WIDEN-IT"),
        started=NOW + timedelta(minutes=5),
    )
    refresh(qtbot, view)
    assert view.table.columnWidth(2) == 333


def _palette(window: str, text: str, base: str, highlight: str):  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QColor, QPalette

    pal = QPalette()
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        pal.setColor(group, QPalette.ColorRole.Window, QColor(window))
        pal.setColor(group, QPalette.ColorRole.WindowText, QColor(text))
        pal.setColor(group, QPalette.ColorRole.Base, QColor(base))
        pal.setColor(group, QPalette.ColorRole.AlternateBase, QColor(base).lighter(115))
        pal.setColor(group, QPalette.ColorRole.Text, QColor(text))
        pal.setColor(group, QPalette.ColorRole.Highlight, QColor(highlight))
    return pal


DARK = ("#353535", "#ffffff", "#2a2a2a", "#2a82da")  # Fusion's usual dark palette
DARK_PALE_ACCENT = ("#202020", "#e0e0e0", "#1c1c1c", "#ffd54f")  # an accent that would wash the text out


@pytest.mark.parametrize("colours", [DARK, DARK_PALE_ACCENT], ids=["dark", "dark-pale-accent"])
def test_flagged_rows_stay_readable_in_a_dark_theme(qtbot, view, store, colours) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QPalette

    from softclock.ui.palette import contrast

    make_entry(store, 10)  # unassigned
    make_entry(store, 400, make_matter(store, "LEASE-1"), started=NOW + timedelta(minutes=5))  # nothing to flag
    refresh(qtbot, view)

    def colours_of(row: int) -> tuple[object, object]:
        item = view.table.item(row, 0)
        return item.background().color(), item.foreground().color()

    flagged = next(r for r in range(2) if view.table.item(r, 5).text() == "unassigned")
    light_bg, light_text = colours_of(flagged)
    assert contrast(light_bg, light_text) >= 4.5  # type: ignore[arg-type]

    view.setPalette(_palette(*colours))  # the theme switches while the tab is open
    background, text = colours_of(flagged)
    base = view.table.palette().color(QPalette.ColorRole.Base)
    assert text == view.table.palette().color(QPalette.ColorRole.Text)
    assert contrast(background, text) >= 4.5  # type: ignore[arg-type]
    assert background != light_bg
    if colours == DARK:
        assert background != base  # and it still stands out from the other rows
    refresh(qtbot, view)  # drafts shown afresh under the dark palette: the same colours
    assert colours_of(flagged) == (background, text)
    assert view.table.item(1 - flagged, 0).background().style() == Qt.BrushStyle.NoBrush


def test_the_style_sheets_colours_keep_their_contrast_in_light_and_dark_themes(qtbot) -> None:  # type: ignore[no-untyped-def]
    import re

    from PySide6.QtGui import QColor, QPalette

    from softclock.ui.palette import contrast, is_dark, style_sheet

    light, dark = QPalette(QColor("#efefef")), _palette(*DARK)
    assert not is_dark(light) and is_dark(dark)
    light_sheet, dark_sheet = style_sheet(light), style_sheet(dark)
    assert dark_sheet.startswith(light_sheet) and len(dark_sheet) > len(light_sheet)

    def text_colours(sheet: str) -> dict[str, str]:  # selector -> its last text colour (later rules win)
        found: dict[str, str] = {}
        for selectors, body in re.findall(r"([^{}/]+)\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", sheet, flags=re.S)):
            colour = re.search(r"(?<!-)color:\s*(#[0-9a-fA-F]{6})", body)
            if colour and "background" not in body:
                for selector in selectors.split(","):
                    found[selector.strip()] = colour.group(1)
        return found

    for pal, sheet in ((light, light_sheet), (dark, dark_sheet)):
        window = pal.color(QPalette.ColorRole.Window)
        for selector, colour in text_colours(sheet).items():
            assert contrast(QColor(colour), window) >= 4.5, (selector, colour, window.name())
