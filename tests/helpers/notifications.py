"""A private D-Bus session bus (the real dbus-daemon) with a stand-in for the desktop's
notification server, which records each Notify call and can click an action."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from softclock.notify import BUS_NAME, INTERFACE, PATH


@dataclass
class NotificationServer:
    address: str
    shown: list[dict[str, object]] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    _conn: object = None

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, object]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.shown) >= count, timeout), f"{self.shown}"
            return list(self.shown)

    def click(self, nid: int, action: str) -> None:
        from jeepney import new_signal
        from jeepney.wrappers import DBusAddress

        signal = new_signal(DBusAddress(PATH, interface=INTERFACE), "ActionInvoked", "us", (nid, action))
        self._conn.send(signal)  # type: ignore[attr-defined]


def _serve(server: NotificationServer, ready: threading.Event, stop: threading.Event) -> None:
    from jeepney import message_bus, new_error, new_method_return
    from jeepney.io.blocking import open_dbus_connection
    from jeepney.low_level import HeaderFields, MessageType

    conn = open_dbus_connection(server.address)
    server._conn = conn
    conn.send_and_get_reply(message_bus.RequestName(BUS_NAME))
    ready.set()
    next_id = 1
    while not stop.is_set():
        try:
            msg = conn.receive(timeout=0.2)
        except TimeoutError:
            continue
        if msg.header.message_type is not MessageType.method_call:
            continue
        member = msg.header.fields.get(HeaderFields.member)
        if member == "GetCapabilities":
            conn.send(new_method_return(msg, "as", (["actions", "body"],)))
        elif member == "Notify":
            app, replaces, icon, summary, body, actions, hints, timeout = msg.body
            nid = replaces or next_id
            next_id += 1
            conn.send(new_method_return(msg, "u", (nid,)))  # answered before it is seen: a click can follow
            with server.changed:
                server.shown.append(
                    {
                        "id": nid,
                        "app": app,
                        "summary": summary,
                        "body": body,
                        "actions": list(actions),
                        "replaces": replaces,
                    }
                )
                server.changed.notify_all()
        elif member == "CloseNotification":
            with server.changed:
                server.closed.append(int(msg.body[0]))
                server.changed.notify_all()
            conn.send(new_method_return(msg))
        else:
            conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))
    conn.close()


@contextmanager
def notification_bus(tmp_path: os.PathLike[str]) -> Iterator[NotificationServer]:
    """A dbus-daemon of its own (nothing on the machine's buses is touched) and the server on it."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        if os.environ.get("CI") == "true":
            pytest.fail("dbus-daemon is missing (Debian package dbus-daemon)")
        pytest.skip("dbus-daemon is missing")
    socket_path = f"{tmp_path}/bus"
    address = f"unix:path={socket_path}"
    proc = subprocess.Popen(
        [daemon, "--session", "--nofork", "--nopidfile", f"--address={address}", "--print-address"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # printed once it listens
        server = NotificationServer(address)
        ready, stop = threading.Event(), threading.Event()
        thread = threading.Thread(target=_serve, args=(server, ready, stop), daemon=True)
        thread.start()
        assert ready.wait(5)
        yield server
        stop.set()
        thread.join(2)
    finally:
        proc.terminate()
        proc.wait(5)
