"""CRM import from CSV or Excel: a dry run that says what each row will do, then one commit.

Columns (header names are case-insensitive; spaces, dashes and underscores are alike):
company, kind, company email, first name, last name, email, job title, tags (separated by `;`).
`company` and `email` are required columns; a row without an email only creates or matches its
company. A row is rejected with the reason when any of its values is bad, naming the field and the
value; by default a file with rejected rows is not imported at all (`skip_invalid` imports the good
rows and reports the rest). Rows are named by their line in the file: the physical line of a CSV
(the header, blank lines and the lines inside quoted cells count), the row number of a sheet.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import Any, cast

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from rapidfuzz import fuzz, process
from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from ctct import display
from ctct.config import DEFAULT_ROLE_ADDRESSES
from ctct.crm.contact_frame import crm_version
from ctct.crm.matching import NEAR_DUPLICATE_SCORE, near_duplicate_names
from ctct.crm.normalize import (
    MAX_TAG_NAME_LENGTH,
    choice_problem,
    company_name_keys,
    email_key,
    email_keys,
    email_problems,
    length_problem,
    name_key,
    per_row,
    quoted,
    required_problem,
    role_locals,
    text_problems,
)
from ctct.crm.services import (
    COMPANY_EMAIL_LABEL,
    COMPANY_KINDS,
    COMPANY_TEXT_FIELDS,
    CONTACT_EMAIL_LABEL,
    CONTACT_TEXT_FIELDS,
    KIND_LABEL,
    TAG_NAME_LABEL,
)
from ctct.db.bulk import crm_revision_bumped_once, insert_rows
from ctct.db.models import Company, Contact, MarketingTag, SyncRun, company_tags, utcnow
from ctct.errors import ImportFileError, ImportRejected, ImportStale

COLUMNS = (
    "company",
    "kind",
    "company email",
    "first name",
    "last name",
    "email",
    "job title",
    "tags",
)
REQUIRED_COLUMNS = ("company", "email")
# The frame's column names: the header names with underscores.
FIELD_OF = {column: column.replace(" ", "_") for column in COLUMNS}
COLUMN_ALIASES = {
    "company name": "company",
    "organization": "company",
    "type": "kind",
    "company kind": "kind",
    "company type": "kind",
    "general email": "company email",
    "firstname": "first name",
    "lastname": "last name",
    "email address": "email",
    "contact email": "email",
    "title": "job title",
    "marketing tags": "tags",
}
# A tags cell longer than this is refused whatever its tags: no company needs that many.
MAX_TAGS_CELL_LENGTH = 2000
MAX_FILE_ROWS = 1_000_000

ProgressCallback = Callable[[float, str], None]

# The tables an import writes rows to straight through the driver (see `_insert_rows`).
CONTACTS = cast(Table, Contact.__table__)
COMPANIES = cast(Table, Company.__table__)


@dataclass
class ImportWarning:
    kind: str
    message: str


@dataclass
class ImportPlan:
    """What an import will do, row by row. `rows` has one line per data row of the file."""

    rows: pd.DataFrame
    new_tags: list[str]
    warnings: list[ImportWarning] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    source: str = ""
    # The CRM as the plan saw it (`crm_version`): committing refuses a plan the CRM has moved past,
    # which is also what keeps a plan from being committed twice.
    crm_version: tuple[Any, ...] | None = None

    @property
    def rejected(self) -> pd.DataFrame:
        return self.rows[self.rows["status"] == "reject"]

    def counts(self) -> dict[str, int]:
        valid = self.rows[self.rows["status"] != "reject"]
        companies = valid.drop_duplicates("company_key")
        return {
            "rows": len(self.rows),
            "rejected": int((self.rows["status"] == "reject").sum()),
            "companies_to_create": int((companies["company_action"] == "create").sum()),
            "companies_matched": int((companies["company_action"] == "match").sum()),
            "contacts_to_create": int((valid["contact_action"] == "create").sum()),
            "contacts_matched": int((valid["contact_action"] == "match").sum()),
            "tags_to_create": len(self.new_tags),
        }

    def to_json(self, row_limit: int | None = None) -> dict[str, Any]:
        shown = self.rows if row_limit is None else self.rows.head(row_limit)
        columns = [
            "line",
            "status",
            "company",
            "company_action",
            "email",
            "contact_action",
            "reason",
        ]
        return {
            "source": self.source,
            "counts": self.counts(),
            "new_tags": self.new_tags,
            "ignored_columns": self.ignored_columns,
            "warnings": [{"kind": w.kind, "message": w.message} for w in self.warnings],
            "rejected": [
                {"line": int(row.line), "email": row.email, "reason": row.reason} for row in self.rejected.itertuples()
            ],
            "rows": shown[columns].astype(object).where(shown[columns].notna(), None).to_dict("records"),
        }

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """The rows (every column), the rejected rows and the warnings, for filtering and export."""
        return {
            "rows": self.rows.copy(),
            "rejected": self.rejected[["line", "email", "reason"]].copy(),
            "warnings": pd.DataFrame([(w.kind, w.message) for w in self.warnings], columns=["kind", "message"]),
        }

    def __repr__(self) -> str:
        counts = self.counts()
        return (
            f"<Import of {self.source or 'a file'}: {counts['rows']:,} rows — "
            f"{counts['companies_to_create']:,} companies and {counts['contacts_to_create']:,} contacts to create, "
            f"{counts['companies_matched']:,} companies and {counts['contacts_matched']:,} contacts matched, "
            f"{counts['rejected']:,} row(s) rejected; {len(self.warnings):,} warning(s)>"
        )

    def _repr_html_(self) -> str:
        counts = self.counts()
        labels = {
            "companies_to_create": "companies to create",
            "companies_matched": "companies already in the CRM",
            "contacts_to_create": "contacts to create",
            "contacts_matched": "contacts already in the CRM",
            "tags_to_create": "marketing tags to create",
            "rejected": "rows rejected",
        }
        parts = [
            display.heading(f"Import of {self.source or 'a file'}: {counts['rows']:,} rows"),
            display.counts_table(((labels[key], counts[key]) for key in labels), ("", "count")),
        ]
        if self.new_tags:
            parts.append(display.paragraph("New marketing tags: " + ", ".join(self.new_tags)))
        if self.ignored_columns:
            parts.append(display.paragraph("Ignored columns: " + ", ".join(self.ignored_columns)))
        if self.warnings:
            parts.append(display.heading(f"Warnings ({len(self.warnings):,})", 4))
            parts.append(display.messages([w.message for w in self.warnings], "warning"))
        if len(self.rejected):
            parts.append(display.heading(f"Rejected rows ({len(self.rejected):,})", 4))
            parts.append(
                display.paragraph(
                    "Nothing is imported while rows are rejected: fix the file, or import the valid rows "
                    "with skip_invalid=True.",
                    "error",
                )
            )
            parts.append(display.frame_table(self.rejected[["line", "email", "reason"]], more_hint="to_frames()"))
        parts.append(display.heading("First rows", 4))
        columns = ["line", "status", "company", "company_action", "email", "contact_action"]
        parts.append(display.frame_table(self.rows[columns], more_hint="to_frames()['rows']"))
        return display.card(*parts)


# Reading the file


def _canonical_header(header: str) -> str:
    words = re.sub(r"\be[\s_\-]?mail\b", "email", str(header).strip().lower())
    words = re.sub(r"[\s_\-]+", " ", words).strip()
    return COLUMN_ALIASES.get(words, words)


@dataclass
class _Sheet:
    """A file's cells before the columns are named: the header, the non-blank data rows and where they are."""

    header: list[str]
    # The data rows' cells column by column, each as long as `lines`: what the column engine takes.
    columns: Sequence[pa.Array | np.ndarray]
    # The line of each data row in the file, as the user finds it in an editor or spreadsheet.
    lines: Sequence[int]
    # (data row position, column position) → (cell reference, formula) for each formula cell the
    # file holds no computed value for (Excel only).
    uncomputed: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)


