"""Bulk writes: inserts straight through the database driver — COPY on PostgreSQL, multi-row
INSERT statements on SQLite — for the CSV import and the mirror of CTCT, where SQLAlchemy's
per-row work would cost more than the database's own; and the CRM revision bumped once for a bulk
write of the CRM's tables rather than per row (SQLite)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table


def insert_rows(
    connection: Connection, table: Table, columns: dict[str, list[Any]], constants: dict[str, Any] | None = None
) -> None:
    """Inserts rows given column by column (`columns`: a list per column; `constants`: one value
    for every row) in the connection's transaction.

    Each value is converted as SQLAlchemy converts it for its column type (a timestamp on SQLite
    is text), and the rows go to the driver as plain values (see insert_tuples). Core's `insert()`
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
    names = [*columns, *constants]
    if connection.dialect.name == "postgresql":
        insert_tuples(connection, table.name, names, list(zip(*values, strict=True)))
    else:
        _insert_sqlite_columns(connection, _insert_into(connection, table.name, names), values)


def insert_tuples(connection: Connection, table: str, names: list[str], rows: list[tuple[Any, ...]]) -> None:
    """`rows` (driver-ready values, in the order of `names`) straight through the driver: COPY on
    PostgreSQL, multi-row INSERT statements on SQLite."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        quote = connection.dialect.identifier_preparer.quote
        columns = ", ".join(quote(name) for name in names)
        driver_connection: Any = connection.connection.driver_connection
        with driver_connection.cursor() as cursor, cursor.copy(f"COPY {quote(table)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        _insert_sqlite_columns(connection, _insert_into(connection, table, names), list(zip(*rows, strict=True)))


def _insert_into(connection: Connection, table: str, names: list[str]) -> str:
    quote = connection.dialect.identifier_preparer.quote
    return f"INSERT INTO {quote(table)} ({', '.join(quote(name) for name in names)}) VALUES "


# Any SQLite build takes 999 parameters in one statement (newer ones 32,766).
SQLITE_MAX_PARAMETERS = 999


def _insert_sqlite_columns(connection: Connection, insert_into: str, columns: Sequence[Sequence[Any]]) -> None:
    """The rows given column by column (each as long as the others), in multi-row INSERT
    statements of as many rows as the parameters allow.

    One statement per row costs SQLite its per-statement setup each time — with a row trigger on
    the table (the CRM revision's), that setup is most of the insert's cost. Each statement's
    parameters are cut from one list of every value row after row, filled a column at a time: no
    tuple is built per row, which the garbage collector would scan again and again.
    """
    width, count = len(columns), len(columns[0])
    values: list[Any] = [None] * (width * count)
    for position, column in enumerate(columns):
        values[position::width] = column
    per_statement = max(SQLITE_MAX_PARAMETERS // width, 1)
    row_markers = "(" + ", ".join("?" * width) + ")"
    whole = count - count % per_statement
    step = per_statement * width
    if whole:
        connection.exec_driver_sql(
            insert_into + ", ".join([row_markers] * per_statement),
            [tuple(values[start : start + step]) for start in range(0, whole * width, step)],
        )
    if whole < count:
        connection.exec_driver_sql(
            insert_into + ", ".join([row_markers] * (count - whole)), tuple(values[whole * width :])
        )


_BUMP_CRM_REVISION = (
    "INSERT INTO crm_revision (id, revision) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET revision = crm_revision.revision + 1"
)


@contextmanager
def crm_revision_bumped_once(connection: Connection) -> Iterator[None]:
    """On SQLite, the CRM revision bumped once for the block's writes instead of by the row
    triggers once per row: the transaction marks itself in `crm_revision_bulk_write`, so that the
    triggers skip (migration 0008), and drops them for the block — a trigger that skips is still
    run for every row, a tenth of a 100,000-contact import. On leaving — also on an error, so that
    nothing it wrote, nor anything after it, goes unbumped — it makes the triggers again as they
    were, removes the mark and bumps the revision if the block changed any row. A block that wrote
    nothing leaves the revision alone, as the triggers would (open previews stay fresh).

    Neither the mark nor the dropped triggers are ever committed: SQLite changes its schema in the
    transaction, no other connection can write while this one does, and a crash rolls it all back.
    PostgreSQL bumps once per transaction by itself. Rows the block writes that are not the CRM's
    (a run's record) would bump it too: keep them out."""
    if connection.dialect.name != "sqlite":
        yield
        return
    # Written first: it opens the transaction, which the sqlite3 module does not open for DDL
    # (with the triggers dropped, that is all the mark still does).
    connection.exec_driver_sql("INSERT INTO crm_revision_bulk_write (id) VALUES (1)")
    triggers = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%crm_revision_bulk_write%' "
        "ORDER BY name"
    ).all()
    quote = connection.dialect.identifier_preparer.quote
    for name, _ in triggers:
        connection.exec_driver_sql(f"DROP TRIGGER {quote(name)}")
    before = _rows_changed(connection)
    try:
        yield
    finally:
        # A full disk or an I/O error makes SQLite roll the transaction back by itself: the triggers
        # and the mark are back as committed and nothing was written, so there is nothing to restore
        # (making the triggers again would fail and hide the error that ended the block).
        if _in_transaction(connection):
            wrote = _rows_changed(connection) > before
            for _, definition in triggers:
                connection.exec_driver_sql(definition)
            connection.exec_driver_sql("DELETE FROM crm_revision_bulk_write")
            if wrote:
                connection.exec_driver_sql(_BUMP_CRM_REVISION)


def _in_transaction(connection: Connection) -> bool:
    """Whether SQLite itself still has this connection's transaction open."""
    driver = connection.connection.driver_connection
    return driver is not None and bool(driver.in_transaction)


def _rows_changed(connection: Connection) -> int:
    """Rows this SQLite connection has inserted, updated or deleted since it opened."""
    return int(connection.exec_driver_sql("SELECT total_changes()").scalar_one())
