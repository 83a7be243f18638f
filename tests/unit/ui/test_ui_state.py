"""Window geometry and column widths are remembered across runs (ui-state.ini in the data directory)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMainWindow, QTableWidget

from softclock.ui.ui_state import FILE, UiState


def _window(qtbot) -> tuple[QMainWindow, QTableWidget]:  # type: ignore[no-untyped-def]
    window = QMainWindow()
    table = QTableWidget(0, 4)
    window.setCentralWidget(table)
    qtbot.addWidget(window)
    return window, table


def test_geometry_and_column_widths_come_back(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window, table = _window(qtbot)
    window.resize(640, 480)
    table.horizontalHeader().resizeSection(1, 233)
    UiState(tmp_path).save(window, {"review": table.horizontalHeader()})
    assert (tmp_path / FILE).exists()

    again, again_table = _window(qtbot)
    assert again_table.horizontalHeader().sectionSize(1) != 233
    UiState(tmp_path).restore(again, {"review": again_table.horizontalHeader()})
    assert again_table.horizontalHeader().sectionSize(1) == 233
    assert (again.width(), again.height()) == (640, 480)


def test_no_file_means_the_defaults(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window, table = _window(qtbot)
    before = table.horizontalHeader().sectionSize(1)
    UiState(tmp_path / "nothing-here").restore(window, {"review": table.horizontalHeader()})
    assert table.horizontalHeader().sectionSize(1) == before