def _columns_of(rows: list[list[str]], width: int) -> list[np.ndarray]:
    """Rows as wide as `width` (a ragged CSV is refused, a sheet's rows are padded) as columns:
    one 2-D array, cut by column."""
    cells = np.empty((len(rows), width), dtype=object)
    cells[:] = rows
    return [cells[:, position] for position in range(width)]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (or the function it decorates).

    A file's cells are hundreds of thousands of small lists and strings, and reading, planning and
    committing it makes as many rows, tuples and warnings again, none of which can be part of a
    reference cycle; while they pile up the collector would scan them again and again, which costs
    more than reading them. Whatever cycle the block leaves is collected after it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@_collector_paused()
def read_import_file(path: Path | str, content: bytes | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The file's data rows as strings under the canonical column names, and the ignored headers.

    Two more columns: `line`, each row's line in the file, and `uncomputed_formula`, why the row
    cannot be read (a formula cell without a computed value) or None.
    """
    path = Path(path)
    data = path.read_bytes() if content is None else content
    sheet = _read_excel(data) if path.suffix.lower() in {".xlsx", ".xlsm"} else _read_csv(data)
    row_count = len(sheet.lines)
    if row_count > MAX_FILE_ROWS:
        raise ImportFileError(f"the file has {row_count:,} rows; split it into files of at most {MAX_FILE_ROWS:,}")
    originals = sheet.header
    headers = [_canonical_header(column) for column in originals]
    duplicated = sorted({h for h in headers if headers.count(h) > 1 and h in COLUMNS})
    if duplicated:
        raise ImportFileError(f"column {duplicated[0]!r} appears more than once in the header")
    missing = [column for column in REQUIRED_COLUMNS if column not in headers]
    if missing:
        found = ", ".join(repr(h) for h in headers) or "none"
        raise ImportFileError(
            f"missing required column(s): {', '.join(missing)} (found {found}; expected {', '.join(COLUMNS)})"
        )
    ignored = [original for original, h in zip(originals, headers, strict=True) if h not in COLUMNS]
    index = pd.RangeIndex(row_count)
    frame = pd.DataFrame(
        {
            FIELD_OF[column]: (
                pd.Series(sheet.columns[headers.index(column)], index=index, dtype="str").fillna("").str.strip()
                if column in headers
                else pd.Series("", index=index, dtype="str")
            )
            for column in COLUMNS
        },
        index=index,
    )
    frame["line"] = pd.Series(sheet.lines, index=frame.index, dtype="int64")
    frame["uncomputed_formula"] = _uncomputed_reasons(sheet, headers, frame.index)
    return frame, ignored


def _uncomputed_reasons(sheet: _Sheet, headers: list[str], index: pd.Index) -> pd.Series:
    """Per row, why its formula cells cannot be read — only in the columns the import uses."""
    reasons = pd.Series([None] * len(index), index=index, dtype=object)
    for (position, column), (cell, formula) in sorted(sheet.uncomputed.items()):
        if headers[column] not in COLUMNS:
            continue  # an ignored column's value does not matter
        reason = (
            f"{headers[column]} (cell {cell}) is the formula {quoted(formula)} with no computed value in the file: "
            "the workbook was saved by a program that does not calculate formulas; open and save it in "
            "Excel or LibreOffice (or paste the cells as values) and import again"
        )
        earlier = reasons.iat[position]
        reasons.iat[position] = reason if earlier is None else f"{earlier}; {reason}"
    return reasons


def _read_csv(data: bytes) -> _Sheet:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportFileError(
            f"the file is not UTF-8 text: byte 0x{data[error.start]:02x} on line {line} cannot be read; "
            "save it as 'CSV UTF-8' and import again"
        ) from None
    if "\x00" in text:
        raise ImportFileError("the file contains NUL bytes: it is not a CSV text file")
    if not text.strip():
        raise ImportFileError("the file is empty")
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    plain = _plain_csv_columns(data, text, delimiter)
    if plain is not None:
        header, columns = plain
        if not len(columns[0]):
            raise ImportFileError("the file has a header but no data rows")
        return _Sheet(header=header, columns=columns, lines=range(2, len(columns[0]) + 2))
    rows, lines = _csv_records(text, delimiter)
    header, data_rows, data_lines = rows[0], rows[1:], lines[1:]
    if not data_rows:
        raise ImportFileError("the file has a header but no data rows")
    widths = pd.Series(np.fromiter(map(len, data_rows), dtype=np.int64, count=len(data_rows)))
    ragged = widths[widths != len(header)]
    if not ragged.empty:
        first = int(ragged.index[0])
        raise ImportFileError(
            f"the file is not well-formed CSV: line {data_lines[first]} has {int(ragged.iloc[0])} cells "
            f"but the header has {len(header)} ({len(ragged)} such row(s)); check quotes and delimiters"
        )
    return _Sheet(header=header, columns=_columns_of(data_rows, len(header)), lines=data_lines)


# What Python's str.strip() takes for white space: a row of nothing else is a blank line.
_ONLY_WHITE_SPACE = "^[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"


def _plain_csv_columns(data: bytes, text: str, delimiter: str) -> tuple[list[str], list[pa.Array]] | None:
    """The header and the data columns of a CSV without quotes, blank lines or a lone carriage
    return, where each line is one record: what `_csv_records` reads from its `text`, read from
    its `data` by Arrow's parser (which skips a byte order mark, as the decoding did), several
    times faster. None for any other file, which `_csv_records` reads (and words what is wrong
    with it): the two never differ on a file this returns columns for."""
    if '"' in text or text.count("\r") != text.count("\r\n"):
        return None
    # Every column is text, named by position: the header is the table's first row.
    names = [f"column_{position}" for position in range(text.split("\n", 1)[0].count(delimiter) + 1)]
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(data),
            read_options=pa_csv.ReadOptions(column_names=names),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, quote_char=False, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                null_values=[],
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None  # a row as wide as the header is not (a ragged row, a blank line)
    lines = text.count("\n") + (not text.endswith("\n"))
    if table.num_rows != lines:
        return None
    columns = [table.column(position).combine_chunks() for position in range(len(names))]
    joined = pc.binary_join_element_wise(*columns, "")
    # A cell the csv module refuses as too long (Arrow has no such limit). A row's bytes bound each
    # of its cells' characters: the cells are measured only in a file with such a row.
    limit = csv.field_size_limit()
    if (pc.max(pc.binary_length(joined)).as_py() or 0) > limit and any(
        (pc.max(pc.utf8_length(column)).as_py() or 0) > limit for column in columns
    ):
        return None
    if pc.any(pc.match_substring_regex(joined, _ONLY_WHITE_SPACE)).as_py():
        return None  # a row of blank cells, which is a blank line
    return [column[0].as_py() for column in columns], [column.slice(1) for column in columns]


def _csv_records(text: str, delimiter: str) -> tuple[list[list[str]], list[int]]:
    """The non-blank records of a CSV text and the line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        with _collector_paused():
            records = list(reader)
    except csv.Error as error:
        raise ImportFileError(f"the file is not well-formed CSV: line {reader.line_num}: {error}") from None
    # A row of empty or blank cells is a blank line. (Mapped, not looped over: a file has many rows.)
    kept = list(compress(range(len(records)), map(str.strip, map("".join, records))))
    if reader.line_num == len(records):
        # As many lines as records: each record is one line, so record n is on line n + 1.
        if len(kept) == len(records):
            return records, list(range(1, len(records) + 1))
        return [records[position] for position in kept], [position + 1 for position in kept]
    # Some quoted cell spans several lines. `reader.line_num` is the number of physical lines read
    # so far, so a record starts on the line after the previous record ended — which counts blank
    # lines and the lines of such a cell, where counting records does not.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    for row in reader:
        if "".join(row).strip():
            rows.append(row)
            lines.append(start)
        start = reader.line_num + 1
    return rows, lines


def _sheet_rows(data: bytes, *, data_only: bool, values_only: bool) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """The first worksheet's rows with their sheet row numbers, blank rows included."""
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=data_only, keep_links=False)
    try:
        sheet = workbook.worksheets[0]
        # Some writers store a wrong used range; without it the reader reads every row there is.
        sheet.reset_dimensions()
        # Read-only sheets yield an empty row for each row missing from the file, so counting from
        # row 1 gives the row number Excel shows.
        yield from enumerate(sheet.iter_rows(min_row=1, values_only=values_only), start=1)
    finally:
        workbook.close()


