"""LEDES 1998B: expected lines are written out here by hand from the published
format (24 fields in their order, '|' between, '[]' at the end, YYYYMMDD
dates, fee units in hours, LINE_ITEM_TOTAL = units x unit cost + adjustment,
INVOICE_TOTAL = the sum of the invoice's line totals), never by the writer."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from softclock.reports.ledes import (
    FIELDS,
    FIRST_LINE,
    HEADER_LINE,
    Invoice,
    InvoiceLine,
    LedesError,
    Matter,
    Problem,
    Timekeeper,
    check,
    free_text,
    hours,
    invoices_by_matter,
    money,
    write,
)

HEADER = (
    "INVOICE_DATE|INVOICE_NUMBER|CLIENT_ID|LAW_FIRM_MATTER_ID|INVOICE_TOTAL|BILLING_START_DATE|"
    "BILLING_END_DATE|INVOICE_DESCRIPTION|LINE_ITEM_NUMBER|EXP/FEE/INV_ADJ_TYPE|LINE_ITEM_NUMBER_OF_UNITS|"
    "LINE_ITEM_ADJUSTMENT_AMOUNT|LINE_ITEM_TOTAL|LINE_ITEM_DATE|LINE_ITEM_TASK_CODE|LINE_ITEM_EXPENSE_CODE|"
    "LINE_ITEM_ACTIVITY_CODE|TIMEKEEPER_ID|LINE_ITEM_DESCRIPTION|LAW_FIRM_ID|LINE_ITEM_UNIT_COST|TIMEKEEPER_NAME|"
    "TIMEKEEPER_CLASSIFICATION|CLIENT_MATTER_ID[]"
)
# One line item of the LEDES 1998B specification's own example file.
SPEC_SAMPLE = (
    "19990225|96542|00711|0528|1684.45|19990101|19990131|For services rendered|1|F|2.00|-70|630|19990115|L510||"
    "A102|22547|Research Attorney's fees, Set off claim|24-6437381|350|Arnsley, Robert|PARTNR|423-987[]"
)

SMITH = Timekeeper("TK-12", "Smith, Ann", "PT", Decimal("350.00"))
JONES = Timekeeper("TK-40", "Jones, Bob", "AS", Decimal("225.45"))
ACME = Matter("ACME", "ACME-007", client_matter_id="CLM-77")
GLOBEX = Matter("GLOBEX", "GLX-001", rate=Decimal("300"))
JAN = {"invoice_date": date(2026, 2, 1), "billing_start": date(2026, 1, 1), "billing_end": date(2026, 1, 31)}
FIRM = "12-3456789"


def test_the_field_names_and_their_order_are_the_published_ones() -> None:
    assert HEADER_LINE == HEADER
    assert len(FIELDS) == 24
    assert FIRST_LINE == "LEDES1998B[]"


def test_one_invoice_written_line_by_line() -> None:
    invoices = invoices_by_matter(
        [
            (ACME, InvoiceLine(date(2026, 1, 20), JONES, 3, "Review of draft settlement", activity_code="A104")),
            (
                ACME,
                InvoiceLine(
                    date(2026, 1, 15),
                    SMITH,
                    12,
                    "Call with client re settlement",
                    task_code="L120",
                    activity_code="A106",
                    adjustment=Decimal("-20"),
                ),
            ),
        ],
        invoice_numbers={("ACME", "ACME-007"): "INV-1001"},
        description="Telephone conferences",
        **JAN,
    )
    text = write(invoices, law_firm_id=FIRM)
    # 12 units of 6 min = 1.20 h; 1.20 x 350.00 - 20.00 = 400.00
    # 3 units of 6 min = 0.30 h; 0.30 x 225.45 = 67.635 -> 67.64 (half up); invoice 467.64
    assert text.split("\r\n") == [
        "LEDES1998B[]",
        HEADER,
        "20260201|INV-1001|ACME|ACME-007|467.64|20260101|20260131|Telephone conferences|1|F|1.20|-20.00|400.00|"
        "20260115|L120||A106|TK-12|Call with client re settlement|12-3456789|350.00|Smith, Ann|PT|CLM-77[]",
        "20260201|INV-1001|ACME|ACME-007|467.64|20260101|20260131|Telephone conferences|2|F|0.30|0.00|67.64|"
        "20260120|||A104|TK-40|Review of draft settlement|12-3456789|225.45|Jones, Bob|AS|CLM-77[]",
        "",
    ]
    assert check(text) == []
    assert invoices[0].total == Decimal("467.64")


def test_one_invoice_per_client_matter_with_the_numbers_chosen() -> None:
    items = [
        (GLOBEX, InvoiceLine(date(2026, 1, 9), SMITH, 5, "Call with CFO")),
        (ACME, InvoiceLine(date(2026, 1, 3), JONES, 10, "Call with opposing counsel", increment_min=15)),
        (GLOBEX, InvoiceLine(date(2026, 1, 2), JONES, 1, "Voicemail", increment_min=10, number="E-889")),
    ]
    numbers = {("ACME", "ACME-007"): "2026-0101", ("GLOBEX", "GLX-001"): "2026-0102"}
    text = write(invoices_by_matter(items, invoice_numbers=numbers, **JAN), law_firm_id=FIRM, newline="\n")
    # ACME: 10 x 15 min = 2.50 h x 225.45 = 563.625 -> 563.63
    # GLOBEX at the matter's 300.00 for everyone: 1 x 10 min = 0.1667 h x 300.00 = 50.01; 5 x 6 min = 0.50 h = 150.00
    assert text.splitlines()[2:] == [
        "20260201|2026-0101|ACME|ACME-007|563.63|20260101|20260131||1|F|2.50|0.00|563.63|20260103|||"
        "|TK-40|Call with opposing counsel|12-3456789|225.45|Jones, Bob|AS|CLM-77[]",
        "20260201|2026-0102|GLOBEX|GLX-001|200.01|20260101|20260131||E-889|F|0.1667|0.00|50.01|20260102|||"
        "|TK-40|Voicemail|12-3456789|300.00|Jones, Bob|AS|[]",
        "20260201|2026-0102|GLOBEX|GLX-001|200.01|20260101|20260131||2|F|0.50|0.00|150.00|20260109|||"
        "|TK-12|Call with CFO|12-3456789|300.00|Smith, Ann|PT|[]",
    ]
    assert check(text) == []


def test_hours_from_units_and_increments() -> None:
    assert [hours(1, m) for m in (1, 5, 6, 10, 15)] == [
        Decimal("0.0167"),
        Decimal("0.0833"),
        Decimal("0.10"),
        Decimal("0.1667"),
        Decimal("0.25"),
    ]
    assert hours(6, 10) == Decimal("1.00") and hours(0, 6) == Decimal("0.00")


def test_money_is_decimal_rounded_half_up_and_never_float() -> None:
    assert money(Decimal("22.545")) == Decimal("22.55")  # half-even would say 22.54
    assert money(Decimal("-0.005")) == Decimal("-0.01")
    assert money(7) == Decimal("7.00")
    with pytest.raises(TypeError, match="float"):
        money(0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="rate must be a Decimal"):
        Timekeeper("T", "A, B", "PT", 350.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        InvoiceLine(date(2026, 1, 1), SMITH, 1, "x", adjustment=-1.5)  # type: ignore[arg-type]


def test_separators_and_line_breaks_in_text_are_neutralised() -> None:
    assert free_text("Call re: A|B [draft]\r\nsecond\tline  ") == "Call re: A/B (draft) second line"
    line = InvoiceLine(date(2026, 1, 5), SMITH, 1, "Call | about [the] deal\nand more")
    text = write(invoices_by_matter([(ACME, line)], invoice_numbers=lambda m: "N-1", **JAN), law_firm_id=FIRM)
    item = text.split("\r\n")[2]
    assert item.count("|") == 23 and item.endswith("[]") and item.count("[]") == 1
    assert "|Call / about (the) deal and more|" in item
    assert check(text) == []


@pytest.mark.parametrize(
    ("matter", "line", "message"),
    [
        (Matter("AC|ME", "M-1"), InvoiceLine(date(2026, 1, 5), SMITH, 1, "x"), "CLIENT_ID 'AC|ME' holds a character"),
        (Matter("ACME", "M" * 21), InvoiceLine(date(2026, 1, 5), SMITH, 1, "x"), "longer than 20 characters"),
        (Matter("", "M-1"), InvoiceLine(date(2026, 1, 5), SMITH, 1, "x"), "CLIENT_ID is empty"),
        (ACME, InvoiceLine(date(2026, 2, 5), SMITH, 1, "x"), "outside the billing period"),
        (ACME, InvoiceLine(date(2026, 1, 5), SMITH, 1, " \n "), "the description is empty"),
        (ACME, InvoiceLine(date(2026, 1, 5), SMITH, 1, "x", activity_code="call"), "'CALL' is not a UTBMS code"),
        (
            ACME,
            InvoiceLine(date(2026, 1, 5), Timekeeper("T[1]", "A, B", "PT", Decimal(1)), 1, "x"),
            "TIMEKEEPER_ID 'T[1]'",
        ),
    ],
)
def test_values_that_cannot_be_written_are_refused(matter: Matter, line: InvoiceLine, message: str) -> None:
    with pytest.raises(LedesError, match=message.replace("|", r"\|").replace("[", r"\[").replace("]", r"\]")):
        write(invoices_by_matter([(matter, line)], invoice_numbers=lambda m: "N-1", **JAN), law_firm_id=FIRM)


def test_invoice_numbers_must_be_given_and_distinct() -> None:
    items = [
        (ACME, InvoiceLine(date(2026, 1, 5), SMITH, 1, "x")),
        (GLOBEX, InvoiceLine(date(2026, 1, 5), SMITH, 1, "y")),
    ]
    with pytest.raises(LedesError, match="no invoice number for matter GLX-001 of client GLOBEX"):
        invoices_by_matter(items, invoice_numbers={("ACME", "ACME-007"): "1"}, **JAN)
    with pytest.raises(LedesError, match="invoice number 7 is given to two matters"):
        invoices_by_matter(items, invoice_numbers=lambda m: "7", **JAN)
    with pytest.raises(LedesError, match="given two ways"):
        invoices_by_matter(
            [*items, (Matter("ACME", "ACME-007"), items[0][1])], invoice_numbers=lambda m: m.law_firm_matter_id, **JAN
        )
    with pytest.raises(LedesError, match="LAW_FIRM_ID is empty"):
        write([], law_firm_id=" ")


def test_the_specifications_sample_line_passes_but_for_its_invoice_total() -> None:
    """The published sample's arithmetic holds (2.00 x 350 - 70 = 630); alone, its invoice total does not."""
    problems = check(f"{FIRST_LINE}\r\n{HEADER}\r\n{SPEC_SAMPLE}\r\n")
    assert [str(p) for p in problems] == [
        "line 3: INVOICE_TOTAL 1684.45 of invoice 96542 is not the sum of its LINE_ITEM_TOTALs (630.00)"
    ]
    second = SPEC_SAMPLE.replace("|1|F|2.00|-70|630|", "|2|F|3.00|4.45|1054.45|")  # 3.00 x 350 + 4.45
    assert check(f"{FIRST_LINE}\n{HEADER}\n{SPEC_SAMPLE}\n{second}\n") == []  # 630 + 1054.45 = 1684.45


