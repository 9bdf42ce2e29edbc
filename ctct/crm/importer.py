"""CRM import from CSV or Excel: a dry run that says what each row will do, then one commit.

Columns (header names are case-insensitive; spaces, dashes and underscores are alike):
company, kind, company email, first name, last name, email, job title, tags (separated by `;`).
`company` and `email` are required columns; a row without an email only creates or matches its
company. A row is rejected with the reason when any of its values is bad; by default a file with
rejected rows is not imported at all (`skip_invalid` imports the good rows and reports the rest).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rapidfuzz import fuzz, process
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from ctct import display
from ctct.config import DEFAULT_ROLE_ADDRESSES
from ctct.crm.contact_frame import crm_version
from ctct.crm.matching import NEAR_DUPLICATE_SCORE, near_duplicate_names
from ctct.crm.normalize import (
    MAX_COMPANY_NAME_LENGTH,
    MAX_EMAIL_LENGTH,
    MAX_PERSON_FIELD_LENGTH,
    MAX_TAG_NAME_LENGTH,
    company_name_key,
    email_syntax_errors,
    name_key,
)
from ctct.db.models import Company, Contact, MarketingTag, SyncRun, company_tags, utcnow
from ctct.errors import ConsoleError
from ctct.safe_csv import formula_mask

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
TEXT_LIMITS = {
    "company": MAX_COMPANY_NAME_LENGTH,
    "kind": 20,
    "company email": MAX_EMAIL_LENGTH,
    "first name": MAX_PERSON_FIELD_LENGTH,
    "last name": MAX_PERSON_FIELD_LENGTH,
    "email": MAX_EMAIL_LENGTH,
    "job title": MAX_PERSON_FIELD_LENGTH,
    "tags": 2000,
}
MAX_FILE_ROWS = 1_000_000

ProgressCallback = Callable[[float, str], None]


class ImportFileError(ConsoleError):
    """The file as a whole cannot be read: encoding, format or columns."""


class ImportStale(ConsoleError):
    """Commit refused because the CRM changed after the plan was made."""


class ImportRejected(ConsoleError):
    """Commit refused because rows were rejected and `skip_invalid` was not given."""


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


def read_import_file(path: Path | str, content: bytes | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The file's data rows as strings under the canonical column names, and the ignored headers."""
    path = Path(path)
    data = path.read_bytes() if content is None else content
    frame = _read_excel(data) if path.suffix.lower() in {".xlsx", ".xlsm"} else _read_csv(data)
    originals = [str(column) for column in frame.columns]
    headers = [_canonical_header(column) for column in originals]
    duplicated = sorted({h for h in headers if headers.count(h) > 1 and h in COLUMNS})
    if duplicated:
        raise ImportFileError(f"column {duplicated[0]!r} appears more than once in the header")
    frame.columns = headers
    missing = [column for column in REQUIRED_COLUMNS if column not in headers]
    if missing:
        found = ", ".join(repr(h) for h in headers) or "none"
        raise ImportFileError(
            f"missing required column(s): {', '.join(missing)} (found {found}; expected {', '.join(COLUMNS)})"
        )
    ignored = [original for original, h in zip(originals, headers, strict=True) if h not in COLUMNS]
    frame = frame[[column for column in COLUMNS if column in headers]].copy()
    for column in COLUMNS:
        if column not in frame:
            frame[column] = ""
    if len(frame) > MAX_FILE_ROWS:
        raise ImportFileError(f"the file has {len(frame):,} rows; split it into files of at most {MAX_FILE_ROWS:,}")
    frame = frame.fillna("").astype(str).apply(lambda column: column.str.strip())
    return frame[list(COLUMNS)].rename(columns=FIELD_OF), ignored


def _read_csv(data: bytes) -> pd.DataFrame:
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
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise ImportFileError(f"the file is not well-formed CSV: line {reader.line_num}: {error}") from None
    header, data = rows[0], rows[1:]
    if not data:
        raise ImportFileError("the file has a header but no data rows")
    widths = pd.Series([len(row) for row in data], dtype="int64")
    ragged = widths[widths != len(header)]
    if not ragged.empty:
        first = int(ragged.index[0])
        raise ImportFileError(
            f"the file is not well-formed CSV: line {first + 2} has {int(ragged.iloc[0])} cells "
            f"but the header has {len(header)} ({len(ragged)} such row(s)); check quotes and delimiters"
        )
    return pd.DataFrame(data, columns=header, dtype=object)


