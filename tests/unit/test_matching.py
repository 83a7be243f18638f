from datetime import UTC, date, datetime

from softclock.matching import number_from_uri, suggest_matter, to_e164
from softclock.store.db import open_memory_store
from softclock.store.models import Call, Matter, TimeEntry
from softclock.store.queries import add_matter, add_number

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC).replace(tzinfo=None)


def test_numbers_are_normalised_and_bad_ones_never_crash() -> None:
    assert to_e164("(202) 555-0143") == "+12025550143"
    assert to_e164("+44 20 7946 0018", "US") == "+442079460018"
    assert to_e164("020 7946 0018", "GB") == "+442079460018"
    for bad in ("", "bob", "12", "+", "☎☎☎", "1" * 40):
        assert to_e164(bad) is None
    assert number_from_uri('"Pat" <sip:+12025550143@x>') == "+12025550143"
    assert number_from_uri("sip:alice@sip.test") is None


def test_suggestion_order() -> None:
    store = open_memory_store()
    with store.session() as s, s.begin():
        old = add_matter(s, "A-1", "Old", "Acme")
        newer = add_matter(s, "A-2", "Newer", "Acme")
        mapped = add_matter(s, "A-3", "Mapped", "Acme")
        add_number(s, "(202) 555-0143", "Acme")
    with store.session() as s:
        # Only the client is known: its most recent matter.
        assert suggest_matter(s, "+12025550143").code == "A-3"
    with store.session() as s, s.begin():
        call = Call(
            sip_call_id="c",
            direction="incoming",
            account="a",
            remote_uri="sip:+12025550143@x",
            remote_number="+12025550143",
            invited_utc=NOW,
        )
        s.add(call)
        s.flush()
        s.add(
            TimeEntry(
                call_id=call.id,
                timekeeper="a",
                matter_id=old.id,
                work_date=date(2026, 11, 26),
                started_utc=NOW,
                created_utc=NOW,
                updated_utc=NOW,
            )
        )
    with store.session() as s:
        assert suggest_matter(s, "+12025550143").code == "A-1"  # last used with this number
    with store.session() as s, s.begin():
        add_number(s, "+1 202 555 0143", "Acme", "A-3")
    with store.session() as s:
        assert suggest_matter(s, "+12025550143").code == "A-3"  # explicit mapping first
    with store.session() as s, s.begin():
        s.get(Matter, mapped.id).status = "closed"
        s.get(Matter, old.id).status = "closed"
    with store.session() as s:
        assert suggest_matter(s, "+12025550143").code == newer.code  # closed matters never suggested
