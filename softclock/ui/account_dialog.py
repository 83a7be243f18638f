"""Set up (or change) the SIP account."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from softclock.settings import SRTP_MODES, TRANSPORTS, AccountSettings, validate_account


class AccountDialog(QDialog):
    """Collects account settings and a password; validates before accepting.

    The password is handed to the caller (who puts it in the keyring) and
    never stored by the dialog.
    """

    def __init__(self, account: AccountSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set up your phone account")
        self.server_edit = QLineEdit(account.server)
        self.server_edit.setPlaceholderText("pbx.example.com or 10.0.0.5:5060")
        self.user_edit = QLineEdit(account.user)
        self.auth_edit = QLineEdit(account.auth_id)
        self.auth_edit.setPlaceholderText("only if it differs from the username")
        self.domain_edit = QLineEdit(account.domain)
        self.domain_edit.setPlaceholderText("defaults to the server")
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.transport_box = QComboBox()
        self.transport_box.addItems([t.upper() for t in TRANSPORTS])
        self.transport_box.setCurrentIndex(TRANSPORTS.index(account.transport))
        self.proxy_edit = QLineEdit(account.outbound_proxy)
        self.proxy_edit.setPlaceholderText("optional")
        self.backup_edit = QLineEdit(account.backup_servers)
        self.backup_edit.setPlaceholderText("optional: host[:port], … used while the server is down")
        self.srtp_box = QComboBox()
        self.srtp_box.addItems(["Off", "Optional", "Mandatory"])
        self.srtp_box.setCurrentIndex(SRTP_MODES.index(account.srtp))
        self.ca_edit = QLineEdit(account.tls_ca_file)
        self.ca_edit.setPlaceholderText("TLS only: CA file (PEM); empty = the system's")
        self.auto_answer_box = QCheckBox("Answer incoming calls automatically")
        self.auto_answer_box.setChecked(account.auto_answer)
        self.error_label = QLabel("")
        self.error_label.setObjectName("errorText")
        self.error_label.setWordWrap(True)
        self._base = account

        form = QFormLayout()
        form.addRow("SIP server", self.server_edit)
        form.addRow("Username", self.user_edit)
        form.addRow("Password", self.password_edit)
        form.addRow("Auth ID", self.auth_edit)
        form.addRow("Domain", self.domain_edit)
        form.addRow("Transport", self.transport_box)
        form.addRow("Encrypted media (SRTP)", self.srtp_box)
        form.addRow("TLS CA file", self.ca_edit)
        form.addRow("Outbound proxy", self.proxy_edit)
        form.addRow("Backup servers", self.backup_edit)
        form.addRow("", self.auto_answer_box)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)

    def account(self) -> AccountSettings:
        return replace(
            self._base,
            server=self.server_edit.text().strip(),
            user=self.user_edit.text().strip(),
            auth_id=self.auth_edit.text().strip(),
            domain=self.domain_edit.text().strip(),
            transport=TRANSPORTS[self.transport_box.currentIndex()],
            outbound_proxy=self.proxy_edit.text().strip(),
            auto_answer=self.auto_answer_box.isChecked(),
            backup_servers=self.backup_edit.text().strip(),
            srtp=SRTP_MODES[self.srtp_box.currentIndex()],
            tls_ca_file=self.ca_edit.text().strip(),
        )

    def password(self) -> str:
        return self.password_edit.text()

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)

    def _on_buttons_accepted(self) -> None:
        problem = validate_account(self.account(), self.password())
        if problem:
            self.show_error(problem)
            return
        self.accept()