def _read_excel(data: bytes) -> pd.DataFrame:
    try:
        return pd.read_excel(io.BytesIO(data), dtype=str, keep_default_na=False, engine="openpyxl")
    except Exception as error:  # openpyxl raises many unrelated types for a damaged workbook
        raise ImportFileError(f"the Excel file cannot be read: {error}") from None


# Validation


_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\n\r\t]"


def _add_reason(reasons: pd.Series, mask: pd.Series, reason: pd.Series | str) -> None:
    """Adds `reason` to the rows where `mask` holds, after any reason they already have."""
    if not mask.any():
        return
    texts = reason[mask].astype(str).tolist() if isinstance(reason, pd.Series) else [reason] * int(mask.sum())
    # Bad rows are few: joining their reasons row by row costs nothing.
    reasons[mask] = [
        text if earlier is None else f"{earlier}; {text}" for earlier, text in zip(reasons[mask], texts, strict=True)
    ]


def _row_reasons(frame: pd.DataFrame, role_addresses: frozenset[str]) -> pd.Series:
    reasons = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    _add_reason(reasons, frame["company"] == "", "company is required")
    for column, limit in TEXT_LIMITS.items():
        values = frame[FIELD_OF[column]]
        lengths = values.str.len()
        _add_reason(
            reasons,
            lengths > limit,
            column + " is longer than " + str(limit) + " characters",
        )
        _add_reason(
            reasons,
            values.str.contains(_CONTROL, regex=True),
            f"{column} contains control characters",
        )
        _add_reason(
            reasons,
            formula_mask(values),
            f"{column} looks like a spreadsheet formula (starts with =, +, - or @)",
        )
    kinds = frame["kind"].str.lower()
    _add_reason(
        reasons,
        ~kinds.isin(["", "customer", "prospect"]),
        "kind must be 'customer' or 'prospect'",
    )

    for column in ("company email", "email"):
        present = frame[FIELD_OF[column]] != ""
        syntax = email_syntax_errors(frame[FIELD_OF[column]].where(present, None))
        _add_reason(
            reasons,
            present & syntax.notna(),
            column + " is not valid: " + syntax.fillna(""),
        )

    keys = frame["email"].str.lower()
    local = keys.str.rpartition("@")[0].str.split("+", n=1).str[0]
    is_role = (keys != "") & (
        local.isin(role_addresses) | local.str.replace(r"[-_.]", "", regex=True).isin(role_addresses)
    )
    _add_reason(
        reasons,
        is_role,
        "email " + frame["email"] + " is a role address: put it in 'company email' (contacts must be people)",
    )

    tag_lists = frame["tags"].str.split(";")
    bad_tag = tag_lists.map(lambda tags: any(len(tag.strip()) > MAX_TAG_NAME_LENGTH for tag in tags))
    _add_reason(reasons, bad_tag, f"a tag is longer than {MAX_TAG_NAME_LENGTH} characters")

    first_line = frame["line"].groupby(keys).transform("first")
    duplicate = (keys != "") & keys.duplicated(keep="first")
    _add_reason(reasons, duplicate, "duplicate email: same as line " + first_line.astype(str))
    return reasons


# Planning


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
    rows["line"] = rows.index + 2  # line 1 is the header
    rows["reason"] = _row_reasons(rows, role_addresses)
    rows["email_key"] = rows["email"].str.lower()
    company_keys = {name: company_name_key(name) for name in rows["company"].unique()}
    rows["company_key"] = rows["company"].map(company_keys)
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
        _kind_conflicts(valid) + _moved_contacts(session, valid) + _near_duplicate_companies(valid, existing_companies)
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


