"""Contact exports: CTCT writes contacts to a CSV file in an activity; the file is read into Arrow.

`POST /activities/contact_exports` takes which contacts (all, up to 500 ids, or the members of up to
50 lists, optionally by status) and which fields; once the activity completed, its
`_links.results.href` names the file (`GET /contact_exports/{id}`, text/csv). See
docs/ctct-contact-exports.md for what CTCT documents and what it leaves open.
"""

# No `from __future__ import annotations`: a TypedDict tells its Required keys from the evaluated annotations.
import io
from collections.abc import Sequence
from typing import Literal, NotRequired, TypedDict

import pyarrow as pa
import pyarrow.csv as pa_csv

from ctct.api.activities import Activities, Activity, BulkResult, ProgressCallback
from ctct.api.errors import CtctError

EXPORT_KIND = "contact_exports"
MAX_EXPORT_CONTACT_IDS = 500
MAX_EXPORT_LISTS = 50

# The developer guide's status values: `removed` are the deleted contacts.
ExportStatus = Literal["active", "unsubscribed", "removed"]


class ExportBody(TypedDict, total=False):
    """Which contacts (rows) and which fields (columns); rows filters exclude one another except
    `status` with `contact_ids` or `list_ids`."""

    contact_ids: list[str]
    list_ids: list[str]
    status: ExportStatus
    fields: list[str]


class Href(TypedDict):
    href: str


class ExportLinks(TypedDict):
    self: Href
    # Once the export completed: where its file is.
    results: NotRequired[Href]


class ExportActivity(Activity):
    _links: NotRequired[ExportLinks]


class ExportFileMissing(CtctError):
    """A completed export whose answer names no file."""


def column_name(header: str) -> str:
    """A header cell as a field name: `Email Address` and `email_address` read the same (and a
    spreadsheet's byte-order mark before the first is dropped)."""
    return "_".join(header.lstrip("\ufeff").strip().lower().split())


class Exports(Activities):
    """`client.exports`: export activities, submitted and watched like the other bulk activities."""

    def start(self, body: ExportBody) -> ExportActivity:
        activity: ExportActivity = self.submit(EXPORT_KIND, body)  # type: ignore[assignment]
        return activity

    def run(self, bodies: Sequence[ExportBody], progress: ProgressCallback | None = None) -> BulkResult[ExportBody]:
        """Every export submitted together and watched to its end (polled in batches)."""
        return self._run(EXPORT_KIND, list(bodies), progress)

    def read(self, activity: ExportActivity) -> pa.Table:
        """The file of a completed export, every column as (nullable) text, headers as field names.

        Parsed by Arrow's multi-threaded CSV reader: quoted commas, quotes and line breaks inside a
        value, and any UTF-8, without a Python object per cell."""
        results = activity.get("_links", {}).get("results")
        if results is None:
            raise ExportFileMissing(f"export {activity['activity_id']} completed without a results link")
        response = self.client.request("GET", results["href"])
        data = response.content
        header = pa_csv.read_csv(
            io.BytesIO(data.split(b"\n", 1)[0]), read_options=pa_csv.ReadOptions(autogenerate_column_names=True)
        )
        names = [column_name(str(value[0])) for value in header.to_pydict().values()] if header.num_rows else []
        if not names:
            return pa.table({})
        return pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True, null_values=[""]
            ),
        )
