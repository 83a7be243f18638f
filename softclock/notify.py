"""Desktop notifications (the freedesktop ``org.freedesktop.Notifications`` service on the
session bus) with actions: an incoming call shows the caller and the matched client, with
Answer and Decline.

All D-Bus traffic runs on the notifier's own thread (a call to the notification server
is a round trip): :meth:`Notifier.notify` only queues. The thread sleeps in ``select``
on the bus socket and a wake-up pipe, so it costs nothing while nothing happens.
Without a session bus or a notification server, the app works the same (the ringing
window is there either way); the log says why once.
"""

from __future__ import annotations

import logging
import os
import queue
import select
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("softclock.notify")

BUS_NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"


@dataclass(frozen=True)
class Note:
    """One notification to show (``key`` names it for actions and closing)."""

    key: str
    summary: str
    body: str
    actions: tuple[tuple[str, str], ...] = ()  # (action id, label)
    urgency: int = 2  # critical: a ringing call stays until answered or closed
    hints: dict[str, object] = field(default_factory=dict)


class Notifier:
    """Shows notifications and reports their actions.

    Args:
        on_action: ``on_action(key, action_id)`` on the notifier's thread when the
            person clicks an action of the notification ``key``.
        bus: "SESSION" or a D-Bus address (tests run their own bus).
    """

    def __init__(
        self, on_action: Callable[[str, str], None], bus: str = "SESSION", app_name: str = "Softclock"
    ) -> None:
        self._on_action = on_action
        self._bus = bus
        self._app_name = app_name
        self._work: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        self._ids: dict[str, int] = {}  # key -> the server's id
        self._keys: dict[int, str] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.available = threading.Event()  # set once connected to a notification server
        self.failed = ""  # why notifications are off ("" while they work or before start)

    # ------------------------------------------------------------------ API (any thread)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
        self._thread.start()

    def notify(self, note: Note) -> None:
        self._put("notify", note)

    def close(self, key: str) -> None:
        self._put("close", key)

    def stop(self) -> None:
        self._stopping = True
        self._put("stop", None)
        if self._thread is not None:
            self._thread.join(2.0)
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def _put(self, kind: str, item: object) -> None:
        self._work.put((kind, item))
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    # ------------------------------------------------------------------ thread

    def _run(self) -> None:
        from collections import deque

        from jeepney import DBusAddress, MatchRule, message_bus
        from jeepney.io.blocking import open_dbus_connection

        try:
            conn = open_dbus_connection(self._bus)
            server = DBusAddress(PATH, bus_name=BUS_NAME, interface=INTERFACE)
            # The server's signals are kept in this queue whenever they arrive, also while
            # a call waits for its reply (jeepney drops what no filter catches).
            self._signals: deque[object] = deque()
            for member in ("ActionInvoked", "NotificationClosed"):
                rule = MatchRule(type="signal", interface=INTERFACE, member=member, path=PATH)
                conn.filter(rule, queue=self._signals)
                conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=2.0)
            caps = conn.send_and_get_reply(_call(server, "GetCapabilities", "", ()), timeout=2.0)
            if caps.header.message_type.name == "error":
                raise OSError(f"no notification server on the session bus ({caps.body[0] if caps.body else 'error'})")
        except Exception as exc:  # no session bus, no server: notifications are off, the app is not
            self.failed = f"desktop notifications are off: {exc}"
            log.info("%s", self.failed)
            return
        self.available.set()
        try:
            self._loop(conn, server)
        finally:
            conn.close()

    def _loop(self, conn: object, server: object) -> None:
        from jeepney.io.blocking import DBusConnection

        assert isinstance(conn, DBusConnection)
        while not self._stopping:
            readable, _, _ = select.select([conn.sock, self._wake_r], [], [])
            if self._wake_r in readable:
                os.read(self._wake_r, 512)
                self._drain(conn, server)
            # Also after a call: its reply may have come with more bytes than it used,
            # already off the socket where select cannot see them.
            self._receive_all(conn)
            while self._signals:
                self._incoming(conn, self._signals.popleft())

    @staticmethod
    def _receive_all(conn: object) -> None:
        """Every message that has arrived, through the filters (select does not see what jeepney buffered)."""
        from jeepney.io.blocking import DBusConnection

        assert isinstance(conn, DBusConnection)
        while True:
            try:
                conn.recv_messages(timeout=0)
            except (TimeoutError, OSError):
                return

    def _drain(self, conn: object, server: object) -> None:
        from jeepney.io.blocking import DBusConnection

        assert isinstance(conn, DBusConnection)
        while True:
            try:
                kind, item = self._work.get_nowait()
            except queue.Empty:
                return
            if kind == "stop":
                self._stopping = True
                return
            try:
                if kind == "notify":
                    self._show(conn, server, item)  # type: ignore[arg-type]
                elif kind == "close" and item in self._ids:
                    nid = self._ids.pop(str(item))
                    self._keys.pop(nid, None)
                    conn.send_and_get_reply(_call(server, "CloseNotification", "u", (nid,)), timeout=2.0)
            except (TimeoutError, OSError) as exc:
                log.warning("a desktop notification failed: %s", exc)

    def _show(self, conn: object, server: object, note: Note) -> None:
        from jeepney.io.blocking import DBusConnection

        assert isinstance(conn, DBusConnection)
        actions: list[str] = [part for pair in note.actions for part in pair]
        hints = {
            "urgency": ("y", note.urgency),
            "category": ("s", "call.incoming"),
            "desktop-entry": ("s", "org.softclock.Softclock"),
        }
        replaces = self._ids.get(note.key, 0)
        reply = conn.send_and_get_reply(
            _call(
                server,
                "Notify",
                "susssasa{sv}i",
                (self._app_name, replaces, "org.softclock.Softclock", note.summary, note.body, actions, hints, 0),
            ),
            timeout=2.0,
        )
        if reply.body:
            nid = int(reply.body[0])
            self._ids[note.key] = nid
            self._keys[nid] = note.key

    def _incoming(self, conn: object, msg: object) -> None:
        from jeepney.low_level import HeaderFields, Message, MessageType

        assert isinstance(msg, Message)
        if msg.header.message_type is not MessageType.signal:
            return
        member = msg.header.fields.get(HeaderFields.member)
        if member == "ActionInvoked":
            nid, action = msg.body
            key = self._keys.get(int(nid))
            if key is not None:
                self._on_action(key, str(action))
        elif member == "NotificationClosed":
            key = self._keys.pop(int(msg.body[0]), None)
            if key is not None:
                self._ids.pop(key, None)


def _call(address: object, method: str, signature: str, body: tuple[object, ...]) -> object:
    from jeepney import new_method_call

    return new_method_call(address, method, signature or None, body)
