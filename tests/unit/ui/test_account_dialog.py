"""The account dialog as a person uses it: a display name, Browse… for the CA file, a password
already in the keyring (the real keyring module, with the tests' in-memory backend), and names
a screen reader can say."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QFileDialog,
    QLineEdit,
    QWidget,
)

from softclock import secrets
from softclock.settings import AccountSettings
from softclock.ui.account_dialog import NEW_ADDRESS_HINT, STORED_HINT, AccountDialog

ALICE = AccountSettings(server="pbx.example.org:5080", user="alice", display_name="Alice Example")


@pytest.fixture
def stored() -> Iterator[str]:
    """alice@pbx.example.org's password in the keyring."""
    secrets.set_sip_password(ALICE.address, "In-The-Keyring-1")
    yield "In-The-Keyring-1"
    secrets.delete_sip_password(ALICE.address)


def _dialog(qtbot, account: AccountSettings = ALICE, **kw: object) -> AccountDialog:  # type: ignore[no-untyped-def]
    dialog = AccountDialog(account, **kw)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _save(qtbot, dialog: AccountDialog) -> None:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Save), Qt.MouseButton.LeftButton)


def test_the_display_name_is_shown_and_saved(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot, password_stored=False)
    assert dialog.display_name_edit.text() == "Alice Example"
    dialog.display_name_edit.clear()
    qtbot.keyClicks(dialog.display_name_edit, "  Alice Q. Example ")
    assert dialog.account().display_name == "Alice Q. Example"
    assert dialog.account().server == "pbx.example.org:5080"


def test_browse_fills_in_the_ca_file(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ca = tmp_path / "firm-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    dialog = _dialog(
        qtbot,
        AccountSettings(server="pbx", user="alice", transport="tls", tls_ca_file=str(tmp_path / "old.pem")),
        password_stored=False,
    )
    qtbot.mouseClick(dialog.ca_browse_button, Qt.MouseButton.LeftButton)
    browser = dialog.ca_browser
    assert isinstance(browser, QFileDialog) and browser.isVisible()
    assert browser.fileMode() == QFileDialog.FileMode.ExistingFile
    assert Path(browser.directory().absolutePath()) == tmp_path  # starts where the current file is
    browser.selectFile(str(ca))
    browser.accept()
    assert dialog.ca_edit.text() == str(ca)
    assert dialog.account().tls_ca_file == str(ca)
    assert dialog.ca_browser is None


def test_cancelling_browse_keeps_the_ca_file(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    account = AccountSettings(server="pbx", user="alice", tls_ca_file=str(tmp_path / "firm.pem"))
    dialog = _dialog(qtbot, account, password_stored=False)
    qtbot.mouseClick(dialog.ca_browse_button, Qt.MouseButton.LeftButton)
    assert dialog.ca_browser is not None
    dialog.ca_browser.reject()
    assert dialog.ca_edit.text() == account.tls_ca_file
    assert dialog.ca_browser is None


def test_a_stored_password_is_kept_when_the_field_stays_empty(qtbot, stored: str) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot)  # asks the keyring itself
    assert dialog.password_edit.placeholderText() == STORED_HINT
    assert dialog.password_edit.placeholderText() == "stored in the keyring — leave empty to keep it"
    assert dialog.password_edit.text() == ""  # the stored password is never shown
    _save(qtbot, dialog)
    assert dialog.result() == AccountDialog.DialogCode.Accepted
    assert dialog.keeps_stored_password()
    assert dialog.password() == stored  # what the caller registers with and stores again


def test_a_typed_password_replaces_the_stored_one(qtbot, stored: str) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot)
    qtbot.keyClicks(dialog.password_edit, "New-Secret-2")
    assert not dialog.keeps_stored_password()
    _save(qtbot, dialog)
    assert dialog.result() == AccountDialog.DialogCode.Accepted
    assert dialog.password() == "New-Secret-2"


def test_a_new_address_needs_its_password(qtbot, stored: str) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot)
    dialog.user_edit.setText("bob")
    assert dialog.password_edit.placeholderText() == NEW_ADDRESS_HINT
    _save(qtbot, dialog)
    assert dialog.result() != AccountDialog.DialogCode.Accepted
    assert dialog.error_label.text() == "Enter the password of your phone account."
    dialog.user_edit.setText("alice")  # back to the stored password's address
    assert dialog.password_edit.placeholderText() == STORED_HINT
    dialog.domain_edit.setText("other.example.org")
    assert dialog.password_edit.placeholderText() == NEW_ADDRESS_HINT
    dialog.domain_edit.setText("pbx.example.org")  # the same address, said explicitly
    assert dialog.keeps_stored_password()


def test_without_a_stored_password_the_field_is_required(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot)  # nothing in the keyring for alice
    assert dialog.password_edit.placeholderText() == ""
    _save(qtbot, dialog)
    assert dialog.error_label.text() == "Enter the password of your phone account."
    assert not dialog.keeps_stored_password() and dialog.password() == ""


def test_an_unreadable_keyring_offers_no_stored_password(qtbot) -> None:  # type: ignore[no-untyped-def]
    import keyring
    import keyring.backends.fail

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        dialog = _dialog(qtbot)
    finally:
        keyring.set_keyring(previous)
    assert dialog.password_edit.placeholderText() == ""
    _save(qtbot, dialog)
    assert dialog.error_label.text() == "Enter the password of your phone account."


def test_every_field_has_an_accessible_name_and_tab_follows_the_form(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot, password_stored=True)
    # Every input of the form (Save and Cancel say their text themselves).
    fields = [
        w
        for w in dialog.findChildren(QWidget)
        if isinstance(w, QLineEdit | QComboBox | QAbstractButton)
        and w.isVisible()
        and w.parentWidget() is not dialog.buttons
    ]
    assert len(fields) == 13
    names = {w.accessibleName() for w in fields}
    assert all(w.accessibleName() for w in fields), [w for w in fields if not w.accessibleName()]
    assert len(names) == len(fields)  # each field is told apart
    assert dialog.password_edit.accessibleDescription() == STORED_HINT
    order = [
        dialog.server_edit,
        dialog.user_edit,
        dialog.password_edit,
        dialog.display_name_edit,
        dialog.auth_edit,
        dialog.domain_edit,
        dialog.transport_box,
        dialog.srtp_box,
        dialog.ca_edit,
        dialog.ca_browse_button,
        dialog.proxy_edit,
        dialog.backup_edit,
        dialog.auto_answer_box,
    ]
    seen = [order[0]]
    widget: QWidget = order[0]
    for _ in order[1:]:
        widget = widget.nextInFocusChain()
        while widget.focusPolicy() == Qt.FocusPolicy.NoFocus or not widget.isVisible():
            widget = widget.nextInFocusChain()
        seen.append(widget)
    assert seen == order
