"""LEDES 1998B: invoices written for e-billing systems, and files checked.

The format (LEDES Oversight Committee, LEDES 1998B; field order as published):

* line 1: ``LEDES1998B[]``;
* line 2: the 24 field names, ``|`` between them, ending ``[]``
  (:data:`FIELDS`);
* then one line per line item, 24 fields, ``|`` between, ``[]`` at the end.
  Every line carries its invoice's fields (date, number, client, matter,
  total, billing period, description), so one file holds many invoices.

Dates are ``YYYYMMDD``. A fee line is ``F`` with LINE_ITEM_NUMBER_OF_UNITS in
hours, LINE_ITEM_UNIT_COST the hourly rate and

    LINE_ITEM_TOTAL = LINE_ITEM_NUMBER_OF_UNITS x LINE_ITEM_UNIT_COST + LINE_ITEM_ADJUSTMENT_AMOUNT

(a negative adjustment is a discount); INVOICE_TOTAL is the sum of the
invoice's LINE_ITEM_TOTALs. ``E`` lines are expenses, ``IF`` / ``IE``
invoice-level adjustments on fees / expenses (their total is their
adjustment; units are ignored).

The writer (:func:`write`) takes plain frozen values (:class:`Timekeeper`,
:class:`Matter`, :class:`InvoiceLine`, :class:`Invoice`) and writes fee lines:
hours = billed units x the increment in minutes / 60 (written with 2 decimals,
or 4 where an increment of 1, 5 or 10 minutes needs them), the unit cost from
the matter's rate when it has one, else the timekeeper's, money as
:class:`~decimal.Decimal` rounded half-up to cents, never float. Each line's
total is computed from the hours and unit cost as written, so the file's
arithmetic holds exactly as a reader redoes it. One invoice per client matter
(:func:`invoices_by_matter`), with the invoice numbers the billing person
chooses. ``|``, ``[``, ``]`` and line breaks in free text (descriptions,
names) become ``/``, ``(``, ``)`` and spaces; an identifier or code holding
them is refused (:class:`LedesError`) rather than changed.

The checker (:func:`check`) reads any LEDES 1998B text and returns every
:class:`Problem` it finds, each naming its line: the first two lines, the
field count and the ``[]`` ending, dates, numbers, line types, required
fields, each line's arithmetic, each invoice's total and its consistency
(one total, date, client and billing period per invoice number; line numbers
unique in it; line dates inside the billing period). Every file :func:`write`
produces passes it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from softclock.errors import InputError

FIRST_LINE = "LEDES1998B[]"
FIELDS = (
    "INVOICE_DATE",
    "INVOICE_NUMBER",
    "CLIENT_ID",
    "LAW_FIRM_MATTER_ID",
    "INVOICE_TOTAL",
    "BILLING_START_DATE",
    "BILLING_END_DATE",
    "INVOICE_DESCRIPTION",
    "LINE_ITEM_NUMBER",
    "EXP/FEE/INV_ADJ_TYPE",
    "LINE_ITEM_NUMBER_OF_UNITS",
    "LINE_ITEM_ADJUSTMENT_AMOUNT",
    "LINE_ITEM_TOTAL",
    "LINE_ITEM_DATE",
    "LINE_ITEM_TASK_CODE",
    "LINE_ITEM_EXPENSE_CODE",
    "LINE_ITEM_ACTIVITY_CODE",
    "TIMEKEEPER_ID",
    "LINE_ITEM_DESCRIPTION",
    "LAW_FIRM_ID",
    "LINE_ITEM_UNIT_COST",
    "TIMEKEEPER_NAME",
    "TIMEKEEPER_CLASSIFICATION",
    "CLIENT_MATTER_ID",
)
HEADER_LINE = "|".join(FIELDS) + "[]"
INCREMENTS_MIN = (1, 5, 6, 10, 15)

CENT = Decimal("0.01")
_HOURS_4 = Decimal("0.0001")
# The field lengths of the published format (characters).
_ID_MAX = 20
_NAME_MAX = 30
_CLASSIFICATION_MAX = 10
_TASK_CODE = re.compile(r"[A-Z]\d{3}")
_ACTIVITY_CODE = re.compile(r"A\d{3}")
_EXPENSE_CODE = re.compile(r"E\d{3}")
_SEPARATORS = re.compile(r"[|\[\]\r\n\x00-\x1f\x7f\u2028\u2029]")
_FREE_TEXT = str.maketrans({"|": "/", "[": "(", "]": ")"})
_CONTROLS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


class LedesError(InputError):
    """Values that cannot be written as LEDES 1998B; the message says which and why."""


class LineType(enum.StrEnum):
    FEE = "F"
    EXPENSE = "E"
    FEE_ADJUSTMENT = "IF"
    EXPENSE_ADJUSTMENT = "IE"


def money(value: Decimal | int) -> Decimal:
    """``value`` rounded half-up to cents. Floats are refused: money is never binary."""
    if isinstance(value, float) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"money must be a Decimal or an int, not {type(value).__name__} ({value!r})")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _decimal(value: Decimal | int, what: str) -> Decimal:
    if isinstance(value, float) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{what} must be a Decimal or an int, not {type(value).__name__} ({value!r})")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{what} {value} is not a number")
    return result


@dataclass(frozen=True)
class Timekeeper:
    id: str
    name: str  # "Last, First", as e-billing systems expect
    classification: str  # e.g. PT (partner), AS (associate), OC (of counsel), LA (legal assistant), OT
    rate: Decimal  # per hour

    def __post_init__(self) -> None:
        _decimal(self.rate, f"timekeeper {self.id}'s rate")


@dataclass(frozen=True)
class Matter:
    client_id: str
    law_firm_matter_id: str
    client_matter_id: str = ""  # the client's own code for the matter, when it has given one
    rate: Decimal | None = None  # an hourly rate for the matter, over the timekeeper's

    def __post_init__(self) -> None:
        if self.rate is not None:
            _decimal(self.rate, f"matter {self.law_firm_matter_id}'s rate")


@dataclass(frozen=True)
class InvoiceLine:
    """A fee line: one approved time entry."""

    date: date
    timekeeper: Timekeeper
    units: int  # billed units of increment_min minutes each
    description: str
    increment_min: int = 6
    task_code: str = ""  # UTBMS task code, e.g. L120
    activity_code: str = ""  # UTBMS activity code, e.g. A106
    adjustment: Decimal = Decimal(0)  # negative: a discount; positive: a premium
    number: str = ""  # LINE_ITEM_NUMBER (e.g. the entry's id); empty: its position in the invoice

    def __post_init__(self) -> None:
        if isinstance(self.units, bool) or not isinstance(self.units, int) or self.units < 0:
            raise ValueError(f"units must be a whole number of increments, not {self.units!r}")
        if self.increment_min not in INCREMENTS_MIN:
            raise ValueError(f"increment_min must be one of {INCREMENTS_MIN}, not {self.increment_min!r}")
        _decimal(self.adjustment, "the adjustment")

    @property
    def hours(self) -> Decimal:
        """LINE_ITEM_NUMBER_OF_UNITS as written: hours to 2 decimals, or 4 where the increment needs them."""
        return hours(self.units, self.increment_min)


@dataclass(frozen=True)
class Invoice:
    number: str  # the billing person's choice
    invoice_date: date
    matter: Matter
    billing_start: date
    billing_end: date
    lines: tuple[InvoiceLine, ...]
    description: str = ""

    def unit_cost(self, line: InvoiceLine) -> Decimal:
        """The hourly rate a line bills at: the matter's when it has one, else the timekeeper's."""
        rate = self.matter.rate if self.matter.rate is not None else line.timekeeper.rate
        return money(rate)

    def line_total(self, line: InvoiceLine) -> Decimal:
        return money(line.hours * self.unit_cost(line) + money(line.adjustment))

    @property
    def total(self) -> Decimal:
        return sum((self.line_total(line) for line in self.lines), Decimal("0.00"))


def hours(units: int, increment_min: int) -> Decimal:
    """Billed units as hours: exact to 2 decimals where the increment allows, else rounded to 4."""
    exact = Decimal(units * increment_min) / Decimal(60)
    two = exact.quantize(CENT, rounding=ROUND_HALF_UP)
    if two == exact:
        return two
    return exact.quantize(_HOURS_4, rounding=ROUND_HALF_UP)


def free_text(text: str) -> str:
    """Text safe inside a LEDES field: ``|`` -> ``/``, ``[``/``]`` -> ``(``/``)``, line breaks -> spaces."""
    return " ".join(_CONTROLS.sub(" ", text.translate(_FREE_TEXT)).split())


def invoices_by_matter(
    items: Iterable[tuple[Matter, InvoiceLine]],
    *,
    invoice_numbers: Mapping[tuple[str, str], str] | Callable[[Matter], str],
    invoice_date: date,
    billing_start: date,
    billing_end: date,
    description: str = "",
) -> list[Invoice]:
    """One invoice per client matter, its lines by date then timekeeper.

    ``invoice_numbers`` maps ``(client_id, law_firm_matter_id)`` to the number
    the billing person chose (or is a function of the matter). Invoices come
    in client, then matter order.
    """
    grouped: dict[tuple[str, str], tuple[Matter, list[InvoiceLine]]] = {}
    for matter, line in items:
        key = (matter.client_id, matter.law_firm_matter_id)
        known = grouped.get(key)
        if known is None:
            grouped[key] = (matter, [line])
        elif known[0] != matter:
            raise LedesError(f"matter {matter.law_firm_matter_id} of client {matter.client_id} is given two ways")
        else:
            known[1].append(line)
    invoices: list[Invoice] = []
    seen: dict[str, tuple[str, str]] = {}
    for key in sorted(grouped):
        matter, lines = grouped[key]
        if callable(invoice_numbers):
            number = invoice_numbers(matter)
        else:
            try:
                number = invoice_numbers[key]
            except KeyError:
                raise LedesError(f"no invoice number for matter {key[1]} of client {key[0]}") from None
        if number in seen:
            raise LedesError(f"invoice number {number} is given to two matters ({seen[number][1]} and {key[1]})")
        seen[number] = key
        lines.sort(key=lambda line: (line.date, line.timekeeper.id, line.number))
        invoices.append(
            Invoice(
                number=number,
                invoice_date=invoice_date,
                matter=matter,
                billing_start=billing_start,
                billing_end=billing_end,
                lines=tuple(lines),
                description=description,
            )
        )
    return invoices


# --------------------------------------------------------------------------- writing


def _ledes_date(value: date) -> str:
    return value.strftime("%Y%m%d")


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _hours_text(value: Decimal) -> str:
    return f"{value:.2f}" if value == value.quantize(CENT) else f"{value:.4f}"


def _identifier(value: str, what: str, maximum: int = _ID_MAX, *, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise LedesError(f"{what} is empty")
    if _SEPARATORS.search(value):
        raise LedesError(f"{what} {value!r} holds a character LEDES uses to separate fields or lines")
    if len(value) > maximum:
        raise LedesError(f"{what} {value!r} is longer than {maximum} characters")
    return value


def _code(value: str, pattern: re.Pattern[str], what: str) -> str:
    value = value.strip().upper()
    if value and not pattern.fullmatch(value):
        raise LedesError(f"{what} {value!r} is not a UTBMS code")
    return value


def lines(invoices: Iterable[Invoice], *, law_firm_id: str) -> Iterator[str]:
    """The lines of a LEDES 1998B file (without line ends): the two header lines, then each invoice's lines."""
    firm = _identifier(law_firm_id, "LAW_FIRM_ID")
    yield FIRST_LINE
    yield HEADER_LINE
    numbers: set[str] = set()
    for invoice in invoices:
        yield from _invoice_lines(invoice, firm, numbers)


