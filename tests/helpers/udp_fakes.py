"""Tiny UDP servers on 127.0.0.1 that stand in for a registrar, a STUN server
and a TURN server, to watch what pjsip sends them (keep-alives, Binding
Requests, Allocate requests). Each answers just enough for pjsip to go on."""

from __future__ import annotations

import hashlib
import hmac
import socket
import struct
import threading
import time

STUN_COOKIE = 0x2112A442


def _stun_attr(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def _stun_attrs(data: bytes) -> dict[int, tuple[int, bytes]]:
    """STUN attributes by type: (offset, value) of the first of each."""
    found, at = {}, 20
    while at + 4 <= len(data):
        kind, size = struct.unpack("!HH", data[at : at + 4])
        found.setdefault(kind, (at, data[at + 4 : at + 4 + size]))
        at += 4 + (size + 3) // 4 * 4
    return found


class UdpServer:
    """A socket and a thread that hands each datagram to :meth:`handle`."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()

    def handle(self, data: bytes, peer: tuple[str, int]) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.handle(data, peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class Registrar(UdpServer):
    """Says 200 OK to every request (no authentication) and records bare-CRLF
    keep-alives with their arrival times."""

    def __init__(self, wanted_keepalives: int = 4) -> None:
        self.keepalives: list[float] = []
        self.registers = 0
        self.wanted = wanted_keepalives
        self.got_keepalives = threading.Event()
        super().__init__()

    def handle(self, data: bytes, peer: tuple[str, int]) -> None:
        if not data.strip():
            self.keepalives.append(time.monotonic())
            if len(self.keepalives) >= self.wanted:
                self.got_keepalives.set()
            return
        head = data.decode(errors="replace").split("\r\n\r\n", 1)[0].split("\r\n")
        method = head[0].split(" ", 1)[0]
        named = {h.split(":", 1)[0].strip().lower(): h for h in head[1:] if ":" in h}
        vias = [h for h in head[1:] if h.lower().startswith("via:")]
        reply = ["SIP/2.0 200 OK", *vias, named["from"], f"{named['to']};tag=fake1", named["call-id"], named["cseq"]]
        if method == "REGISTER":
            self.registers += 1
            reply.append(f"{named['contact']};expires=300")
        self.sock.sendto("\r\n".join([*reply, "Content-Length: 0", "", ""]).encode(), peer)


class StunServer(UdpServer):
    """Answers Binding Requests (RFC 5389) with the sender's own address."""

    def __init__(self) -> None:
        self.asked_by: list[tuple[str, int]] = []
        self.asked = threading.Event()
        super().__init__()

    def handle(self, data: bytes, peer: tuple[str, int]) -> None:
        if len(data) < 20 or data[:2] != b"\x00\x01" or struct.unpack("!I", data[4:8])[0] != STUN_COOKIE:
            return
        host, port = peer
        self.asked_by.append(peer)
        self.asked.set()
        address = struct.unpack("!I", socket.inet_aton(host))[0] ^ STUN_COOKIE
        mapped = _stun_attr(0x0020, struct.pack("!BBHI", 0, 1, port ^ (STUN_COOKIE >> 16), address))
        self.sock.sendto(struct.pack("!HHI", 0x0101, len(mapped), STUN_COOKIE) + data[8:20] + mapped, peer)


class TurnServer(UdpServer):
    """Enough of TURN (RFC 5766) to see pjsip's Allocate: the first gets 401
    with a realm and nonce; the next must carry the user name and a
    MESSAGE-INTEGRITY made with the password (long-term credentials)."""

    REALM = "sip.test"

    def __init__(self, user: str, password: str) -> None:
        self.key = hashlib.md5(f"{user}:{self.REALM}:{password}".encode()).digest()
        self.signed: list[tuple[bytes, bool]] = []  # (USERNAME, integrity correct)
        self.got_signed = threading.Event()
        super().__init__()

    def _integrity_ok(self, data: bytes, at: int, mac: bytes) -> bool:
        signed = bytearray(data[:at])
        struct.pack_into("!H", signed, 2, at + 24 - 20)  # length as if MESSAGE-INTEGRITY ended the message
        return hmac.compare_digest(hmac.new(self.key, bytes(signed), hashlib.sha1).digest(), mac)

    def handle(self, data: bytes, peer: tuple[str, int]) -> None:
        if len(data) < 20 or data[:2] != b"\x00\x03":  # Allocate requests only
            return
        attrs = _stun_attrs(data)
        if 0x0006 in attrs and 0x0008 in attrs:
            self.signed.append((attrs[0x0006][1], self._integrity_ok(data, *attrs[0x0008])))
            self.got_signed.set()
            return
        body = _stun_attr(0x0009, struct.pack("!HBB", 0, 4, 1) + b"Unauthorized")
        body += _stun_attr(0x0014, self.REALM.encode()) + _stun_attr(0x0015, b"softclock-test-nonce")
        self.sock.sendto(struct.pack("!HHI", 0x0113, len(body), STUN_COOKIE) + data[8:20] + body, peer)
