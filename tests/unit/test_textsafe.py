"""Text from the network is shown inert; CSV cells cannot be formulas."""

from __future__ import annotations

import csv
import io
import unicodedata

import pytest

from softclock.textsafe import csv_cell, csv_row, printable

DANGEROUS = {
    "\x1b": "\\x1b",
    "\x07": "\\x07",
    "\x00": "\\x00",
    "\t": "\\t",
    "\r": "\\r",
    "\n": "\\n",
    "\x7f": "\\x7f",
    "\x9b": "\\x9b",
    "\x85": "\\x85",
    "\u202a": "\\u202a",
    "\u202b": "\\u202b",
    "\u202c": "\\u202c",
    "\u202d": "\\u202d",
    "\u202e": "\\u202e",
    "\u2066": "\\u2066",
    "\u2067": "\\u2067",
    "\u2068": "\\u2068",
    "\u2069": "\\u2069",
    "\u200e": "\\u200e",
    "\u200f": "\\u200f",
    "\u061c": "\\u061c",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


@pytest.mark.parametrize(("char", "shown"), DANGEROUS.items())
def test_each_control_and_bidi_character_is_escaped(char: str, shown: str) -> None:
    assert printable(f"a{char}b") == f"a{shown}b"


def test_no_control_or_bidi_character_survives() -> None:
    everything = "".join(chr(c) for c in range(0x3000))
    left = {c for c in printable(everything) if unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in DANGEROUS}
    assert left == set()


def test_ordinary_text_is_unchanged_and_escaping_twice_changes_nothing() -> None:
    text = 'Zoë "O\'Brien" <sip:+44 20 7946 0000@pbx> 日本 مرحبا 👩‍💻 C:\\path'
    assert printable(text) == text
    attack = "Bob\x1b]0;owned\x07\u202eevil\t|"
    assert printable(printable(attack)) == printable(attack) == "Bob\\x1b]0;owned\\x07\\u202eevil\\t|"
    assert printable(None) == printable("") == ""


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_csv_cell_that_a_spreadsheet_would_run_gets_a_quote(start: str) -> None:
    assert csv_cell(f'{start}HYPERLINK("http://x")') == f'\'{start}HYPERLINK("http://x")'


def test_other_csv_cells_are_unchanged() -> None:
    assert csv_row(["M-1", "Lease", "", "a=b", " =1", -3, 2.5, None, True]) == [
        "M-1",
        "Lease",
        "",
        "a=b",
        " =1",
        -3,
        2.5,
        None,
        True,
    ]


def test_csv_row_through_the_csv_module() -> None:
    out = io.StringIO()
    csv.writer(out).writerow(csv_row(["=1+2", "@SUM(A1)", "Acme, Inc.", "-5"]))
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["'=1+2", "'@SUM(A1)", "Acme, Inc.", "'-5"]