def _invoice_lines(invoice: Invoice, firm: str, numbers: set[str]) -> Iterator[str]:
    number = _identifier(invoice.number, "INVOICE_NUMBER")
    where = f"invoice {number}"
    if number in numbers:
        raise LedesError(f"{where} is written twice")
    numbers.add(number)
    if not invoice.lines:
        raise LedesError(f"{where} has no lines")
    if invoice.billing_start > invoice.billing_end:
        raise LedesError(f"{where}: the billing period starts after it ends")
    client = _identifier(invoice.matter.client_id, f"{where}: CLIENT_ID")
    matter = _identifier(invoice.matter.law_firm_matter_id, f"{where}: LAW_FIRM_MATTER_ID")
    client_matter = _identifier(invoice.matter.client_matter_id, f"{where}: CLIENT_MATTER_ID", required=False)
    head = [
        _ledes_date(invoice.invoice_date),
        number,
        client,
        matter,
        _amount(invoice.total),
        _ledes_date(invoice.billing_start),
        _ledes_date(invoice.billing_end),
        free_text(invoice.description),
    ]
    line_numbers: set[str] = set()
    for position, line in enumerate(invoice.lines, 1):
        at = f"{where}, line {position}"
        line_number = _identifier(line.number or str(position), f"{at}: LINE_ITEM_NUMBER")
        if line_number in line_numbers:
            raise LedesError(f"{at}: LINE_ITEM_NUMBER {line_number} is used twice")
        line_numbers.add(line_number)
        if not invoice.billing_start <= line.date <= invoice.billing_end:
            raise LedesError(f"{at}: its date {line.date} is outside the billing period")
        keeper = line.timekeeper
        description = free_text(line.description)
        if not description:
            raise LedesError(f"{at}: the description is empty")
        fields = [
            *head,
            line_number,
            LineType.FEE.value,
            _hours_text(line.hours),
            _amount(money(line.adjustment)),
            _amount(invoice.line_total(line)),
            _ledes_date(line.date),
            _code(line.task_code, _TASK_CODE, f"{at}: task code"),
            "",
            _code(line.activity_code, _ACTIVITY_CODE, f"{at}: activity code"),
            _identifier(keeper.id, f"{at}: TIMEKEEPER_ID"),
            description,
            firm,
            _amount(invoice.unit_cost(line)),
            _identifier(free_text(keeper.name), f"{at}: TIMEKEEPER_NAME", _NAME_MAX),
            _identifier(keeper.classification, f"{at}: TIMEKEEPER_CLASSIFICATION", _CLASSIFICATION_MAX),
            client_matter,
        ]
        yield "|".join(fields) + "[]"


