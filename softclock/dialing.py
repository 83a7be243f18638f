"""Turn what a person typed, or a link they clicked, into a SIP URI, or say exactly why not.

Links come from browsers and mail clients through ``softclock dial URI``:
``tel:`` (RFC 3966), ``callto:``, ``sip:`` and ``sips:``, often percent-encoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

_PHONE_CHARS = re.compile(r"^\+?[0-9()\-.\s/]+$")
_USER = re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+$")
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9\-.]*[A-Za-z0-9])?)(:\d{1,5})?$")
_DOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9\-.]*[A-Za-z0-9])?$")
# RFC 3966 visual separators, and the spaces people (and %20 in links) put in numbers.
_SEPARATORS = re.compile(r"[\-.()\s]")


class DialError(ValueError):
    """The dial string cannot be turned into a SIP URI; the message says why."""


@dataclass(frozen=True)
class DialTarget:
    """What to call: the SIP URI, and the extension a ``tel:`` link asked for.

    Most PBXes take digits only in the user part, so an extension
    (``tel:+12025550143;ext=12``) is not sent: the number is dialled and the
    person is told to key the extension in once the call is answered.
    """

    uri: str
    extension: str = ""

    @property
    def note(self) -> str:
        """A sentence for the person about what the link asked for and was not dialled, or ``""``."""
        if not self.extension:
            return ""
        return f"Extension {self.extension}: type it on the keypad once the call is answered."


def to_sip_uri(text: str, domain: str) -> str:
    """The URI to call for ``text`` (see :func:`parse_dial`)."""
    return parse_dial(text, domain).uri


def parse_dial(text: str, domain: str) -> DialTarget:
    """Build what to call from ``text``.

    Accepts a phone number in any common notation (``+1 (202) 555-0143``), a
    user or extension (``bob``, ``201``), ``user@host``, a ``sip:`` / ``sips:``
    URI (``?headers`` are dropped), a ``tel:`` URI (percent-encoded or not,
    with visual separators; ``;ext=`` is reported, ``;phone-context=`` of a
    local number names its domain when it is a domain name and is dropped when
    it is a number prefix, other parameters are dropped) and a ``callto:`` link
    (``callto:+1202...``, ``callto://bob@example.org``). ``domain`` completes
    numbers and user names.

    Raises:
        DialError: the text is not something to call, saying why in one sentence.
    """
    raw = text.strip()
    if not raw:
        raise DialError("Enter a number or SIP address to call.")
    lower = raw.lower()
    if lower.startswith("callto:"):
        inner = unquote(_link_body(raw[len("callto:") :]).split("?", 1)[0]).strip()
        if not inner:
            raise DialError(f"Cannot dial {text!r}: the link holds no number or address.")
        return DialTarget(_sip("sip", inner, text, domain))
    if lower.startswith("tel:"):
        return _tel(_link_body(raw[len("tel:") :]), text, domain)
    if lower.startswith(("sip:", "sips:")):
        scheme, _, rest = raw.partition(":")
        return DialTarget(_sip(scheme.lower(), rest.split("?", 1)[0], text, domain, decode=True))
    return DialTarget(_sip("sip", raw, text, domain))


def _link_body(rest: str) -> str:
    """What follows the scheme, without the ``//`` and trailing ``/`` some pages and browsers add."""
    return rest.strip().removeprefix("//").rstrip("/")


def _tel(rest: str, text: str, domain: str) -> DialTarget:
    """An RFC 3966 ``tel:`` URI as a SIP URI and an extension."""
    number_part, *param_parts = rest.split(";")
    params: dict[str, str] = {}
    for part in param_parts:
        name, _, value = part.partition("=")
        params.setdefault(name.strip().lower(), unquote(value).strip())
    number = _SEPARATORS.sub("", unquote(number_part))
    if not number:
        raise DialError(f"Cannot dial {text!r}: the link holds no number.")
    if not re.fullmatch(r"\+?[0-9]+", number):
        raise DialError(
            f"Cannot dial {text!r}: a tel: link holds a phone number (digits, a leading + and - . ( ) only)."
        )
    extension = _SEPARATORS.sub("", params.get("ext", ""))
    if extension and not extension.isdigit():
        raise DialError(f"Cannot dial {text!r}: the extension {params['ext']!r} is not a number.")
    host = domain
    context = params.get("phone-context", "")
    if context and not number.startswith("+") and not context.startswith("+"):
        # A local number in a domain's numbering plan (RFC 3966 5.1.5): call it there.
        # A context of a number prefix (+1-202) only says where the number is local: dropped.
        if not _DOMAIN.match(context):
            raise DialError(f"Cannot dial {text!r}: {context!r} is not a valid domain name.")
        host = context
    if not host:
        raise DialError(f"Cannot dial {text!r} without a SIP domain: set up an account first.")
    return DialTarget(f"sip:{number}@{host}", extension)


def _sip(scheme: str, rest: str, text: str, domain: str, decode: bool = False) -> str:
    params = ""
    if ";" in rest and "@" in rest:
        at = rest.index("@")
        semi = rest.find(";", at)
        if semi >= 0:
            rest, params = rest[:semi], rest[semi:]
    if "@" in rest:
        user, _, host = rest.rpartition("@")
        if not host or not _HOST.match(host):
            raise DialError(f"Cannot dial {text!r}: {host!r} is not a valid host name.")
    else:
        user, host = rest, domain
    if decode and "%" in user and _PHONE_CHARS.match(unquote(user)):
        user = unquote(user)  # sip:%2B1%20202... from a link: a number like any other
    if _PHONE_CHARS.match(user) and any(c.isdigit() for c in user):
        digits = re.sub(r"[^0-9]", "", user)
        user = ("+" if user.lstrip().startswith("+") else "") + digits
    if not user:
        raise DialError(f"Cannot dial {text!r}: there is no number or user name before '@'.")
    if not _USER.match(user):
        bad = sorted({c for c in user if not _USER.match(c)})
        raise DialError(
            f"Cannot dial {text!r}: it contains characters a number or SIP address cannot have "
            f"({' '.join(repr(c) for c in bad)})."
        )
    if not host:
        raise DialError(f"Cannot dial {text!r} without a SIP domain: set up an account first.")
    return f"{scheme}:{user}@{host}{params}"


def uri_user(uri: str) -> str:
    """The user part of a SIP URI or name-addr (``"Pat" <sip:+1202@x>`` -> ``+1202``)."""
    inner = uri
    if "<" in inner and ">" in inner:
        inner = inner[inner.index("<") + 1 : inner.index(">")]
    inner = inner.split(":", 1)[1] if ":" in inner.split("@", 1)[0] else inner
    return inner.split("@", 1)[0].split(";", 1)[0]


def display_name(uri: str) -> str:
    """The display name of a name-addr, or ``""``."""
    if "<" in uri:
        name = uri[: uri.index("<")].strip()
        return name.strip('"').strip()
    return ""
