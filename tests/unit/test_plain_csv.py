"""The CSV import reads a plain CSV (no quotes, each line a record) with Arrow's parser and any other
file with Python's csv module: on every file the Arrow reader takes, both must read the same header,
the same cells and the same lines — whatever the cells, blanks, delimiters and line endings."""

from __future__ import annotations

import codecs
import csv

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctct.crm import importer

DELIMITERS = [",", ";", "\t"]
# Cells made of letters and spaces of several kinds Python's str.strip() knows.
CELL = st.text(alphabet=st.sampled_from(list("abcdefgé ABC\u00a0\u2003\x1c\x0b\x85")), max_size=4)
ENDINGS = st.sampled_from(["\n", "\r\n"])
QUOTE = '"'


def python_read(text: str, delimiter: str) -> tuple[list[str], list[list[str]], list[int]]:
    records, lines = importer._csv_records(text, delimiter)
    return records[0], records[1:], lines[1:]


def assert_same_reading(text: str, delimiter: str) -> bool:
    """Whether Arrow took the file; where it did, what it read equals what the csv module reads."""
    plain = importer._plain_csv_columns(text.encode(), text, delimiter)
    if plain is None:
        return False
    header, columns = plain
    expected_header, expected_rows, expected_lines = python_read(text, delimiter)
    assert header == expected_header
    rows = [list(row) for row in zip(*(column.to_pylist() for column in columns), strict=True)]
    assert rows == expected_rows
    assert list(range(2, len(rows) + 2)) == expected_lines
    return True


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, str]:
    """A header and rows of cells joined by a delimiter: mostly well-formed, sometimes with a blank
    line, a row of blank cells, a ragged row, mixed line endings, no final line ending."""
    delimiter = draw(st.sampled_from(DELIMITERS))
    width = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(CELL, min_size=width, max_size=width), min_size=1, max_size=6))
    if draw(st.booleans()):
        rows.insert(draw(st.integers(0, len(rows))), [draw(st.sampled_from(["", " ", "\u00a0"]))] * width)
    if draw(st.integers(0, 4)) == 0:
        rows.insert(draw(st.integers(0, len(rows))), [draw(CELL)] * draw(st.integers(1, 5)))
    if draw(st.integers(0, 4)) == 0:  # a cell holding a delimiter (this file's or another's)
        row = rows[draw(st.integers(0, len(rows) - 1))]
        row[draw(st.integers(0, len(row) - 1))] += draw(st.sampled_from(DELIMITERS))
    lines = [delimiter.join(row) for row in rows]
    if draw(st.integers(0, 5)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), "")
    if draw(st.integers(0, 5)) == 0:
        lines[draw(st.integers(0, len(lines) - 1))] += QUOTE
    text = "".join(line + draw(ENDINGS) for line in lines)
    if draw(st.booleans()):
        text = text.rstrip("\r\n")
    return text, delimiter


@settings(max_examples=600, deadline=None)
@given(csv_files())
def test_arrow_reads_every_plain_csv_as_the_csv_module_does(file: tuple[str, str]) -> None:
    READ_BY_ARROW.append(assert_same_reading(*file))


READ_BY_ARROW: list[bool] = []


def test_most_generated_files_were_read_by_arrow() -> None:
    """The property above compared readings, not only refusals (it runs first: file order)."""
    if not READ_BY_ARROW:
        pytest.skip("the property test did not run in this session")
    assert sum(READ_BY_ARROW) >= len(READ_BY_ARROW) // 10


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('a ,;\t\n\r"\u00a0')), max_size=40), st.sampled_from(DELIMITERS))
def test_arrow_reads_any_text_it_takes_as_the_csv_module_does(text: str, delimiter: str) -> None:
    assert_same_reading(text, delimiter)


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_a_plain_export_is_read_by_arrow(ending: str) -> None:
    text = ending.join(["Company,Email,Tags", "Acme,ann@acme.example,VIP;News", "Bolt,, "]) + ending
    assert assert_same_reading(text, ",")


@pytest.mark.parametrize(
    "text",
    [
        'Company,Email\n"Acme, Inc.",ann@acme.example\n',  # quoted: the csv module reads quotes
        "Company,Email\n\nAcme,ann@acme.example\n",  # a blank line: lines are not records
        "Company,Email\n , \nAcme,ann@acme.example\n",  # a row of blank cells is a blank line
        "Company,Email\nAcme\n",  # ragged: the csv module's reading words the refusal
        "Company,Email\rAcme,ann@acme.example\r",  # lone carriage returns
    ],
)
def test_other_files_are_left_to_the_csv_module(text: str) -> None:
    assert not assert_same_reading(text, ",")


@pytest.mark.parametrize("byte_order_mark", [b"", codecs.BOM_UTF8])
def test_the_import_reads_a_plain_file_through_arrow_with_its_lines(byte_order_mark: bytes) -> None:
    text = "Company,Kind,Email\nAcme,customer,ann@acme.example\nBolt,prospect,bo@bolt.example\n"
    frame, ignored = importer.read_import_file("contacts.csv", byte_order_mark + text.encode())
    assert ignored == []  # the mark is not part of the first header
    assert frame["company"].tolist() == ["Acme", "Bolt"]
    assert frame["email"].tolist() == ["ann@acme.example", "bo@bolt.example"]
    assert frame["line"].tolist() == [2, 3]


def test_a_cell_longer_than_the_csv_module_reads_is_refused_with_or_without_quotes() -> None:
    limit = csv.field_size_limit()
    for company in ("Acme", '"Acme"'):
        text = f"Company,Email,Notes\n{company},ann@acme.example,{'x' * (limit + 1)}\n"
        with pytest.raises(importer.ImportFileError, match=f"line 2: field larger than field limit \\({limit}\\)"):
            importer.read_import_file("contacts.csv", text.encode())
    at_the_limit = f"Company,Email,Notes\nAcme,ann@acme.example,{'x' * limit}\n"
    assert assert_same_reading(at_the_limit, ",")
