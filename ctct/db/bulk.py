"""Bulk inserts straight through the database driver: COPY on PostgreSQL, multi-row INSERT
statements on SQLite — for the CSV import and the mirror of CTCT, where SQLAlchemy's per-row
work would cost more than the database's own."""

from __future__ import annotations

from itertools import chain
from typing import Any

from sqlalchemy import Connection, Table


def insert_rows(
    connection: Connection, table: Table, columns: dict[str, list[Any]], constants: dict[str, Any] | None = None
) -> None:
    """Inserts rows given column by column (`columns`: a list per column; `constants`: one value
    for every row) in the connection's transaction.

    Each value is converted as SQLAlchemy converts it for its column type (a timestamp on SQLite
    is text), and the rows go to the driver as plain tuples (insert_tuples). Core's `insert()`
    builds and converts a dict per row, which costs more than the database's own work.
    """
    constants = constants or {}
    count = len(next(iter(columns.values())))
    if count == 0:
        return
    dialect = connection.dialect
    values: list[list[Any]] = []
    for name, given in [*columns.items(), *constants.items()]:
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if name in constants:
            values.append([given if processor is None else processor(given)] * count)
        else:
            values.append(given if processor is None else [processor(value) for value in given])
    insert_tuples(connection, table.name, [*columns, *constants], list(zip(*values, strict=True)))


def insert_tuples(connection: Connection, table: str, names: list[str], rows: list[tuple[Any, ...]]) -> None:
    """`rows` (driver-ready values, in the order of `names`) straight through the driver: COPY on
    PostgreSQL, multi-row INSERT statements on SQLite."""
    if not rows:
        return
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    if connection.dialect.name == "postgresql":
        driver_connection: Any = connection.connection.driver_connection
        with driver_connection.cursor() as cursor, cursor.copy(f"COPY {quote(table)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        _insert_sqlite_rows(connection, f"INSERT INTO {quote(table)} ({columns}) VALUES ", rows)


# Any SQLite build takes 999 parameters in one statement (newer ones 32,766).
SQLITE_MAX_PARAMETERS = 999


def _insert_sqlite_rows(connection: Connection, insert_into: str, rows: list[tuple[Any, ...]]) -> None:
    """`rows` in multi-row INSERT statements of as many rows as the parameters allow.

    One statement per row costs SQLite its per-statement setup each time — with a row trigger on
    the table (the CRM revision's), that setup is most of the insert's cost.
    """
    width = len(rows[0])
    per_statement = max(SQLITE_MAX_PARAMETERS // width, 1)
    row_markers = "(" + ", ".join("?" * width) + ")"
    whole = len(rows) - len(rows) % per_statement
    if whole:
        connection.exec_driver_sql(
            insert_into + ", ".join([row_markers] * per_statement),
            [
                tuple(chain.from_iterable(rows[start : start + per_statement]))
                for start in range(0, whole, per_statement)
            ],
        )
    if whole < len(rows):
        rest = rows[whole:]
        connection.exec_driver_sql(insert_into + ", ".join([row_markers] * len(rest)), tuple(chain.from_iterable(rest)))
