"""The one CSV writer: OWASP's rule for CSV injection, and nothing else changed."""

import csv
import io

import pandas as pd
import pytest

from ctct.safe_csv import csv_bytes, formula_mask, formula_safe


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_starting_like_a_formula_gets_a_leading_quote(start):
    assert formula_safe(f"{start}1+1") == f"'{start}1+1"


@pytest.mark.parametrize("value", ["Ann", "ann@acme.com", " =leading space", "", "'=already quoted", "1-2"])
def test_other_text_is_written_as_it_is(value):
    assert formula_safe(value) == value


def test_the_csv_keeps_numbers_empty_cells_and_quoting_and_guards_headers():
    frame = pd.DataFrame(
        {"name": ['=HYPERLINK("http://evil.example","Click")', "Ann", None], "count": [-3, 4, 5], "=x": ["a", "b", "c"]}
    )
    rows = list(csv.reader(io.StringIO(csv_bytes(frame).decode())))
    assert rows == [
        ["name", "count", "'=x"],
        ['\'=HYPERLINK("http://evil.example","Click")', "-3", "a"],
        ["Ann", "4", "b"],
        ["", "5", "c"],
    ]
    assert frame.loc[0, "name"].startswith("=")  # the frame given is not changed


def test_the_mask_is_true_only_for_text():
    values = pd.Series(["=a", "b", None, float("nan"), -5, "@x"], dtype=object)
    assert formula_mask(values).tolist() == [True, False, False, False, False, True]
