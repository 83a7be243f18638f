"""Billing rules, pinned down by examples and by properties (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from softclock.billing import (
    INCREMENTS_MIN,
    Policy,
    PolicyError,
    allocate,
    billable_seconds,
    hours,
    is_short,
    split_units,
    units,
)

policies = st.builds(
    Policy,
    increment_min=st.sampled_from(INCREMENTS_MIN),
    rounding=st.sampled_from(["up", "nearest"]),
    minimum_units=st.integers(0, 3),
)
raw_seconds = st.floats(min_value=0, max_value=12 * 3600, allow_nan=False)


@pytest.mark.parametrize(
    ("raw", "rounding", "expected"),
    [
        (1, "up", 1),
        (360, "up", 1),
        (361, "up", 2),
        (179, "nearest", 1),  # below half an increment, lifted to the minimum of 1
        (540, "nearest", 2),  # exactly 1.5 increments rounds up
        (539, "nearest", 1),
        (3600, "up", 10),
    ],
)
def test_six_minute_examples(raw: float, rounding: str, expected: int) -> None:
    assert units(raw, Policy(rounding=rounding)) == expected


def test_outside_counsel_tenth_of_an_hour_to_nearest() -> None:
    firm = Policy(increment_min=15)
    counsel = firm.with_overrides({"increment_min": 6, "rounding": "nearest"}, {"minimum_units": 0})
    assert (counsel.increment_min, counsel.rounding, counsel.minimum_units) == (6, "nearest", 0)
    assert units(100, counsel) == 0
    assert units(200, counsel) == 1
    assert hours(units(1000, counsel), counsel) == pytest.approx(0.3)


def test_bad_policies_name_the_field() -> None:
    with pytest.raises(PolicyError, match="increment_min must be one of"):
        Policy(increment_min=7)
    with pytest.raises(PolicyError, match="rounding"):
        Policy(rounding="down")
    with pytest.raises(PolicyError, match="unknown policy field 'incrment'"):
        Policy().with_overrides({"incrment": 6})
    with pytest.raises(PolicyError, match="unknown activity code"):
        Policy(activity_client="A999")


def test_short_calls_and_hold() -> None:
    policy = Policy(short_call_s=30, bill_hold=False)
    assert is_short(29.9, policy) and not is_short(30, policy)
    assert billable_seconds(600, 200, policy) == 400
    assert billable_seconds(600, 200, Policy(bill_hold=True)) == 600


@given(policies, raw_seconds)
def test_up_never_bills_less_than_the_time(policy: Policy, raw: float) -> None:
    if policy.rounding == "up":
        assert units(raw, policy) * policy.increment_s >= raw - 1e-6


@given(policies, raw_seconds)
def test_nearest_is_within_half_an_increment(policy: Policy, raw: float) -> None:
    billed = units(raw, policy)
    if policy.rounding == "nearest" and billed > policy.minimum_units:
        assert abs(billed * policy.increment_s - raw) <= policy.increment_s / 2 + 1e-6


@given(policies, raw_seconds, raw_seconds)
def test_billing_never_decreases_as_time_grows(policy: Policy, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert units(low, policy) <= units(high, policy)


@given(policies, raw_seconds)
def test_minimum_applies_only_to_billable_entries(policy: Policy, raw: float) -> None:
    assert units(raw, policy, billable=False) == 0
    assert units(raw, policy) >= policy.minimum_units


@given(st.integers(0, 500), st.lists(st.floats(0, 36000, allow_nan=False), min_size=1, max_size=8))
def test_allocation_sums_to_the_rounded_total(total: int, raws: list[float]) -> None:
    shares = allocate(total, raws)
    assert sum(shares) == total
    assert all(s >= 0 for s in shares)


@given(policies, st.lists(st.floats(1, 3600, allow_nan=False), min_size=2, max_size=5))
def test_split_call_rounds_once_by_default(policy: Policy, raws: list[float]) -> None:
    assert sum(split_units(raws, policy)) == units(sum(raws), policy)


def test_two_five_minute_fragments_are_not_two_quarter_hours() -> None:
    quarter = Policy(increment_min=15)
    assert split_units([300, 300], quarter) == [1, 0]
    assert split_units([300, 300], Policy(increment_min=15, split_rounding="per_entry")) == [1, 1]


def test_zero_piece_reasons_say_why_a_piece_bills_nothing() -> None:
    from softclock.billing import zero_piece_reasons

    firm = Policy()
    assert zero_piece_reasons([360, 40], [firm, firm]) == [
        "",
        "the call is rounded once, to 2 units of 6 min, shared by length, and the longer pieces take them",
    ]
    assert zero_piece_reasons([360, 40], [firm, firm], billable=False) == ["", ""]
    nearest = Policy(rounding="nearest", minimum_units=0, split_rounding="per_entry")
    assert zero_piece_reasons([360, 90], [firm, nearest]) == [
        "",
        "each piece is rounded on its own, to the nearest 6-minute unit with no minimum, and 1.5 min is under half of one",
    ]
    tiny = Policy(rounding="nearest", minimum_units=0)
    assert zero_piece_reasons([60, 60], [tiny, tiny]) == ["the whole call rounds to no 6-minute units"] * 2
