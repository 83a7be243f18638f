"""Firm billing policy and rounding: pure functions, no I/O.

Raw seconds are kept forever; billed units are derived from them by policy.
A unit is one increment (6 minutes by default, i.e. 0.1 h).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

INCREMENTS_MIN = (1, 5, 6, 10, 15)
ROUNDINGS = ("up", "nearest")
ACTIVITY_CODES = {
    "A105": "Communicate (in firm)",
    "A106": "Communicate (with client)",
    "A107": "Communicate (other outside counsel)",
    "A108": "Communicate (other external)",
}


class PolicyError(ValueError):
    """A policy (or an override) that cannot be applied; the message names the field."""


@dataclass(frozen=True)
class Policy:
    increment_min: int = 6
    rounding: str = "up"  # up | nearest
    minimum_units: int = 1  # for billable entries only
    short_call_s: int = 30  # shorter calls become non-billable drafts marked "short"
    bill_hold: bool = True  # whether time on hold bills
    split_rounding: str = "per_call"  # per_call: round the call once, allocate; per_entry: round each
    activity_client: str = "A106"
    activity_other: str = "A108"
    narrative_required: bool = False

    def __post_init__(self) -> None:
        if self.increment_min not in INCREMENTS_MIN:
            raise PolicyError(f"increment_min must be one of {INCREMENTS_MIN}, not {self.increment_min}")
        if self.rounding not in ROUNDINGS:
            raise PolicyError(f"rounding must be 'up' or 'nearest', not {self.rounding!r}")
        if self.minimum_units < 0:
            raise PolicyError("minimum_units cannot be negative")
        if self.short_call_s < 0:
            raise PolicyError("short_call_s cannot be negative")
        if self.split_rounding not in ("per_call", "per_entry"):
            raise PolicyError(f"split_rounding must be 'per_call' or 'per_entry', not {self.split_rounding!r}")
        for code in (self.activity_client, self.activity_other):
            if code not in ACTIVITY_CODES:
                raise PolicyError(f"unknown activity code {code!r}")

    @property
    def increment_s(self) -> int:
        return self.increment_min * 60

    def with_overrides(self, *overrides: Mapping[str, Any] | None) -> Policy:
        """This policy with client, then matter, overrides applied (later wins)."""
        known = {f.name for f in dataclasses.fields(self)}
        values: dict[str, Any] = {}
        for override in overrides:
            for key, value in (override or {}).items():
                if key not in known:
                    raise PolicyError(f"unknown policy field {key!r}")
                values[key] = value
        return dataclasses.replace(self, **values) if values else self


def units(raw_seconds: float, policy: Policy, billable: bool = True) -> int:
    """Billed units for ``raw_seconds`` of work.

    Non-billable entries bill nothing. Billable ones are rounded up or to the
    nearest increment (a half increment rounds up) and lifted to the minimum.
    """
    if not billable:
        return 0
    raw = max(0.0, raw_seconds)
    whole = raw / policy.increment_s
    if policy.rounding == "up":
        # A float ratio like 360.0000001/360 must not become 2 units.
        count = math.ceil(round(whole, 9))
    else:
        count = math.floor(round(whole, 9) + 0.5)
    return max(count, policy.minimum_units)


def billable_seconds(talk_s: float, hold_s: float, policy: Policy) -> float:
    """Seconds that count toward billing: held time only if the firm bills it."""
    return talk_s if policy.bill_hold else max(0.0, talk_s - hold_s)


def is_short(raw_seconds: float, policy: Policy) -> bool:
    return raw_seconds < policy.short_call_s


def hours(unit_count: int, policy: Policy) -> float:
    return unit_count * policy.increment_min / 60


def allocate(total_units: int, raws: Sequence[float]) -> list[int]:
    """Share ``total_units`` among fragments in proportion to their raw seconds.

    Largest remainder: the shares sum to ``total_units`` exactly, and ties go to
    the earlier fragment. Used when a call is split across matters and the
    policy rounds the call once (ABA: no separate minimum charges for pieces of
    one short call).
    """
    if total_units < 0:
        raise ValueError("total_units cannot be negative")
    if not raws:
        return []
    total_raw = sum(max(0.0, r) for r in raws)
    if total_raw <= 0:
        shares = [0] * len(raws)
        shares[0] = total_units
        return shares
    exact = [total_units * max(0.0, r) / total_raw for r in raws]
    shares = [math.floor(x) for x in exact]
    left = total_units - sum(shares)
    order = sorted(range(len(raws)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[:left]:
        shares[i] += 1
    return shares


def split_units(raws: Sequence[float], policy: Policy) -> list[int]:
    """Billed units for the fragments of one call, per the policy's split rule."""
    if policy.split_rounding == "per_entry":
        return [units(r, policy) for r in raws]
    return allocate(units(sum(raws), policy), raws)


def piece_units(seconds: Sequence[float], policies: Sequence[Policy], billable: bool = True) -> list[int]:
    """Billed units of the pieces of a split, each by its own matter's policy and
    that policy's split rule (the Review tab's split dialog shows them live)."""
    if not billable:
        return [0] * len(seconds)
    return [split_units(seconds, policy)[i] for i, policy in enumerate(policies)]


def zero_piece_reasons(seconds: Sequence[float], policies: Sequence[Policy], billable: bool = True) -> list[str]:
    """Why each piece of a split bills no units ("" for a piece that bills some, or when
    nothing is billable): the sentence the split dialog shows beside "0 units"."""
    reasons = []
    for count, policy, raw in zip(piece_units(seconds, policies, billable), policies, seconds, strict=True):
        if count or not billable:
            reasons.append("")
        elif policy.split_rounding == "per_entry":
            reasons.append(
                f"each piece is rounded on its own, to the nearest {policy.increment_min}-minute unit with no "
                f"minimum, and {raw / 60:.1f} min is under half of one"
            )
        else:
            total = units(sum(seconds), policy)
            if total == 0:
                reasons.append(f"the whole call rounds to no {policy.increment_min}-minute units")
            else:
                reasons.append(
                    f"the call is rounded once, to {total} unit{'s' if total != 1 else ''} of "
                    f"{policy.increment_min} min, shared by length, and the longer pieces take "
                    f"{'them' if total != 1 else 'it'}"
                )
    return reasons
