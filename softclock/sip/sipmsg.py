"""SIP text as it arrives: lenient decoding and a small parser for the headers we read.

Pure functions, no pjsua2: the engine hands them what pjsua2 gives it.

Why not pjsua2's own fields:

* pjsua2's strings are C++ ``std::string`` that SWIG turns into ``str`` with
  ``surrogateescape``: a byte that is not UTF-8 (a Latin-1 "M\\xfcller" from an
  ISDN gateway) becomes a lone surrogate, which the store, the log and Qt
  refuse. :func:`clean` turns such a string into printable text (UTF-8 where it
  is UTF-8, Latin-1 where it is not).
* ``CallInfo.remoteUri`` is printed into a fixed buffer: a display name over
  about 240 characters gives ``<-error: uri too long->`` and loses the number,
  and pjsip's own display-name parsing of ``"a<b"`` loses the name. The From
  header of the raw message (``SipRxData.wholeMsg``) parsed here keeps both.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

# RFC 3261 7.3.3 compact forms of the headers we read (and a few more, so a
# compact header is never mistaken for another).
_COMPACT = {
    b"f": b"from",
    b"t": b"to",
    b"i": b"call-id",
    b"m": b"contact",
    b"v": b"via",
    b"l": b"content-length",
    b"c": b"content-type",
    b"e": b"content-encoding",
    b"k": b"supported",
    b"s": b"subject",
    b"o": b"event",
    b"r": b"refer-to",
    b"b": b"referred-by",
    b"u": b"allow-events",
    b"x": b"session-expires",
}


def from_wire(text: str) -> bytes:
    """The bytes behind a string pjsua2 handed us (SWIG decodes with ``surrogateescape``)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate SWIG cannot have made: keep the rest
        return text.encode("utf-8", "replace")


