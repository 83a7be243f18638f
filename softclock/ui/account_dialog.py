"""Set up (or change) the SIP account."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from softclock.errors import SettingsError
from softclock.settings import SRTP_MODES, TRANSPORTS, AccountSettings, validate_account

STORED_HINT = "stored in the keyring — leave empty to keep it"
NEW_ADDRESS_HINT = "needed: the stored one belongs to the old address"


class AccountDialog(QDialog):
    """Collects account settings and a password; validates before accepting.

    The typed password is handed to the caller (who puts it in the keyring) and
    never stored by the dialog. When the keyring already holds the account's
    password, the field may stay empty: :meth:`password` then reads the stored
    one back, so the caller registers (and keeps) it as if it had been typed.
    That holds only while the address (user and domain) is the one the password
    was stored for; a new address needs its password typed.

    Args:
        account: the account to show.
        parent: the parent window.
        password_stored: whether the keyring holds ``account``'s password; None
            (the default) asks the keyring.
    """

    def __init__(
        self, account: AccountSettings, parent: QWidget | None = None, password_stored: bool | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set up your phone account")
        self._base = account
        self._stored = _stored(account) if password_stored is None else password_stored
        self.server_edit = QLineEdit(account.server)
        self.server_edit.setPlaceholderText("pbx.example.com or 10.0.0.5:5060")
        self.user_edit = QLineEdit(account.user)
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.display_name_edit = QLineEdit(account.display_name)
        self.display_name_edit.setPlaceholderText("optional: the name the people you call see")
        self.auth_edit = QLineEdit(account.auth_id)
        self.auth_edit.setPlaceholderText("only if it differs from the username")
        self.domain_edit = QLineEdit(account.domain)
        self.domain_edit.setPlaceholderText("defaults to the server")
        self.transport_box = QComboBox()
        self.transport_box.addItems([t.upper() for t in TRANSPORTS])
        self.transport_box.setCurrentIndex(TRANSPORTS.index(account.transport))
        self.srtp_box = QComboBox()
        self.srtp_box.addItems(["Off", "Optional", "Mandatory"])
        self.srtp_box.setCurrentIndex(SRTP_MODES.index(account.srtp))
        self.ca_edit = QLineEdit(account.tls_ca_file)
        self.ca_edit.setPlaceholderText("TLS only: CA file (PEM); empty = the system's")
        self.ca_browse_button = QPushButton("Browse…")
        self.ca_browser: QFileDialog | None = None  # the open file dialog, while it is open
        self.proxy_edit = QLineEdit(account.outbound_proxy)
        self.proxy_edit.setPlaceholderText("optional")
        self.backup_edit = QLineEdit(account.backup_servers)
        self.backup_edit.setPlaceholderText("optional: host[:port], … used while the server is down")
        self.auto_answer_box = QCheckBox("Answer incoming calls automatically")
        self.auto_answer_box.setChecked(account.auto_answer)
        self.error_label = QLabel("")
        self.error_label.setObjectName("errorText")
        self.error_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)

        ca_row = QHBoxLayout()
        ca_row.setContentsMargins(0, 0, 0, 0)
        ca_row.addWidget(self.ca_edit, 1)
        ca_row.addWidget(self.ca_browse_button)
        form = QFormLayout()
        rows: list[tuple[str, QWidget | QHBoxLayout]] = [
            ("SIP server", self.server_edit),
            ("Username", self.user_edit),
            ("Password", self.password_edit),
            ("Display name", self.display_name_edit),
            ("Auth ID", self.auth_edit),
            ("Domain", self.domain_edit),
            ("Transport", self.transport_box),
            ("Encrypted media (SRTP)", self.srtp_box),
            ("TLS CA file", ca_row),
            ("Outbound proxy", self.proxy_edit),
            ("Backup servers", self.backup_edit),
        ]
        for label, field in rows:
            form.addRow(label, field)
        form.addRow("", self.auto_answer_box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

        # What a screen reader says for each field: its label (the form's labels are buddies too).
        named: list[tuple[QWidget, str]] = [
            (self.server_edit, "SIP server"),
            (self.user_edit, "Username"),
            (self.password_edit, "Password"),
            (self.display_name_edit, "Display name"),
            (self.auth_edit, "Auth ID"),
            (self.domain_edit, "Domain"),
            (self.transport_box, "Transport"),
            (self.srtp_box, "Encrypted media (SRTP)"),
            (self.ca_edit, "TLS CA file"),
            (self.ca_browse_button, "Browse for the TLS CA file"),
            (self.proxy_edit, "Outbound proxy"),
            (self.backup_edit, "Backup servers"),
            (self.auto_answer_box, "Answer incoming calls automatically"),
        ]
        for widget, name in named:
            widget.setAccessibleName(name)
        self.error_label.setAccessibleName("Problem with the account")
        chain = [widget for widget, _ in named] + [self.buttons]
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        self.ca_browse_button.clicked.connect(self._on_ca_browse_button_clicked)
        for edit in (self.server_edit, self.user_edit, self.domain_edit):
            edit.textChanged.connect(self._on_address_text_changed)
        self._show_password_hint()

    def account(self) -> AccountSettings:
        return replace(
            self._base,
            server=self.server_edit.text().strip(),
            user=self.user_edit.text().strip(),
            auth_id=self.auth_edit.text().strip(),
            domain=self.domain_edit.text().strip(),
            transport=TRANSPORTS[self.transport_box.currentIndex()],
            outbound_proxy=self.proxy_edit.text().strip(),
            display_name=self.display_name_edit.text().strip(),
            auto_answer=self.auto_answer_box.isChecked(),
            backup_servers=self.backup_edit.text().strip(),
            srtp=SRTP_MODES[self.srtp_box.currentIndex()],
            tls_ca_file=self.ca_edit.text().strip(),
        )

    def keeps_stored_password(self) -> bool:
        """The password field is empty and the keyring's password for this address stays."""
        return self._stored and not self.password_edit.text() and self._same_address()

    def password(self) -> str:
        """The typed password, or the stored one when the field was left empty to keep it.

        Raises:
            KeyringUnavailable: the keyring cannot be read (the stored password is needed).
        """
        if self.keeps_stored_password():
            from softclock import secrets

            return secrets.get_sip_password(self._base.address) or ""
        return self.password_edit.text()

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)

    # ------------------------------------------------------------------ internals

    def _same_address(self) -> bool:
        try:
            return self.account().address == self._base.address
        except SettingsError:  # a server text that is not host[:port]: not the stored password's address
            return False

    def _show_password_hint(self) -> None:
        if not self._stored:
            hint = ""
        elif self._same_address():
            hint = STORED_HINT
        else:
            hint = NEW_ADDRESS_HINT
        self.password_edit.setPlaceholderText(hint)
        self.password_edit.setAccessibleDescription(hint)

    def _on_address_text_changed(self, _text: str) -> None:
        self._show_password_hint()

    def _on_ca_browse_button_clicked(self) -> None:
        current = Path(self.ca_edit.text().strip()).expanduser()
        start = str(current.parent if current.name and current.parent.is_dir() else Path.home())
        browser = QFileDialog(self, "Choose the TLS CA file", start, "Certificates (*.pem *.crt *.cer);;All files (*)")
        browser.setFileMode(QFileDialog.FileMode.ExistingFile)
        browser.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        browser.fileSelected.connect(self._on_ca_browser_file_selected)
        browser.finished.connect(self._on_ca_browser_finished)
        self.ca_browser = browser
        browser.open()

    def _on_ca_browser_file_selected(self, path: str) -> None:
        if path:
            self.ca_edit.setText(path)

    def _on_ca_browser_finished(self, _result: int) -> None:
        if self.ca_browser is not None:
            self.ca_browser.deleteLater()
            self.ca_browser = None
        self.ca_edit.setFocus()

    def _on_buttons_accepted(self) -> None:
        # Kept from the keyring: there is a password, only the form is checked here.
        typed = self.password_edit.text() or ("stored" if self.keeps_stored_password() else "")
        problem = validate_account(self.account(), typed)
        if problem:
            self.show_error(problem)
            return
        self.accept()


def _stored(account: AccountSettings) -> bool:
    """Whether the keyring holds ``account``'s password (False when it cannot be read)."""
    from softclock import secrets
    from softclock.errors import KeyringUnavailable

    if not account.configured:
        return False
    try:
        return secrets.get_sip_password(account.address) is not None
    except (KeyringUnavailable, SettingsError):
        return False