def _file(*items: str) -> str:
    return "\r\n".join((FIRST_LINE, HEADER, *items)) + "\r\n"


GOOD = (
    "20260201|INV-1|ACME|ACME-007|400.00|20260101|20260131||1|F|1.20|-20.00|400.00|20260115|L120||A106|TK-12|"
    "Call|12-3456789|350.00|Smith, Ann|PT|[]"
)


def test_a_good_hand_written_file_passes() -> None:
    assert check(_file(GOOD)) == []
    assert check(_file(GOOD).replace("\r\n", "\n")) == []
    adjustment = (
        "20260201|INV-1|ACME|ACME-007|360.00|20260101|20260131||2|IF||-40.00|-40.00|20260131||||||12-3456789||||[]"
    )
    assert check(_file(GOOD.replace("|400.00|2026", "|360.00|2026", 1), adjustment)) == []


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            GOOD.replace("|1.20|", "|1.30|"),
            "line 3: LINE_ITEM_TOTAL 400.00 is not units x unit cost + adjustment (1.30 x 350.00 + -20.00 = 435.00)",
        ),
        (
            GOOD.replace("|-20.00|400.00|", "|-20.00|380.00|"),
            "line 3: INVOICE_TOTAL 400.00 of invoice INV-1 is not the sum of its LINE_ITEM_TOTALs (380.00)",
        ),
        (GOOD.replace("|TK-12|", "||"), "line 3: TIMEKEEPER_ID is required and empty"),
        (GOOD.replace("20260115", "20260132"), "line 3: LINE_ITEM_DATE '20260132' is not a date YYYYMMDD"),
        (GOOD.replace("20260115", "20260215"), "line 3: LINE_ITEM_DATE 20260215 is outside the billing period"),
        (GOOD.replace("|F|", "|X|"), "line 3: EXP/FEE/INV_ADJ_TYPE 'X' is none of F, E, IF, IE"),
        (GOOD.replace("|350.00|", "|350,00|"), "line 3: LINE_ITEM_UNIT_COST '350,00' is not a number"),
        (GOOD[:-2], "line 3: the line does not end with []"),
        (
            GOOD.replace("|Call|", "|Call|with a pipe|"),
            "line 3: 25 fields, not 24 (a '|' inside a field, or one missing?)",
        ),
        (GOOD.replace("|A106|", "|call|"), "line 3: LINE_ITEM_ACTIVITY_CODE 'call' is not a UTBMS code"),
        (GOOD.replace("|INV-1|", "||"), "line 3: INVOICE_NUMBER is required and empty"),
        (GOOD.replace("|Smith, Ann|", "|" + "S" * 31 + "|"), "line 3: TIMEKEEPER_NAME is longer than 30 characters"),
    ],
)
def test_each_problem_is_named_by_its_line(item: str, expected: str) -> None:
    assert expected in [str(p) for p in check(_file(item))]