def _is_formula(value: object) -> bool:
    return isinstance(value, ArrayFormula | DataTableFormula) or (isinstance(value, str) and value.startswith("="))


def _formula_text(value: object) -> str:
    text = getattr(value, "text", None)
    return text if isinstance(text, str) else str(value)


def _cell_text(value: object) -> str:
    """A cell's value as the text the import reads, written as a spreadsheet shows it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 42.0 is how a sheet stores 42
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _read_excel(data: bytes) -> _Sheet:
    try:
        return _excel_sheet(data)
    except ImportFileError:
        raise
    except Exception as error:  # openpyxl raises many unrelated types for a damaged workbook
        raise ImportFileError(f"the Excel file cannot be read: {error}") from None


def _excel_sheet(data: bytes) -> _Sheet:
    # A workbook stores a formula cell's text and, separately, the value the program that saved it
    # computed; openpyxl shows one or the other. The formulas are read first: a cell with one
    # whose stored value is missing (a file written by a tool that never calculates, such as
    # openpyxl itself) would otherwise read as empty without a word. Only when there are formula
    # cells is the file read a second time, for the computed values.
    numbered = [(number, list(row)) for number, row in _sheet_rows(data, data_only=False, values_only=True)]
    formulas = {
        (number, column): _formula_text(value)
        for number, row in numbered
        for column, value in enumerate(row)
        if _is_formula(value)
    }
    uncomputed_cells: dict[tuple[int, int], str] = {}
    if formulas:
        computed: list[tuple[int, list[Any]]] = []
        for number, cells in _sheet_rows(data, data_only=True, values_only=False):
            values = [getattr(cell, "value", None) for cell in cells]
            for column, cell in enumerate(cells):
                # An empty text result is stored as t="str" with an empty value: computed, just empty.
                if (number, column) in formulas and cell.value is None and getattr(cell, "data_type", "n") != "str":
                    uncomputed_cells[(number, column)] = formulas[(number, column)]
            computed.append((number, values))
        numbered = computed

    formula_rows = {number for number, _column in uncomputed_cells}
    texts = [(number, [_cell_text(value).strip() for value in row]) for number, row in numbered]
    # A row is blank when it shows nothing — but one whose only content is an uncomputed formula
    # shows something in a spreadsheet, so it is kept (and refused with the reason).
    filled = [(number, cells) for number, cells in texts if any(cells) or number in formula_rows]
    if not filled:
        raise ImportFileError("the file is empty")
    width = max(
        column + 1
        for number, cells in filled
        for column, cell in enumerate(cells)
        if cell or (number, column) in uncomputed_cells
    )
    header_cells = filled[0][1]
    # A sheet has no quoting to go wrong: a value beyond the header is a column without a name,
    # named by its letter so that the ignored columns say where it is.
    header = [
        (header_cells[column] if column < len(header_cells) else "") or f"(column {get_column_letter(column + 1)})"
        for column in range(width)
    ]
    rows = [(cells + [""] * width)[:width] for _, cells in filled[1:]]
    lines = [number for number, _ in filled[1:]]
    if not rows:
        raise ImportFileError("the file has a header but no data rows")
    position_of = {number: position for position, number in enumerate(lines)}
    uncomputed = {
        (position_of[number], column): (f"{get_column_letter(column + 1)}{number}", formula)
        for (number, column), formula in uncomputed_cells.items()
        if number in position_of
    }
    return _Sheet(header=header, columns=_columns_of(rows, width), lines=lines, uncomputed=uncomputed)


# Validation
#
# Every reason names the field and its value (SPEC §10), quoted by `quoted`: control and invisible
# characters escaped, long values cut. The checks are vectorized over the whole column; the
# messages are written only for the rows a check flags, which are few.


def _add_problems(reasons: pd.Series, problems: pd.Series) -> None:
    """Adds each row's problem (None where it has none) after any reason the row already has."""
    flagged = problems.dropna()
    if flagged.empty:
        return
    reasons[flagged.index] = [
        text if earlier is None else f"{earlier}; {text}"
        for earlier, text in zip(reasons[flagged.index], flagged, strict=True)
    ]


