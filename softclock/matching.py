"""Caller ID: numbers to E.164, and the matter a call most likely belongs to."""

from __future__ import annotations

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from softclock.dialing import uri_user
from softclock.store.models import Call, Matter, TimeEntry


def to_e164(number: str, region: str = "US") -> str | None:
    """``"(202) 555-0143"`` -> ``"+12025550143"``; None when it is not a phone number."""
    if not number or not any(c.isdigit() for c in number):
        return None
    if any(c.isalpha() for c in number):
        return None
    try:
        parsed = phonenumbers.parse(number, region or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def number_from_uri(uri: str, region: str = "US") -> str | None:
    return to_e164(uri_user(uri), region)


def pretty(number: str | None) -> str:
    """E.164 shown the international way, or the input unchanged."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def suggest_matter(session: Session, number: str | None) -> Matter | None:
    """The open matter last used on a call with this number, if any."""
    if not number:
        return None
    stmt = (
        select(Matter)
        .join(TimeEntry, TimeEntry.matter_id == Matter.id)
        .join(Call, Call.id == TimeEntry.call_id)
        .where(Call.remote_number == number, Matter.status == "open")
        .order_by(TimeEntry.started_utc.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()
