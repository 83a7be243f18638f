"""Settings > Preferences…: start at login, and the billing policy in force with where it comes from."""

from __future__ import annotations

from collections.abc import Callable

from pytestqt.qtbot import QtBot

from softclock.billing import Policy
from softclock.ui.settings_dialog import PolicyChoice, SettingsDialog


def _dialog(qtbot: QtBot, central: bool) -> tuple[SettingsDialog, list[Callable[[Policy], None]]]:
    pending: list[Callable[[Policy], None]] = []
    dialog = SettingsDialog(True, central, pending.append)
    qtbot.addWidget(dialog)
    return dialog, pending


def test_local_policy_is_shown_once_read_and_editable(qtbot: QtBot) -> None:
    dialog, pending = _dialog(qtbot, central=False)
    assert dialog.autostart.isChecked()
    assert "this computer" in dialog.source.text()
    # The policy is read off the UI thread: until it arrives nothing can be edited or saved.
    assert not dialog.increment.isEnabled()
    assert dialog.policy_choice() is None
    pending[0](Policy(increment_min=10, rounding="nearest", minimum_units=2, short_call_s=45))
    assert dialog.increment.currentText() == "10 min"
    assert dialog.rounding.currentData() == "nearest"
    assert (dialog.minimum.value(), dialog.short.value()) == (2, 45)
    assert all(w.isEnabled() for w in dialog.policy_fields)
    dialog.increment.setCurrentIndex(dialog.increment.findData(15))
    dialog.short.setValue(20)
    assert dialog.policy_choice() == PolicyChoice(15, "nearest", 2, 20)


def test_central_policy_is_shown_read_only(qtbot: QtBot) -> None:
    dialog, pending = _dialog(qtbot, central=True)
    assert "central store" in dialog.source.text()
    pending[0](Policy(increment_min=6))
    assert dialog.increment.currentText() == "6 min"
    assert not any(w.isEnabled() for w in dialog.policy_fields)
    assert dialog.policy_choice() is None


def test_the_app_saves_the_policy_and_start_at_login(qtbot: QtBot, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Settings > Preferences… in the desktop app: the policy is read on the database worker,
    and OK writes the autostart entry and the settings, and the review uses the new policy."""
    from PySide6.QtCore import QTimer

    from softclock.settings import Settings, load, save
    from softclock.ui.application import DesktopApp

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    settings = Settings()
    settings.sip.bind_address = "127.0.0.1"
    settings.sip.null_audio = True
    path = tmp_path / "settings.toml"
    save(settings, path)
    app = DesktopApp(path, tmp_path / "data", listen=False)
    qtbot.addWidget(app.window, before_close_func=lambda w: setattr(w, "quitting", True))
    try:
        assert app.core is not None and app.core.facades is not None
        assert app.core.facades.review.policy(None).increment_min == 6

        tries = [250]  # about 5 s, then the dialog is closed and the test fails below

        def answer() -> None:
            dialog = app.settings_dialog
            if dialog is None or not dialog.isVisible() or not dialog.loaded:
                tries[0] -= 1
                if tries[0] > 0:
                    QTimer.singleShot(20, answer)
                elif dialog is not None:
                    dialog.reject()
                return
            assert dialog.increment.currentText() == "6 min"
            dialog.autostart.setChecked(True)
            dialog.increment.setCurrentIndex(dialog.increment.findData(15))
            dialog.accept()

        QTimer.singleShot(0, answer)
        app.window.preferences_action.trigger()
        assert (tmp_path / "cfg" / "autostart" / "softclock.desktop").exists()
        assert load(path).billing.increment_min == 15
        assert app.core.facades.review.policy(None).increment_min == 15
    finally:
        app.shutdown()