def _kind_problems(kinds: pd.Series) -> pd.Series:
    unknown = ~kinds.str.lower().isin(["", *COMPANY_KINDS])
    return per_row(unknown, [choice_problem(kind, KIND_LABEL, COMPANY_KINDS) for kind in kinds[unknown]])


def _tag_problems(cells: pd.Series) -> pd.Series:
    """Per row the problem of its first bad tag, told as the form tells a bad tag name; and a
    cell longer than any company's tags could be."""
    too_long = cells.str.len() > MAX_TAGS_CELL_LENGTH
    problems = per_row(too_long, [length_problem(cell, "tags", MAX_TAGS_CELL_LENGTH) for cell in cells[too_long]])
    tags = cells[~too_long & (cells != "")].str.split(";").explode()
    per_tag = text_problems(tags.str.strip().reset_index(drop=True), TAG_NAME_LABEL, MAX_TAG_NAME_LENGTH)
    bad = per_tag.notna().to_numpy()
    first_bad = pd.Series(per_tag[bad].to_numpy(), index=tags.index[bad]).groupby(level=0, sort=False).first()
    problems[first_bad.index] = first_bad
    return problems


def _duplicate_email_problems(frame: pd.DataFrame, keys: pd.Series) -> pd.Series:
    """Each row whose email (`keys`: its email key) an earlier row has: the line of the first."""
    repeated = keys.duplicated(keep="first")
    duplicate = (keys != "") & repeated
    first_line = pd.Series(frame["line"].to_numpy()[~repeated.to_numpy()], index=keys[~repeated])
    return per_row(
        duplicate,
        [
            f"duplicate email {quoted(email)}: same as line {line} (emails are compared ignoring case)"
            for email, line in zip(frame.loc[duplicate, "email"], keys[duplicate].map(first_line), strict=True)
        ],
    )