def write(invoices: Iterable[Invoice], *, law_firm_id: str, newline: str = "\r\n") -> str:
    """A whole LEDES 1998B file; each line ends ``[]`` then ``newline`` (CRLF unless told).

    Raises :class:`LedesError` naming the invoice and line of a value that cannot be written.
    """
    return "".join(line + newline for line in lines(invoices, law_firm_id=law_firm_id))


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True, order=True)
class Problem:
    line: int  # 1-based line of the file
    message: str
    field: str | None = dataclass_field(default=None, compare=False)  # the LEDES field, when one

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_REQUIRED_ALWAYS = (
    "INVOICE_DATE",
    "INVOICE_NUMBER",
    "CLIENT_ID",
    "LAW_FIRM_MATTER_ID",
    "INVOICE_TOTAL",
    "BILLING_START_DATE",
    "BILLING_END_DATE",
    "LINE_ITEM_NUMBER",
    "EXP/FEE/INV_ADJ_TYPE",
    "LINE_ITEM_TOTAL",
    "LINE_ITEM_DATE",
    "LAW_FIRM_ID",
)
_REQUIRED_BY_TYPE = {
    "F": (
        "LINE_ITEM_NUMBER_OF_UNITS",
        "LINE_ITEM_UNIT_COST",
        "TIMEKEEPER_ID",
        "TIMEKEEPER_NAME",
        "TIMEKEEPER_CLASSIFICATION",
        "LINE_ITEM_DESCRIPTION",
    ),
    "E": ("LINE_ITEM_NUMBER_OF_UNITS", "LINE_ITEM_UNIT_COST", "LINE_ITEM_EXPENSE_CODE", "LINE_ITEM_DESCRIPTION"),
    "IF": ("LINE_ITEM_ADJUSTMENT_AMOUNT",),
    "IE": ("LINE_ITEM_ADJUSTMENT_AMOUNT",),
}
_DATES = ("INVOICE_DATE", "BILLING_START_DATE", "BILLING_END_DATE", "LINE_ITEM_DATE")
_AMOUNTS = (
    "INVOICE_TOTAL",
    "LINE_ITEM_NUMBER_OF_UNITS",
    "LINE_ITEM_ADJUSTMENT_AMOUNT",
    "LINE_ITEM_TOTAL",
    "LINE_ITEM_UNIT_COST",
)
_LIMITS = {
    "INVOICE_NUMBER": _ID_MAX,
    "CLIENT_ID": _ID_MAX,
    "LAW_FIRM_MATTER_ID": _ID_MAX,
    "LINE_ITEM_NUMBER": _ID_MAX,
    "EXP/FEE/INV_ADJ_TYPE": 2,
    "LINE_ITEM_TASK_CODE": _ID_MAX,
    "LINE_ITEM_EXPENSE_CODE": _ID_MAX,
    "LINE_ITEM_ACTIVITY_CODE": _ID_MAX,
    "TIMEKEEPER_ID": _ID_MAX,
    "LAW_FIRM_ID": _ID_MAX,
    "TIMEKEEPER_NAME": _NAME_MAX,
    "TIMEKEEPER_CLASSIFICATION": _CLASSIFICATION_MAX,
    "CLIENT_MATTER_ID": _ID_MAX,
}
_HALF_CENT = Decimal("0.005")