def decode(raw: bytes) -> str:
    """Text from the network: UTF-8 (what SIP says), else Latin-1 (what old gateways send).

    Never fails and never returns a lone surrogate.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def clean(text: str) -> str:
    """A string from pjsua2 made safe to store, log and show (see the module's doc)."""
    if text.isascii():
        return text
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return decode(from_wire(text))


@dataclass(frozen=True)
class Message:
    """A SIP message's start line and headers (names lower-case, compact forms expanded)."""

    start_line: bytes
    headers: tuple[tuple[bytes, bytes], ...]

    def header(self, name: str) -> bytes | None:
        """The first header called ``name`` (long form, any case), or None."""
        wanted = name.lower().encode()
        return next((value for key, value in self.headers if key == wanted), None)

    @property
    def method(self) -> str:
        parts = self.start_line.split()
        return decode(parts[0]) if len(parts) == 3 and parts[2].startswith(b"SIP/") else ""

    @property
    def request_uri(self) -> str:
        parts = self.start_line.split()
        return decode(parts[1]) if len(parts) == 3 and parts[2].startswith(b"SIP/") else ""


_LINE_END = re.compile(rb"\r\n|\n|\r")


def parse_message(raw: bytes) -> Message:
    """Split a message's head into its start line and (unfolded) headers; the body is ignored."""
    head = raw
    for end in (b"\r\n\r\n", b"\n\n"):
        cut = raw.find(end)
        if cut != -1:
            head = raw[:cut]
            break
    lines = _LINE_END.split(head.lstrip(b"\r\n"))
    start = lines[0].strip() if lines else b""
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t") and headers:  # folded: continues the previous header
            key, value = headers[-1]
            headers[-1] = (key, value + b" " + line.strip())
            continue
        name, colon, value = line.partition(b":")
        if not colon:
            continue
        key = name.strip().lower()
        headers.append((_COMPACT.get(key, key), value.strip()))
    return Message(start, tuple(headers))


@dataclass(frozen=True)
class NameAddr:
    """A From/To/Contact value: ``"Display" <uri>;params`` or ``uri;params``."""

    display_name: str
    uri: str
    params: tuple[tuple[str, str], ...] = ()

    @property
    def tag(self) -> str:
        return self.param("tag")

    def param(self, name: str) -> str:
        return next((value for key, value in self.params if key == name), "")


def _quoted(value: bytes, start: int) -> tuple[bytes, int, bool]:
    """The quoted string starting at ``value[start] == '"'``: (unescaped, index after it, closed)."""
    out = bytearray()
    i = start + 1
    while i < len(value):
        ch = value[i]
        if ch == 0x5C and i + 1 < len(value):  # backslash: the next byte stands for itself
            out.append(value[i + 1])
            i += 2
            continue
        if ch == 0x22:
            return bytes(out), i + 1, True
        out.append(ch)
        i += 1
    return bytes(out), i, False


def _split_params(text: bytes) -> tuple[tuple[str, str], ...]:
    """``;tag=a;x="q;r"`` -> (("tag", "a"), ("x", "q;r")): semicolons in quotes stay."""
    params: list[tuple[str, str]] = []
    parts: list[bytes] = []
    current = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == 0x22:  # a quoted value
            raw, i, _ = _quoted(text, i)
            current += b'"' + raw + b'"'
            continue
        if ch == 0x3B:  # ;
            parts.append(bytes(current))
            current = bytearray()
        else:
            current.append(ch)
        i += 1
    parts.append(bytes(current))
    for part in parts:
        name, _, value = part.partition(b"=")
        name = name.strip()
        if not name:
            continue
        value = value.strip()
        if len(value) >= 2 and value.startswith(b'"') and value.endswith(b'"'):
            value = value[1:-1]
        params.append((decode(name).lower(), decode(value)))
    return tuple(params)


def _collapse(raw: bytes) -> str:
    return " ".join(decode(raw).split())


def parse_name_addr(value: bytes | str) -> NameAddr:
    """Parse a From/To header value leniently; whatever is sent, the URI and its number survive.

    A quoted display name may hold ``<``, ``>``, ``;``, ``,`` and escaped quotes; an
    unterminated quote or a missing ``>`` still gives the URI.
    """
    raw = from_wire(value) if isinstance(value, str) else value
    raw = raw.strip()
    display = b""
    i = 0
    if raw.startswith(b'"'):
        name, after, closed = _quoted(raw, 0)
        if closed:
            display_text = decode(name).strip()
            rest = raw[after:]
            lt = rest.find(b"<")
            if lt == -1:  # "name" sip:x@y (not valid SIP): take what follows as the URI
                uri, params = _addr_spec(rest)
                return NameAddr(display_text, uri, params)
            uri, params = _bracketed(rest[lt:])
            return NameAddr(display_text, uri, params)
        # No closing quote: the name runs to the last '<', if there is one.
        lt = raw.rfind(b"<")
        if lt == -1:
            return NameAddr(_collapse(raw[1:]), "", ())
        display, i = raw[1:lt], lt
        uri, params = _bracketed(raw[i:])
        return NameAddr(_collapse(display), uri, params)
    lt = raw.find(b"<")
    if lt == -1:
        uri, params = _addr_spec(raw)
        return NameAddr("", uri, params)
    uri, params = _bracketed(raw[lt:])
    return NameAddr(_collapse(raw[:lt]), uri, params)


def _bracketed(text: bytes) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``<uri>;params`` (a missing ``>``: the URI runs to the end)."""
    gt = text.find(b">")
    if gt == -1:
        return decode(text[1:].strip()), ()
    return decode(text[1:gt].strip()), _split_params(text[gt + 1 :])


def _addr_spec(text: bytes) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``sip:user@host;tag=x``: without brackets every ``;`` starts a header parameter."""
    text = text.strip()
    uri, semi, rest = text.partition(b";")
    return decode(uri.strip()), _split_params(rest) if semi else ()


def uri_user(uri: str) -> str:
    """The user part of a SIP or tel URI, percent-decoded (``sip:%2B1202@h`` -> ``+1202``)."""
    text = uri.strip()
    scheme, colon, rest = text.partition(":")
    if not colon:
        return ""
    scheme = scheme.lower()
    if scheme == "tel":
        user = rest.split(";", 1)[0]
    elif scheme in ("sip", "sips"):
        head = rest.split("?", 1)[0]
        if "@" not in head:
            return ""
        user = head.rsplit("@", 1)[0].split(":", 1)[0]  # sip:user:password@host
        user = user.split(";", 1)[0]
    else:
        return ""
    return decode(unquote_to_bytes(user))


def split_source(address: str) -> tuple[str, int] | None:
    """``"127.0.0.1:5060"`` / ``"[::1]:5060"`` -> (normalised IP, port); None if it is neither."""
    text = address.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = text.rpartition(":")
    if not port.isdigit():
        return None
    ip = normal_ip(host)
    return (ip, int(port)) if ip else None


def normal_ip(host: str) -> str:
    """An IP address in one spelling (IPv4-mapped IPv6 as IPv4); ``""`` if ``host`` is not one."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.compressed


_RX_LOG = re.compile(r"^RX \d+ bytes Request msg (\S+)/cseq=\d+ \([^)]*\) from (\w+) (\S+):\r?\n")


@dataclass(frozen=True)
class LoggedRequest:
    """A request as pjsip's message log (level 4) printed it on arrival."""

    method: str
    transport: str
    source: str
    raw: bytes


def parse_rx_log(line: str) -> LoggedRequest | None:
    """pjsip's ``RX 812 bytes Request msg INVITE/cseq=1 (rdata0x..) from UDP 1.2.3.4:5060:\\n...``."""
    match = _RX_LOG.match(line)
    if match is None:
        return None
    body = line[match.end() :]
    end = body.rfind("\n--end msg--")
    if end != -1:
        body = body[:end]
    return LoggedRequest(match.group(1), match.group(2).upper(), match.group(3), from_wire(body))


@dataclass(frozen=True)
class Caller:
    """Who an incoming request is from, ready for an event."""

    call_id: str
    uri: str  # the From URI, without display name or parameters: its user part is the number
    display_name: str
    tag: str


def caller(message: Message) -> Caller:
    """The caller of an incoming INVITE, from its Call-ID and From headers."""
    call_id = message.header("call-id")
    from_value = message.header("from")
    who = parse_name_addr(from_value) if from_value is not None else NameAddr("", "")
    return Caller(decode(call_id) if call_id is not None else "", who.uri, who.display_name, who.tag)


def parse_mwi(message: str) -> tuple[bool, int, int]:
    """``Messages-Waiting: yes`` / ``Voice-Message: 2/8`` -> (True, 2, 8)."""
    waiting, new, old = False, 0, 0
    for line in message.splitlines():
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "messages-waiting":
            waiting = value.lower() == "yes"
        elif name == "voice-message":
            counts = value.split()[0] if value else ""
            left, _, right = counts.partition("/")
            if left.isdigit():
                new = int(left)
            if right.isdigit():
                old = int(right)
    return waiting, new, old