# Each column's check, in the order of COLUMNS: the form's own rule, label and limit
# (ctct/crm/services.py), so a bad value is told the same thing whether it is typed or imported.
_COLUMN_PROBLEMS: dict[str, Callable[[pd.Series], pd.Series]] = {
    "company": lambda values: text_problems(values, *COMPANY_TEXT_FIELDS["name"]),
    "kind": _kind_problems,
    "company email": lambda values: email_problems(values, COMPANY_EMAIL_LABEL),
    "first name": lambda values: text_problems(values, *CONTACT_TEXT_FIELDS["first_name"]),
    "last name": lambda values: text_problems(values, *CONTACT_TEXT_FIELDS["last_name"]),
    "email": lambda values: email_problems(values, CONTACT_EMAIL_LABEL),
    "job title": lambda values: text_problems(values, *CONTACT_TEXT_FIELDS["job_title"]),
    "tags": _tag_problems,
}


def _per_distinct_value(check: Callable[[pd.Series], pd.Series], values: pd.Series) -> pd.Series:
    """`check`'s verdict per row, worked out once per distinct value.

    Every column check judges a value by itself alone, and a file's columns repeat their values:
    100,000 rows hold a handful of kinds, first names, job titles and tag cells. (Not the contacts'
    emails, which are distinct but for the duplicates refused anyway: they are checked row by row.)
    """
    codes, distinct = values.factorize(use_na_sentinel=False)
    verdicts = check(pd.Series(distinct, dtype=values.dtype)).to_numpy(dtype=object)
    return pd.Series(verdicts[codes], index=values.index, dtype=object)


def _row_reasons(frame: pd.DataFrame, keys: pd.Series) -> pd.Series:
    """Why each row is refused, or None; `keys` are the rows' email keys."""
    reasons = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    company_label = COMPANY_TEXT_FIELDS["name"][0]
    reasons[frame["company"] == ""] = required_problem(company_label)
    for column in COLUMNS:
        check, values = _COLUMN_PROBLEMS[column], frame[FIELD_OF[column]]
        _add_problems(reasons, check(values) if column == "email" else _per_distinct_value(check, values))
    _add_problems(reasons, _duplicate_email_problems(frame, keys))
    _add_problems(reasons, frame["uncomputed_formula"])
    return reasons


# Planning


@_collector_paused()
def plan_crm_import(
    session: Session,
    frame: pd.DataFrame,
    *,
    source: str = "",
    ignored_columns: list[str] | None = None,
    role_addresses: frozenset[str] = frozenset(DEFAULT_ROLE_ADDRESSES),
) -> ImportPlan:
    """The dry run: what each row will create, match or why it is rejected. Changes nothing."""
    rows = frame.copy()
    rows.index = pd.RangeIndex(len(rows))
    if "line" not in rows:  # a frame not read by `read_import_file`: line 1 is the header
        rows["line"] = rows.index + 2
    if "uncomputed_formula" not in rows:
        rows["uncomputed_formula"] = None
    keys = email_keys(rows["email"])
    rows["reason"] = _row_reasons(rows, keys)
    rows["email_key"] = keys
    rows["company_key"] = company_name_keys(rows["company"])
    rows["kind"] = rows["kind"].str.lower().replace("", "customer")

    existing_companies = pd.DataFrame(
        session.execute(select(Company.id, Company.name, Company.name_key).order_by(Company.id)).all(),
        columns=["id", "name", "name_key"],
    )
    existing_keys = existing_companies.drop_duplicates("name_key").set_index("name_key")["id"]
    rows["company_id"] = rows["company_key"].map(existing_keys)
    rows["company_action"] = rows["company_id"].notna().map({True: "match", False: "create"})

    existing_contacts = dict(
        session.execute(select(Contact.email_key, Contact.id).where(Contact.email_key.is_not(None))).all()
    )
    rows["contact_id"] = rows["email_key"].map(existing_contacts)
    has_email = rows["email_key"] != ""
    rows["contact_action"] = "none"
    rows.loc[has_email, "contact_action"] = (
        rows.loc[has_email, "contact_id"].notna().map({True: "match", False: "create"})
    )

    rejected = rows["reason"].notna()
    rows["status"] = "match"
    creates = (rows["contact_action"] == "create") | (
        (rows["contact_action"] == "none") & (rows["company_action"] == "create")
    )
    rows.loc[creates, "status"] = "create"
    rows.loc[rejected, "status"] = "reject"

    valid = rows[~rejected]
    warnings = (
        _role_addresses(valid, role_addresses)
        + _kind_conflicts(valid)
        + _moved_contacts(session, valid)
        + _near_duplicate_companies(valid, existing_companies)
    )
    new_tags, tag_warnings = _new_tags(session, valid)
    return ImportPlan(
        rows=rows,
        new_tags=new_tags,
        warnings=warnings + tag_warnings,
        ignored_columns=ignored_columns or [],
        source=source,
        crm_version=crm_version(session),
    )


