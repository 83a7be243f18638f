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


def parse_duration(text: str) -> float | None:
    """``m:ss`` or ``h:mm:ss`` (or whole minutes) as seconds; None if it is not one."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    *bigger, last = [int(p) for p in parts]
    if len(parts) == 1:
        return float(last * 60)
    if last >= 60 or (len(bigger) == 2 and bigger[1] >= 60):
        return None
    hours, minutes = bigger if len(bigger) == 2 else [0, bigger[0]]
    return float(hours * 3600 + minutes * 60 + last)


def fmt_minutes(seconds: float) -> str:
    """``m:ss`` (minutes may pass 59), truncated to whole seconds."""
    total = int(seconds)
    return f"{total // 60}:{total % 60:02d}"


def utc_now() -> datetime:
    """Now in UTC as the stores keep it: naive (SQLite has no time zones; every stored time is UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


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