@dataclass
class _InvoiceSeen:
    line: int
    total_text: str
    total: Decimal | None
    first: dict[str, str]
    line_numbers: dict[str, int]
    sum: Decimal = Decimal(0)
    summable: bool = True


def check(text: str) -> list[Problem]:
    """Every problem of a LEDES 1998B file, in line order; an empty list for a good file."""
    problems: list[Problem] = []
    rows = text.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    rows = [row.removesuffix("\r") for row in rows]
    if not rows:
        return [Problem(1, f"the file is empty: the first line must be {FIRST_LINE}")]
    first = rows[0].lstrip("\ufeff").rstrip()
    if first != FIRST_LINE:
        problems.append(Problem(1, f"the first line must be {FIRST_LINE}, not {first[:40]!r}"))
    if len(rows) < 2:
        problems.append(Problem(2, "the header line of the 24 field names is missing"))
        return problems
    if rows[1].rstrip() != HEADER_LINE:
        problems.append(Problem(2, _header_problem(rows[1].rstrip())))
    invoices: dict[str, _InvoiceSeen] = {}
    data = 0
    for number, raw in enumerate(rows[2:], 3):
        row = raw.rstrip()
        if not row:
            problems.append(Problem(number, "an empty line between line items"))
            continue
        data += 1
        problems.extend(_check_line(number, row, invoices))
    if data == 0:
        problems.append(Problem(3, "the file has no line items"))
    for invoice_number, seen in invoices.items():
        if seen.total is not None and seen.summable and seen.sum != seen.total:
            problems.append(
                Problem(
                    seen.line,
                    f"INVOICE_TOTAL {seen.total_text} of invoice {invoice_number} is not the sum of its "
                    f"LINE_ITEM_TOTALs ({seen.sum:.2f})",
                    "INVOICE_TOTAL",
                )
            )
    return sorted(problems)


