"""Caller ID: numbers to E.164, and the matter a call most likely belongs to."""

from __future__ import annotations

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from softclock.dialing import uri_user
from softclock.store.models import Call, ContactNumber, Matter, TimeEntry


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
    """The matter a call with ``number`` most likely belongs to, in this order:
    an explicit number-to-matter mapping, the last matter used with this
    number, the most recent matter of the client the number belongs to.
    Closed matters are never suggested."""
    if not number:
        return None
    mapped = session.scalars(
        select(Matter)
        .join(ContactNumber, ContactNumber.matter_id == Matter.id)
        .where(ContactNumber.number == number, Matter.status == "open")
        .limit(1)
    ).first()
    if mapped is not None:
        return mapped
    last = _last_used(session, number)
    if last is not None:
        return last
    client_id = session.scalars(select(ContactNumber.client_id).where(ContactNumber.number == number)).first()
    if client_id is None:
        return None
    recent = session.scalars(
        select(Matter)
        .join(TimeEntry, TimeEntry.matter_id == Matter.id)
        .where(Matter.client_id == client_id, Matter.status == "open")
        .order_by(TimeEntry.started_utc.desc())
        .limit(1)
    ).first()
    if recent is not None:
        return recent
    return session.scalars(
        select(Matter).where(Matter.client_id == client_id, Matter.status == "open").order_by(Matter.id.desc())
    ).first()


def _last_used(session: Session, number: str) -> Matter | None:
    stmt = (
        select(Matter)
        .join(TimeEntry, TimeEntry.matter_id == Matter.id)
        .join(Call, Call.id == TimeEntry.call_id)
        .where(Call.remote_number == number, Matter.status == "open")
        .order_by(TimeEntry.started_utc.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()