def _role_addresses(valid: pd.DataFrame, role_addresses: frozenset[str]) -> list[ImportWarning]:
    """Contacts whose email is a role address: imported, but never list material (SPEC §3).

    They are CRM data like any contact — a pull keeps them too — so they are not refused; the
    eligibility rules grey them out in the grid and refuse them for a list.
    """
    roles = role_locals(valid["email"], role_addresses)
    flagged = valid.loc[roles.notna(), ["line", "email"]]
    return [
        ImportWarning(
            "role_address",
            f"line {line}: email {quoted(email)} is a role address ({role}@): it is imported as a contact "
            "but can never be put on an email list (Constant Contact does not mail role addresses)",
        )
        for line, email, role in zip(flagged["line"], flagged["email"], roles[flagged.index], strict=True)
    ]


def _kind_conflicts(valid: pd.DataFrame) -> list[ImportWarning]:
    new = valid[valid["company_action"] == "create"]
    kinds = new[["company_key", "kind"]].drop_duplicates()
    conflicted = sorted(set(kinds.loc[kinds["company_key"].duplicated(), "company_key"].tolist()))
    if not conflicted:
        return []
    first = new.drop_duplicates("company_key").set_index("company_key")
    return [
        ImportWarning(
            "kind_conflict",
            f"company {first.at[key, 'company']!r} is both customer and prospect in the file; "
            f"the first row (line {first.at[key, 'line']}) decides: {first.at[key, 'kind']}",
        )
        for key in conflicted
    ]


def _moved_contacts(session: Session, valid: pd.DataFrame) -> list[ImportWarning]:
    matched = valid[valid["contact_action"] == "match"]
    if matched.empty:
        return []
    homes = pd.DataFrame(
        session.execute(select(Contact.id, Company.name_key, Company.name).join(Company)).all(),
        columns=["contact_id", "home_key", "home_name"],
    ).set_index("contact_id")
    joined = matched.join(homes, on="contact_id")
    moved = joined[joined["home_key"] != joined["company_key"]]
    return [
        ImportWarning(
            "contact_elsewhere",
            f"line {row.line}: {row.email} is already a contact of {row.home_name!r}; "
            f"it stays there (the file says {row.company!r})",
        )
        for row in moved.itertuples()
    ]


def _near_duplicate_companies(valid: pd.DataFrame, existing: pd.DataFrame) -> list[ImportWarning]:
    """Companies the import would create that look like another one (see `near_duplicate_names`)."""
    new = valid[valid["company_action"] == "create"].drop_duplicates("company_key")
    pairs = near_duplicate_names(
        pd.DataFrame({"name": new["company"], "key": new["company_key"]}),
        pd.DataFrame({"name": existing["name"], "key": existing["name_key"]}),
    )
    return [
        ImportWarning(
            "possible_duplicate",
            f"new company {first!r} looks like {second!r} ("
            + ("also new in this file" if where == "also new" else where)
            + "); they are kept apart — merge them by hand if they are one",
        )
        for first, second, where in pairs
    ]


def _split_tags(cell: str) -> list[str]:
    return [tag.strip() for tag in cell.split(";") if tag.strip()]


def _new_tags(session: Session, valid: pd.DataFrame) -> tuple[list[str], list[ImportWarning]]:
    existing = {key: name for name, key in session.execute(select(MarketingTag.name, MarketingTag.name_key))}
    named: dict[str, str] = {}
    for cell in valid["tags"].unique():
        for tag in _split_tags(cell):
            named.setdefault(name_key(tag), tag)
    new = [tag for key, tag in named.items() if key not in existing]
    warnings = []
    for tag in new:
        match = process.extractOne(
            name_key(tag),
            list(existing),
            scorer=fuzz.ratio,
            score_cutoff=NEAR_DUPLICATE_SCORE,
        )
        if match:
            warnings.append(
                ImportWarning(
                    "new_tag_like_existing",
                    f"tag {tag!r} is new and will be created; did you mean {existing[match[0]]!r}?",
                )
            )
    return sorted(new, key=str.lower), warnings


# Commit


@dataclass
class ImportSummary:
    companies_created: int
    contacts_created: int
    companies_updated: int
    contacts_updated: int
    tags_created: int
    rows_rejected: int
    run_id: int

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return (
            f"<Imported into the CRM (run {self.run_id}): {self.companies_created:,} companies and "
            f"{self.contacts_created:,} contacts created, {self.companies_updated + self.contacts_updated:,} "
            f"filled in, {self.tags_created:,} tags created, {self.rows_rejected:,} row(s) skipped>"
        )

    def _repr_html_(self) -> str:
        return display.card(
            display.heading(f"Imported into the CRM (run {self.run_id})"),
            display.counts_table(
                [
                    ("companies created", self.companies_created),
                    ("contacts created", self.contacts_created),
                    ("companies filled in", self.companies_updated),
                    ("contacts filled in", self.contacts_updated),
                    ("marketing tags created", self.tags_created),
                    ("rows skipped", self.rows_rejected),
                ],
                ("", "count"),
            ),
        )