def test_problems_between_the_lines_of_an_invoice() -> None:
    second = GOOD.replace("20260201|", "20260202|", 1)  # the same line number, another invoice date
    problems = [str(p) for p in check(_file(GOOD, second))]
    assert "line 4: INVOICE_DATE '20260202' differs from '20260201' on line 3, the invoice's first" in problems
    assert "line 4: LINE_ITEM_NUMBER 1 is used twice in invoice INV-1 (first on line 3)" in problems
    assert "line 3: INVOICE_TOTAL 400.00 of invoice INV-1 is not the sum of its LINE_ITEM_TOTALs (800.00)" in problems


def test_the_first_two_lines_and_empty_lines() -> None:
    assert [str(p) for p in check("")] == ["line 1: the file is empty: the first line must be LEDES1998B[]"]
    assert "line 1: the first line must be LEDES1998B[], not 'LEDES98BI V2[]'" in [
        str(p) for p in check(_file(GOOD).replace("LEDES1998B[]", "LEDES98BI V2[]"))
    ]
    assert [str(p) for p in check(_file(GOOD).replace("|CLIENT_ID|", "|CLIENT|"))] == [
        "line 2: header field 3 must be CLIENT_ID, not 'CLIENT'"
    ]
    assert [str(p) for p in check(f"{FIRST_LINE}\n{HEADER}\n")] == ["line 3: the file has no line items"]
    problems = check(_file("", GOOD))
    assert problems == [Problem(3, "an empty line between line items")]


