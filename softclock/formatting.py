"""Small, dependency-free formatting shared by the UI and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class MatterRow:
    id: int
    code: str
    name: str
    client: str

    @property
    def label(self) -> str:
        return f"{self.code} — {self.client}: {self.name}"


def fmt_duration(seconds: float) -> str:
    """``h:mm:ss``, truncated to whole seconds."""
    total = int(seconds)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def as_local(value: datetime | None) -> datetime | None:
    """A naive UTC timestamp from the store, in local time."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone()


def bare_address(uri: str) -> str:
    """``"X" <sip:bob@host:5060;transport=udp>`` -> ``bob@host:5060``."""
    inner = uri
    if "<" in inner and ">" in inner:
        inner = inner[inner.index("<") + 1 : inner.index(">")]
    for scheme in ("sip:", "sips:"):
        if inner.lower().startswith(scheme):
            inner = inner[len(scheme) :]
    return inner.split(";", 1)[0]