# SQLite's page cache while an import writes. Its default (2 MiB) holds a fraction of the index
# pages 100,000 contacts land on, all over each index: they are evicted and read back again and
# again, a sixth of the insert's work. The memory is taken only as pages are used.
IMPORT_PAGE_CACHE_KIB = 64 * 1024


@contextmanager
def _page_cache_for_writes(session: Session) -> Iterator[None]:
    """On SQLite, the connection's page cache at least IMPORT_PAGE_CACHE_KIB for the block, then as
    it was (the setting belongs to the pooled connection, not to this import)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    driver: Any = connection.connection.driver_connection
    (pages,) = driver.execute("PRAGMA cache_size").fetchone()
    (page_size,) = driver.execute("PRAGMA page_size").fetchone()
    # A negative cache size is in KiB, a positive one in pages.
    if (-pages if pages < 0 else pages * page_size // 1024) >= IMPORT_PAGE_CACHE_KIB:
        yield
        return
    driver.execute(f"PRAGMA cache_size = {-IMPORT_PAGE_CACHE_KIB}")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA cache_size = {int(pages)}")


@_collector_paused()
def commit_crm_import(
    session: Session,
    plan: ImportPlan,
    *,
    skip_invalid: bool = False,
    progress: ProgressCallback | None = None,
    batch_size: int = 10_000,
) -> ImportSummary:
    """Applies the plan in the caller's transaction; any error leaves the database unchanged."""
    report = progress or (lambda _fraction, _message: None)
    if plan.crm_version is not None and crm_version(session) != plan.crm_version:
        raise ImportStale(
            f"the CRM changed since {plan.source or 'this file'} was planned (an import, a sync or an edit — "
            "or this plan was committed already): nothing was imported; plan the file again"
        )
    rejected = len(plan.rejected)
    if rejected and not skip_invalid:
        raise ImportRejected(
            f"{rejected} row(s) rejected (first: line {plan.rejected['line'].iloc[0]}: "
            f"{plan.rejected['reason'].iloc[0]}); nothing was imported. Fix the file, or import the "
            "valid rows only with --skip-invalid"
        )
    with _page_cache_for_writes(session):
        valid = plan.rows[plan.rows["status"] != "reject"]
        now = utcnow()
        # The CRM's writes; the run's record after them is no change to the CRM.
        with crm_revision_bumped_once(session.connection()):
            tag_ids = _create_tags(session, plan.new_tags, now)
            report(0.05, "tags created")
            company_ids, companies_created = _create_companies(session, valid, now)
            report(0.2, f"{companies_created:,} companies created")
            companies_updated = _fill_company_emails(session, valid, company_ids)
            _assign_tags(session, valid, company_ids, tag_ids)
            report(0.3, "tags assigned")

            new_contacts = valid[valid["contact_action"] == "create"]
            columns = _contact_columns(new_contacts, company_ids)
            created = len(new_contacts)
            for start in range(0, created, batch_size):
                batch = {name: values[start : start + batch_size] for name, values in columns.items()}
                insert_rows(session.connection(), CONTACTS, batch, {"email_status": "active", **_imported(now)})
                done = min(start + batch_size, created)
                report(0.3 + 0.65 * done / max(created, 1), f"{done:,} of {created:,} contacts created")
            contacts_updated = _fill_contact_fields(session, valid[valid["contact_action"] == "match"])

        summary = dict(
            companies_created=companies_created,
            contacts_created=created,
            companies_updated=companies_updated,
            contacts_updated=contacts_updated,
            tags_created=len(plan.new_tags),
            rows_rejected=rejected,
        )
        run = SyncRun(
            direction="crm_import",
            status="completed",
            started_at=now,
            finished_at=utcnow(),
            counts=summary,
        )
        run.plan = {
            "source": plan.source,
            "counts": plan.counts(),
            "warnings": [w.message for w in plan.warnings],
        }
        session.add(run)
        session.flush()
        report(1.0, "import committed")
        return ImportSummary(**summary, run_id=run.id)


def _imported(now: dt.datetime) -> dict[str, Any]:
    """The columns every row an import creates has alike."""
    return {"created_by_import": True, "created_at": now, "updated_at": now}


def _create_tags(session: Session, new_tags: list[str], now: Any) -> dict[str, int]:
    if new_tags:
        session.connection().execute(
            insert(MarketingTag),
            [{"name": tag, "name_key": name_key(tag), "created_at": now} for tag in new_tags],
        )
    return {key: tag_id for tag_id, key in session.connection().execute(select(MarketingTag.id, MarketingTag.name_key))}