def _header_problem(header: str) -> str:
    if not header.endswith("[]"):
        return "the header line must end with []"
    names = header[:-2].split("|")
    if len(names) != len(FIELDS):
        return f"the header line has {len(names)} field names, not 24"
    for index, (got, wanted) in enumerate(zip(names, FIELDS, strict=True), 1):
        if got != wanted:
            return f"header field {index} must be {wanted}, not {got!r}"
    return "the header line is not the LEDES 1998B header"


def _check_line(number: int, row: str, invoices: dict[str, _InvoiceSeen]) -> list[Problem]:
    problems: list[Problem] = []

    def problem(message: str, name: str | None = None) -> None:
        problems.append(Problem(number, message, name))

    if not row.endswith("[]"):
        problem("the line does not end with []")
        body = row
    else:
        body = row[:-2]
    values = body.split("|")
    if len(values) != len(FIELDS):
        problem(f"{len(values)} fields, not 24 (a '|' inside a field, or one missing?)")
        return problems
    item = dict(zip(FIELDS, (value.strip() for value in values), strict=True))
    kind = item["EXP/FEE/INV_ADJ_TYPE"]
    if kind not in _REQUIRED_BY_TYPE:
        problem(f"EXP/FEE/INV_ADJ_TYPE {kind!r} is none of F, E, IF, IE", "EXP/FEE/INV_ADJ_TYPE")
    for name in (*_REQUIRED_ALWAYS, *_REQUIRED_BY_TYPE.get(kind, ())):
        if not item[name]:
            problem(f"{name} is required and empty", name)
    for name, limit in _LIMITS.items():
        if len(item[name]) > limit:
            problem(f"{name} is longer than {limit} characters", name)
    dates: dict[str, date] = {}
    for name in _DATES:
        value = item[name]
        if value:
            parsed = _parse_date(value)
            if parsed is None:
                problem(f"{name} {value!r} is not a date YYYYMMDD", name)
            else:
                dates[name] = parsed
    amounts: dict[str, Decimal] = {}
    for name in _AMOUNTS:
        value = item[name]
        if value:
            parsed_amount = _parse_number(value)
            if parsed_amount is None:
                problem(f"{name} {value!r} is not a number", name)
            else:
                amounts[name] = parsed_amount
    for name, pattern in (
        ("LINE_ITEM_TASK_CODE", _TASK_CODE),
        ("LINE_ITEM_ACTIVITY_CODE", _ACTIVITY_CODE),
        ("LINE_ITEM_EXPENSE_CODE", _EXPENSE_CODE),
    ):
        if item[name] and not pattern.fullmatch(item[name]):
            problem(f"{name} {item[name]!r} is not a UTBMS code", name)
    if "BILLING_START_DATE" in dates and "BILLING_END_DATE" in dates:
        if dates["BILLING_START_DATE"] > dates["BILLING_END_DATE"]:
            problem("BILLING_START_DATE is after BILLING_END_DATE", "BILLING_START_DATE")
        elif "LINE_ITEM_DATE" in dates and not (
            dates["BILLING_START_DATE"] <= dates["LINE_ITEM_DATE"] <= dates["BILLING_END_DATE"]
        ):
            problem(f"LINE_ITEM_DATE {item['LINE_ITEM_DATE']} is outside the billing period", "LINE_ITEM_DATE")
    units = amounts.get("LINE_ITEM_NUMBER_OF_UNITS")
    if units is not None and units < 0:
        problem("LINE_ITEM_NUMBER_OF_UNITS is negative", "LINE_ITEM_NUMBER_OF_UNITS")
    total = amounts.get("LINE_ITEM_TOTAL")
    adjustment = amounts.get("LINE_ITEM_ADJUSTMENT_AMOUNT", Decimal(0))
    if total is not None and kind in ("F", "E"):
        cost = amounts.get("LINE_ITEM_UNIT_COST")
        if units is not None and cost is not None:
            expected = units * cost + adjustment
            if abs(expected - total) > _HALF_CENT:
                problem(
                    f"LINE_ITEM_TOTAL {item['LINE_ITEM_TOTAL']} is not units x unit cost + adjustment "
                    f"({item['LINE_ITEM_NUMBER_OF_UNITS']} x {item['LINE_ITEM_UNIT_COST']} + {adjustment} = "
                    f"{expected.quantize(CENT, rounding=ROUND_HALF_UP)})",
                    "LINE_ITEM_TOTAL",
                )
    elif total is not None and kind in ("IF", "IE") and "LINE_ITEM_ADJUSTMENT_AMOUNT" in amounts:
        if abs(adjustment - total) > _HALF_CENT:
            problem(f"LINE_ITEM_TOTAL of an {kind} line must be its adjustment ({adjustment})", "LINE_ITEM_TOTAL")
    _remember(number, item, amounts, invoices, problem)
    return problems


