"""The one writer of every CSV the console and the CLI produce: formula-safe (SPEC §11).

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (tab and carriage return
lead to the same through some importers). Values arrive from CTCT, where anyone types their own name
into a sign-up form, so every text cell that starts like that is written with a leading `'`
(OWASP's rule for CSV injection): the spreadsheet shows the text, and runs nothing.
"""

from __future__ import annotations

from typing import Any, TextIO

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def formula_mask(values: pd.Series) -> pd.Series:
    """Which cells of a column look like formulas (vectorized: a million-row import checks in one go)."""
    text = values.astype(object)
    is_text = text.map(type).eq(str)
    return is_text & text.where(is_text, "").astype(str).str.startswith(FORMULA_STARTS)


def formula_safe(value: Any) -> Any:
    """The value as a cell may hold it: text that starts like a formula gets a leading `'`."""
    return "'" + value if looks_like_formula(value) else value


def formula_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell — and every column name — made formula-safe; numbers stay numbers."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(formula_safe)
    safe.columns = [formula_safe(str(column)) for column in safe.columns]
    return safe


def write_csv(frame: pd.DataFrame, handle: TextIO) -> None:
    formula_safe_frame(frame).to_csv(handle, index=False)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return formula_safe_frame(frame).to_csv(index=False).encode()