def test_every_file_the_writer_makes_passes_the_checker() -> None:
    rng = random.Random(11)
    keepers = [
        Timekeeper(
            f"TK-{i}",
            f"Keeper{i}, Pat",
            rng.choice(["PT", "AS", "OC", "LA", "OT"]),
            Decimal(rng.randint(9000, 90000)) / 100,
        )
        for i in range(8)
    ]
    matters = [
        Matter(f"C{c}", f"C{c}-M{m}", rate=Decimal(rng.randint(10000, 50000)) / 100 if rng.random() < 0.3 else None)
        for c in range(5)
        for m in range(3)
    ]
    items = []
    for n in range(400):
        day = date(2026, 3, 1) + timedelta(days=rng.randrange(31))
        adjustment = Decimal(-rng.randint(0, 5000)) / 100 if rng.random() < 0.2 else Decimal(0)
        items.append(
            (
                rng.choice(matters),
                InvoiceLine(
                    day,
                    rng.choice(keepers),
                    rng.randint(0, 80),
                    f"Call {n} | [{n}]\nnotes",
                    increment_min=rng.choice([1, 5, 6, 10, 15]),
                    task_code=rng.choice(["", "L120", "C300"]),
                    activity_code=rng.choice(["", "A106", "A108"]),
                    adjustment=adjustment,
                ),
            )
        )
    invoices = invoices_by_matter(
        items,
        invoice_numbers=lambda m: f"INV-{m.law_firm_matter_id}",
        invoice_date=date(2026, 4, 2),
        billing_start=date(2026, 3, 1),
        billing_end=date(2026, 3, 31),
        description="Telephone time | March",
    )
    text = write(invoices, law_firm_id=FIRM)
    assert check(text) == []
    assert len(text.splitlines()) == 402
    by_invoice: dict[str, Decimal] = {}
    for row in text.splitlines()[2:]:
        values = row[:-2].split("|")
        by_invoice.setdefault(values[1], Decimal(0))
        by_invoice[values[1]] += Decimal(values[12])
    assert by_invoice == {invoice.number: invoice.total for invoice in invoices}


def test_an_empty_invoice_is_refused() -> None:
    empty = Invoice("N-1", date(2026, 2, 1), ACME, date(2026, 1, 1), date(2026, 1, 31), ())
    with pytest.raises(LedesError, match="invoice N-1 has no lines"):
        write([empty], law_firm_id=FIRM)