def _create_companies(session: Session, valid: pd.DataFrame, now: dt.datetime) -> tuple[dict[str, int], int]:
    matched = valid.loc[valid["company_id"].notna(), ["company_key", "company_id"]].drop_duplicates("company_key")
    ids: dict[str, int] = dict(
        zip(matched["company_key"].tolist(), matched["company_id"].astype("int64").tolist(), strict=True)
    )
    new = valid[valid["company_action"] == "create"].drop_duplicates("company_key")
    if new.empty:
        return ids, 0
    emails = new["company_email"].tolist()
    insert_rows(
        session.connection(),
        COMPANIES,
        {
            "name": new["company"].tolist(),
            "name_key": new["company_key"].tolist(),
            "kind": new["kind"].tolist(),
            "email": [email or None for email in emails],
            "email_key": [email_key(email) for email in emails],
        },
        _imported(now),
    )
    # The new keys matched no company before the insert, so each now names exactly one; one
    # read of the ids beats RETURNING per row batch by far.
    new_keys = set(new["company_key"].tolist())
    rows = session.connection().execute(select(Company.name_key, Company.id)).all()
    ids.update({key: company_id for key, company_id in rows if key in new_keys})
    return ids, len(new)


def _fill_company_emails(session: Session, valid: pd.DataFrame, company_ids: dict[str, int]) -> int:
    """A matched company gets the file's general email only where it has none (nothing is lost)."""
    matched = valid[(valid["company_action"] == "match") & (valid["company_email"] != "")]
    if matched.empty:
        return 0
    without_email = set(session.scalars(select(Company.id).where(Company.email.is_(None))))
    updates = [
        {"id": company_ids[key], "email": email, "email_key": email_key(email)}
        for key, email in matched.drop_duplicates("company_key")[["company_key", "company_email"]].itertuples(
            index=False
        )
        if company_ids[key] in without_email
    ]
    if updates:
        session.execute(update(Company), updates)
    return len(updates)


def _assign_tags(
    session: Session,
    valid: pd.DataFrame,
    company_ids: dict[str, int],
    tag_ids: dict[str, int],
) -> None:
    tagged = valid[valid["tags"] != ""]
    if tagged.empty:
        return
    # A file holds few distinct tag cells: each is split once, into its tags, and joined whole
    # to the companies that have it.
    cell_codes, cells = tagged["tags"].factorize()
    company_cells = pd.DataFrame(
        {"company_id": _ids_of(tagged["company_key"], company_ids), "cell": cell_codes}
    ).drop_duplicates()
    cell_tags = pd.DataFrame(
        [(code, tag_ids[name_key(tag)]) for code, cell in enumerate(cells.tolist()) for tag in _split_tags(cell)],
        columns=["cell", "tag_id"],
        dtype="int64",
    )
    pairs = company_cells.merge(cell_tags, on="cell")[["company_id", "tag_id"]].drop_duplicates()
    existing = pd.DataFrame(
        session.connection().execute(select(company_tags.c.company_id, company_tags.c.tag_id)).all(),
        columns=["company_id", "tag_id"],
        dtype="int64",
    )
    if not existing.empty:
        pairs = pairs.merge(existing, how="left", indicator=True).query("_merge == 'left_only'")
    new_pairs = pairs.sort_values(["company_id", "tag_id"])
    insert_rows(
        session.connection(),
        company_tags,
        {"company_id": new_pairs["company_id"].tolist(), "tag_id": new_pairs["tag_id"].tolist()},
        {},
    )


def _ids_of(keys: pd.Series, ids: dict[str, int]) -> np.ndarray:
    """Each row's id by its key, looked up once per distinct key (a company has many contacts)."""
    codes, distinct = keys.factorize(use_na_sentinel=False)
    return np.array([ids[key] for key in distinct.tolist()], dtype=np.int64)[codes]


def _contact_columns(new_contacts: pd.DataFrame, company_ids: dict[str, int]) -> dict[str, list[Any]]:
    """The contacts to create, column by column; an empty name or title is stored as none."""

    def or_none(name: str) -> list[str | None]:
        # Names and titles repeat: each distinct one is looked at once.
        codes, distinct = new_contacts[name].factorize(use_na_sentinel=False)
        stored = np.array([value or None for value in distinct.tolist()], dtype=object)
        return stored[codes].tolist()

    return {
        "company_id": _ids_of(new_contacts["company_key"], company_ids).tolist(),
        "first_name": or_none("first_name"),
        "last_name": or_none("last_name"),
        "email": new_contacts["email"].tolist(),
        "email_key": new_contacts["email_key"].tolist(),
        "job_title": or_none("job_title"),
    }


def _fill_contact_fields(session: Session, matched: pd.DataFrame) -> int:
    """Matched contacts get names and job title from the file only where theirs are empty."""
    if matched.empty:
        return 0
    fields = ["first_name", "last_name", "job_title"]
    current = pd.DataFrame(
        session.execute(select(Contact.id, *(getattr(Contact, f) for f in fields))).all(),
        columns=["contact_id", *fields],
    )
    file_values = matched[["contact_id", *fields]].astype({"contact_id": int})
    joined = file_values.merge(current, on="contact_id", suffixes=("", "_local"))
    fills = pd.DataFrame({"id": joined["contact_id"]})
    for name in fields:
        fill = (joined[name] != "") & joined[f"{name}_local"].isna()
        fills[name] = joined[name].where(fill, None)
    fills = fills[fills[fields].notna().any(axis=1)]
    updates = [
        {key: value for key, value in record.items() if value is not None}
        for record in fills.astype(object).where(fills.notna(), None).to_dict("records")
    ]
    if updates:
        session.execute(update(Contact), updates)
    return len(updates)
