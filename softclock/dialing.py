"""Turn what a person typed into a SIP URI, or say exactly why not."""

from __future__ import annotations

import re

_PHONE_CHARS = re.compile(r"^\+?[0-9()\-.\s/]+$")
_USER = re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+$")
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9\-.]*[A-Za-z0-9])?)(:\d{1,5})?$")


class DialError(ValueError):
    """The dial string cannot be turned into a SIP URI; the message says why."""


def to_sip_uri(text: str, domain: str) -> str:
    """Build the URI to call from ``text``.

    Accepts a phone number in any common notation (``+1 (202) 555-0143``), a
    user or extension (``bob``, ``201``), ``user@host`` or a full ``sip:`` /
    ``sips:`` URI. ``domain`` completes the first two.
    """
    raw = text.strip()
    if not raw:
        raise DialError("Enter a number or SIP address to call.")
    lower = raw.lower()
    if lower.startswith(("sip:", "sips:")):
        scheme, _, rest = raw.partition(":")
        scheme = scheme.lower()
    elif lower.startswith("tel:"):
        scheme, rest = "sip", raw[4:]
    else:
        scheme, rest = "sip", raw
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
