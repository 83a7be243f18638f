"""The desktop app with a central store on a real PostgreSQL server: approving in the Review tab
pushes on the sync worker's thread, and the status bar says where sync stands."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from sqlalchemy import create_engine, func, select

from softclock import review as rv
from softclock import secrets
from softclock.settings import Settings, save
from softclock.store.db import open_store
from softclock.sync import admin
from softclock.sync.central import CentralEntry
from softclock.sync.connect import login_of, parse_url
from softclock.ui.application import DesktopApp
from tests.helpers.entries import make_entry, make_matter, matter_id


def _row_of(view, entry_id: str) -> int:  # type: ignore[no-untyped-def]
    for row in range(view.table.rowCount()):
        if view.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == entry_id:
            return row
    raise AssertionError(f"entry {entry_id} is not in the Review tab")


def test_review_approval_syncs_and_the_status_bar_follows(qtbot, pg_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    installer = create_engine(pg_db.superuser_url(), pool_pre_ping=True)
    admin.init_store(installer)
    login = f"tk_{pg_db.name[2:14]}"
    admin.add_timekeeper(installer, admin.NewTimekeeper(login, "Pat"), "pat-pw")
    admin.import_matters(installer, "code,name,client\nM-1,Lease,Acme\n")

    settings = Settings()
    settings.sip.bind_address, settings.sip.null_audio = "127.0.0.1", True
    settings.central.url = f"postgresql://{login}@127.0.0.1:{pg_db.cluster.port}/{pg_db.name}"
    settings.central.sslmode, settings.central.sslrootcert = "verify-full", str(pg_db.cluster.ca_file)
    secrets.set_central_password(login_of(parse_url(settings.central.url)), "pat-pw")
    save(settings, tmp_path / "settings.toml")
    store = open_store(tmp_path / "data")
    ids = [make_entry(store, 600, make_matter(store, "M-1"), narrative="update"), make_entry(store, 300, None)]
    store.close()

    app = DesktopApp(tmp_path / "settings.toml", tmp_path / "data")
    qtbot.addWidget(app.window, before_close_func=lambda w: setattr(w, "quitting", True))  # no question at teardown
    app.window.show()
    label = app.window.sync_status
    try:
        qtbot.waitUntil(lambda: label.text() == "Synced just now", timeout=20000)
        review = app.window.review
        with qtbot.waitSignal(review.drafts_shown, timeout=5000):  # read on the database worker
            review.refresh()
        review.table.selectRow(_row_of(review, ids[0]))
        qtbot.mouseClick(review.approve_button, Qt.MouseButton.LeftButton)
        with installer.connect() as conn:
            qtbot.waitUntil(lambda: conn.scalar(select(func.count()).select_from(CentralEntry)) == 1, timeout=20000)
        qtbot.waitUntil(lambda: label.status is not None and label.status.waiting == 0, timeout=20000)

        pg_db.cluster.stop()
        side = open_store(tmp_path / "data")  # the paralegal's fix, as the CLI would make it
        with side.session() as s, s.begin():
            rv.edit(s, ids[1], "pat", matter_id=matter_id(side, "M-1"))
        side.close()
        with qtbot.waitSignal(review.drafts_shown, timeout=5000):  # read on the database worker
            review.refresh()
        review.table.selectRow(_row_of(review, ids[1]))
        qtbot.mouseClick(review.approve_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: label.text().startswith("1 waiting, central store unreachable since"), timeout=20000)
        assert "refused the connection" in label.toolTip() and "pat-pw" not in label.toolTip()
    finally:
        if not pg_db.cluster.running:
            pg_db.cluster.start()
        app.shutdown()
        installer.dispose()