def _remember(
    number: int,
    item: dict[str, str],
    amounts: dict[str, Decimal],
    invoices: dict[str, _InvoiceSeen],
    problem: Callable[[str, str | None], None],
) -> None:
    invoice_number = item["INVOICE_NUMBER"]
    if not invoice_number:
        return
    seen = invoices.get(invoice_number)
    if seen is None:
        seen = invoices[invoice_number] = _InvoiceSeen(
            line=number,
            total_text=item["INVOICE_TOTAL"],
            total=amounts.get("INVOICE_TOTAL"),
            first={
                name: item[name]
                for name in ("INVOICE_DATE", "CLIENT_ID", "BILLING_START_DATE", "BILLING_END_DATE", "INVOICE_TOTAL")
            },
            line_numbers={},
        )
    else:
        for name, value in seen.first.items():
            if item[name] != value:
                problem(f"{name} {item[name]!r} differs from {value!r} on line {seen.line}, the invoice's first", name)
    line_number = item["LINE_ITEM_NUMBER"]
    if line_number:
        if line_number in seen.line_numbers:
            problem(
                f"LINE_ITEM_NUMBER {line_number} is used twice in invoice {invoice_number} "
                f"(first on line {seen.line_numbers[line_number]})",
                "LINE_ITEM_NUMBER",
            )
        else:
            seen.line_numbers[line_number] = number
    total = amounts.get("LINE_ITEM_TOTAL")
    if total is None:
        seen.summable = False
    else:
        seen.sum += total


def _parse_date(value: str) -> date | None:
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None


def _parse_number(value: str) -> Decimal | None:
    if not _NUMBER.fullmatch(value):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None
