"""One app per data directory: later launches hand their request to it.

``softclock dial URI`` uses :func:`send_to_running` to pass the number to the
running app; the app's :class:`InstanceServer` receives it.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger("softclock.ipc")


def send_to_running(name: str, message: str, timeout_ms: int = 500) -> bool:
    """Send ``message`` to a running app; False when none is listening."""
    sock = QLocalSocket()
    sock.connectToServer(name)
    if not sock.waitForConnected(timeout_ms):
        return False
    sock.write((message + "\n").encode("utf-8"))
    sock.flush()
    sock.waitForBytesWritten(timeout_ms)
    sock.waitForReadyRead(timeout_ms)  # the server acknowledges with "ok"
    sock.disconnectFromServer()
    return True


class InstanceServer(QObject):
    """Listens for requests from later launches.

    Signals:
        dial_requested(str): a number or URI to dial.
        show_requested(): bring the window to the front.
    """

    dial_requested = Signal(str)
    show_requested = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        QLocalServer.removeServer(name)  # a stale socket left by a crash
        if not self._server.listen(name):
            log.warning("cannot listen for other launches: %s", self._server.errorString())
        self._server.newConnection.connect(self._on_server_new_connection)

    def close(self) -> None:
        self._server.close()

    def _on_server_new_connection(self) -> None:
        while self._server.hasPendingConnections():
            sock = self._server.nextPendingConnection()
            sock.readyRead.connect(lambda s=sock: self._on_socket_ready_read(s))

    def _on_socket_ready_read(self, sock: QLocalSocket) -> None:
        if not sock.canReadLine():
            return
        line = bytes(sock.readLine().data()).decode("utf-8", "replace").strip()
        sock.write(b"ok\n")
        sock.flush()
        sock.disconnectFromServer()
        sock.deleteLater()
        command, _, arg = line.partition(" ")
        if command == "dial" and arg:
            self.dial_requested.emit(arg)
        elif command == "show":
            self.show_requested.emit()
        else:
            log.warning("unknown request from another launch: %r", command)