def _kind_conflicts(valid: pd.DataFrame) -> list[ImportWarning]:
    new = valid[valid["company_action"] == "create"]
    kinds = new.groupby("company_key")["kind"].nunique()
    conflicted = kinds[kinds > 1].index
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
    valid = plan.rows[plan.rows["status"] != "reject"]
    now = utcnow()

    tag_ids = _create_tags(session, plan.new_tags, now)
    report(0.05, "tags created")
    company_ids, companies_created = _create_companies(session, valid, now)
    report(0.2, f"{companies_created:,} companies created")
    companies_updated = _fill_company_emails(session, valid, company_ids)
    _assign_tags(session, valid, company_ids, tag_ids)
    report(0.3, "tags assigned")

    new_contacts = valid[valid["contact_action"] == "create"]
    records = _contact_records(new_contacts, company_ids, now)
    for start in range(0, len(records), batch_size):
        session.connection().execute(insert(Contact.__table__), records[start : start + batch_size])
        done = min(start + batch_size, len(records))
        report(
            0.3 + 0.65 * done / max(len(records), 1),
            f"{done:,} of {len(records):,} contacts created",
        )
    contacts_updated = _fill_contact_fields(session, valid[valid["contact_action"] == "match"])

    summary = dict(
        companies_created=companies_created,
        contacts_created=len(records),
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


def _create_tags(session: Session, new_tags: list[str], now: Any) -> dict[str, int]:
    if new_tags:
        session.connection().execute(
            insert(MarketingTag.__table__),
            [{"name": tag, "name_key": name_key(tag), "created_at": now} for tag in new_tags],
        )
    return {key: tag_id for tag_id, key in session.execute(select(MarketingTag.id, MarketingTag.name_key))}


def _create_companies(session: Session, valid: pd.DataFrame, now: Any) -> tuple[dict[str, int], int]:
    ids: dict[str, int] = {
        key: int(company_id)
        for key, company_id in valid.loc[valid["company_id"].notna(), ["company_key", "company_id"]].itertuples(
            index=False
        )
    }
    new = valid[valid["company_action"] == "create"].drop_duplicates("company_key")
    if new.empty:
        return ids, 0
    records = [
        {
            "name": row.company,
            "name_key": row.company_key,
            "kind": row.kind,
            "email": row.company_email or None,
            "email_key": row.company_email.lower() or None,
            "created_by_import": True,
            "created_at": now,
            "updated_at": now,
        }
        for row in new[["company", "company_key", "kind", "company_email"]].itertuples(index=False)
    ]
    connection = session.connection()
    connection.execute(insert(Company.__table__), records)
    # The new keys matched no company before the insert, so each now names exactly one; one
    # read of the ids beats RETURNING per row batch by far.
    new_keys = set(new["company_key"])
    ids.update({key: cid for key, cid in connection.execute(select(Company.name_key, Company.id)) if key in new_keys})
    return ids, len(records)


def _fill_company_emails(session: Session, valid: pd.DataFrame, company_ids: dict[str, int]) -> int:
    """A matched company gets the file's general email only where it has none (nothing is lost)."""
    matched = valid[(valid["company_action"] == "match") & (valid["company_email"] != "")]
    if matched.empty:
        return 0
    without_email = set(session.scalars(select(Company.id).where(Company.email.is_(None))))
    updates = [
        {"id": company_ids[key], "email": email, "email_key": email.lower()}
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
    tagged = valid.loc[valid["tags"] != "", ["company_key", "tags"]].drop_duplicates()
    if tagged.empty:
        return
    pairs = {
        (company_ids[key], tag_ids[name_key(tag)])
        for key, cell in tagged.itertuples(index=False)
        for tag in _split_tags(cell)
    }
    existing = set(session.execute(select(company_tags.c.company_id, company_tags.c.tag_id)).all())
    new_pairs = sorted(pairs - existing)
    if new_pairs:
        session.connection().execute(insert(company_tags), [{"company_id": c, "tag_id": t} for c, t in new_pairs])


def _contact_records(new_contacts: pd.DataFrame, company_ids: dict[str, int], now: Any) -> list[dict[str, Any]]:
    company_id = new_contacts["company_key"].map(company_ids).tolist()
    columns = [new_contacts[name].tolist() for name in ("first_name", "last_name", "email", "email_key", "job_title")]
    return [
        {
            "company_id": int(cid),
            "first_name": first or None,
            "last_name": last or None,
            "email": email,
            "email_key": key,
            "job_title": title or None,
            "email_status": "active",
            "created_by_import": True,
            "created_at": now,
            "updated_at": now,
        }
        for cid, first, last, email, key, title in zip(company_id, *columns, strict=True)
    ]


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
